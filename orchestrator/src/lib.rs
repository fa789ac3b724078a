//! The sls-load orchestrator: plans a run, starts Lambda workers in every region,
//! collects their HdrHistogram interval logs from S3, merges them exactly and
//! reports.
//!
//! # Brief overview
//! Data flows one way: scenario → plan → jobs → (workers) → objects → merge → report.
//! - [`scenario`] / [`threshold`]: the YAML scenario file and k6 threshold expressions.
//! - [`plan`]: workers per region, each worker's share, the agreed start; pure.
//! - [`invoke`]: Event invocations with bounded concurrency and backoff.
//! - [`store`]: list/get/put objects in S3; [`collect`]: read a run back.
//! - [`merge`]: decode and add histograms; [`report`]: the summary and thresholds.
//! - [`local`]: embedded S3 and Lambda stand-ins on loopback; [`cloud`]: picks local or
//!   AWS and builds the SDK clients the same way for both.
//! - [`cli`] / [`app`]: the command line and the subcommands' glue.

#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod cloud;
pub mod collect;
pub mod cost;
pub mod invoke;
pub mod local;
pub mod merge;
pub mod plan;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod share;
pub mod store;
pub mod threshold;
