//! The wire contract the orchestrator and the worker share, and nothing else:
//! both sides depend on this crate, and the orchestrator never on the worker.
//!
//! # Brief overview
//! - [`id`]: validated names ([`id::RunId`], [`id::Region`], [`id::WorkerId`],
//!   [`id::ObjectKey`]) and the layout of a run's objects.
//! - [`job`]: the Invoke payload ([`job::Job`]) and [`manifest`], the result
//!   manifest ([`job::Manifest`]), versioned (docs/FORMAT.md).
//! - [`hlog`]: the one interval-log codec (encode; bounded decode) and the
//!   histogram constructor.
//! - [`schedule`]: pacing as data (arrival times, VU steps, the split of VUs over
//!   workers), which the planner and the engine both compute.
//! - [`template`]: the `{{name}}` grammar and k6's built-in variables.
//! - [`duration`]: the one duration grammar (`1m30s`), of scenario files and
//!   command lines alike.
//! - [`control`]: the kill switch's control and heartbeat objects.
//! - With the `aws` feature: [`sdk`], the HTTP client both sides hand to the AWS
//!   SDK, and [`s3`], the S3 GET both sides make.
//! - [`probe`]: `sls-load doctor`'s probe invocation and the worker's answer.
//!
//! Nothing here reads a clock; only [`s3`] does IO.

#![warn(missing_docs)]

pub mod control;
pub mod dns;
pub mod duration;
pub mod hlog;
pub mod id;
pub mod job;
pub mod manifest;
pub mod probe;
#[cfg(feature = "aws")]
pub mod s3;
pub mod schedule;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod tag;
pub mod template;
