//! Everything sls-load decides before a run starts, pure and without IO beyond
//! reading the scenario's own files: the scenario file, its thresholds, the load
//! zones, the local network profiles, each worker's share, the plan and its cost.
//!
//! # Brief overview
//! Data flows one way: scenario file → [`scenario::Scenario`] → [`plan::plan`]
//! → [`plan::Plan`] (stored as `plan.json`, every worker's `Job` inside).
//! - [`scenario`]: the YAML scenario file into a validated, typed scenario; every
//!   error names the file, line and key.
//! - [`threshold`]: k6 threshold expressions, parsed once into typed
//!   [`threshold::Threshold`]s that the plan stores as the strings written.
//! - [`zones`]: AWS regions and k6 Cloud's load zones.
//! - [`network`]: the local network profiles of client regions.
//! - [`drill`]: a failover drill's events and settings, as planned.
//! - [`share`]: each worker's share of every scenario's rate and VUs.
//! - [`plan`]: workers per region, slices, the agreed start, the jobs.
//! - [`cost`]: what a plan (or a run) costs at list prices.
//! - [`estimate`]: the peak request rate, closed models' estimated.
//!
//! It depends on `sls-load-core` only (no AWS crate, no server): the fuzz target
//! of the scenario parser and the report crate build on it alone.

#![warn(missing_docs)]

pub mod cost;
pub mod drill;
pub mod estimate;
pub mod network;
pub mod plan;
pub mod scenario;
pub mod share;
pub mod threshold;
pub mod zones;

pub use plan::{Arch, CloudRecord, Plan, PlanError, PlanOptions};
pub use scenario::{Scenario, ScenarioError};
pub use threshold::{Threshold, ThresholdError};

#[cfg(any(test, feature = "testing"))]
pub mod testing;
