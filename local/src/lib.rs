//! The embedded local cloud of sls-load: stand-ins for the AWS services a run
//! uses, served on loopback and spoken to by the real AWS SDK, so a whole run
//! happens on one machine without an AWS account. Nothing is mocked: the SDK's
//! requests cross the network, signed, and the worker is the real `bootstrap`
//! binary run through the Lambda Runtime API.
//!
//! # Brief overview
//! - [`LocalCloud`]: one S3 store and one Lambda service per emulated region,
//!   started and stopped together with a fresh key pair ([`LocalCredentials`]).
//! - [`LocalS3`]: an S3 over a directory (s3s + s3s-fs), its requests' SigV4
//!   signatures checked.
//! - [`LocalLambda`]: the Invoke API (Event and RequestResponse) and the
//!   Runtime API over a pool of worker processes, with Lambda's throttling,
//!   timeouts and cold starts.
//! - [`delay`]: a delaying TCP proxy per emulated client region (the local
//!   network profiles' round trip).
//! - [`S3Faults`] and [`LambdaFaults`]: the fault switches tests turn on through
//!   the environment (docs/TESTING.md).
//!
//! It does not decide what runs (planning, invoking and reporting are the
//! orchestrator's) and does not build the worker (the `function` crate does).

#![warn(missing_docs)]

mod cloud;
mod credentials;
pub mod delay;
mod error;
mod faults;
mod lambda;
mod s3;
mod server;
mod sigv4;

pub use cloud::{DEFAULT_IDLE_TIMEOUT, LocalCloud, LocalCloudConfig};
pub use credentials::LocalCredentials;
pub use error::LocalError;
pub use faults::S3Faults;
pub use lambda::{LambdaConfig, LambdaFaults, LambdaStats, LocalLambda};
pub use s3::{LocalS3, ensure_bucket};
