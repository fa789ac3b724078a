//! The end-of-test summary: its data model ([`model`], the JSON of
//! docs/FORMAT.md) and how it is built once, complete ([`build`]), its rates
//! over the time the load ran (`span`).

mod build;
mod model;
mod script;
mod span;

pub use build::Ending;
pub use model::{
    CheckFigures, Figures, GaugeFigures, LATE_AFTER_MS, Latency, MetricFigures, PhaseFigures,
    PhaseTimings, RegionWorkers, SUMMARY_FORMAT, Second, Spread, Summary, ThresholdResult, Workers,
};
