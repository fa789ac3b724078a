//! Reads an sls-load run back from its stored objects and reports it: the exact
//! merge of the workers' HdrHistogram interval logs, the per-second series, the
//! summary and its verdicts, a drill's analysis, the comparison of two runs, the
//! terminal text and the file exports.
//!
//! # Brief overview
//! Data flows one way: [`store::Store`] objects → [`collect::Collected`] (the
//! live merged state, read once per object) → [`summary::Summary`] → render and
//! exports.
//! - [`store`]: the trait collect reads through (the orchestrator's is S3).
//! - [`collect`]: a run read back incrementally; `merge` (private; its
//!   [`Merged`] state and [`Stats`] are named here): decode and add histograms
//!   exactly; [`series`]: per-second points and closed seconds.
//! - [`summary`]: the summary, built once and complete ([`Summary::build`] with
//!   the run's [`Ending`]); [`judge`]: every threshold's verdict on the live
//!   state, and `abortOnFail` while the run goes.
//! - [`drill`]: a failover drill's events as they ran and their analysis.
//! - [`compare`]: two runs' summaries judged against tolerances.
//! - [`render`] and [`readable`]: the terminal text; [`export`]: the file
//!   formats (HTML, JUnit, k6's summary) behind one exporter trait.
//!
//! It does no network IO of its own and depends on no AWS crate and no server:
//! the orchestrator hands it a store.

#![warn(missing_docs)]

pub mod collect;
pub mod compare;
pub mod drill;
pub mod export;
pub mod judge;
mod merge;
mod problem;
pub mod readable;
pub mod render;
pub mod series;
pub mod store;
pub mod summary;

pub use collect::{Collected, collect, load_plan};
pub use merge::{Merged, Stats};
pub use series::ClosedSecond;
pub use store::{Store, StoreError};
pub use summary::{Ending, Summary};

#[cfg(any(test, feature = "testing"))]
pub mod testing;
