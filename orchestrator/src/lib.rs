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
//! - [`fanout`]: invokes a plan slice after slice at the right instants.
//! - [`control`]: writes the kill switch (control and heartbeat objects).
//! - [`compare`]: two runs' summaries judged against tolerances (`sls-load compare`).
//! - [`merge`]: decode and add histograms; [`summary`]: the summary and threshold
//!   verdicts; [`abort`]: `abortOnFail` thresholds judged while the run goes; [`render`]: the summary and the plan as terminal text, with
//!   [`readable`] figures; [`export`]: the summary for CI (JUnit XML, k6's JSON).
//! - [`local`]: embedded S3 and Lambda stand-ins on loopback; [`cloud`]: picks local or
//!   AWS and builds the SDK clients the same way for both, with [`awsenv`] (the
//!   credential files), [`project`] (`sls-load.toml`) and [`identity`] (whose
//!   credentials, checked with STS; an instance role).
//! - [`deploy`] and [`doctor`]: `deploy`/`destroy` (infra/'s CloudFormation per
//!   region) and `doctor` (one verdict per check of an AWS set-up), with their own
//!   raw flags ([`aws_cli`]) and validation ([`aws_options`]).
//! - [`cli`] → [`options`] → [`commands`]: the raw command line (clap), the one
//!   boundary that validates it, and the subcommands' glue with their typed errors
//!   and exit codes. Nothing below [`options`] sees a clap type.

#![warn(missing_docs)]

pub mod abort;
pub mod aws_cli;
pub mod aws_error;
pub mod aws_options;
pub mod awsenv;
pub mod cli;
pub mod cloud;
pub mod collect;
pub mod commands;
pub mod compare;
pub mod control;
pub mod cost;
pub mod deploy;
pub mod doctor;
pub mod drill;
pub mod export;
pub mod fanout;
pub mod identity;
pub mod invoke;
pub mod local;
pub mod merge;
pub mod network;
pub mod options;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod project;
pub mod readable;
pub mod render;
pub mod scenario;
pub mod series;
pub mod share;
pub mod store;
pub mod summary;
pub mod threshold;
pub mod zones;
