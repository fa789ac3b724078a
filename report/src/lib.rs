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
//! - [`collect`]: a run read back incrementally; [`merge`]: decode and add
//!   histograms exactly; [`series`]: per-second points and closed seconds.
//! - [`summary`]: the summary, built once and complete; [`abort`]: `abortOnFail`
//!   thresholds on the live state.
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
pub mod merge;
mod problem;
pub mod readable;
pub mod render;
pub mod series;
pub mod store;
pub mod summary;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
