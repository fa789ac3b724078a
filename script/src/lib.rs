//! k6 JavaScript for sls-load: runs a k6 script's VUs on QuickJS, each in a
//! stackful coroutine, so that a script's synchronous `http.get` suspends only
//! its VU while the worker's async runtime sends the request.
//!
//! # Brief overview
//! - [`Program`] (`program.rs`): the script and its bundled files, module
//!   resolution (k6's modules, local files, the k6-utils helpers), `open()`
//!   and `SharedArray` data shared by a worker's VUs.
//! - [`Vu`] (`vu.rs`): one VU's runtime and coroutine: init, then iterations.
//! - [`protocol`]: what a VU asks ([`Op`]) and is answered ([`Answer`]).
//! - `native.rs` + `js/prelude.js`: the k6 API the script sees.
//! - [`inspect`] (`inspect.rs`): the script's `options` and exports, read
//!   once without VUs (for `plan`).
//!
//! This crate does no IO and records nothing: the worker's engine performs the
//! ops (sends, sleeps, records) with the same client and recorder as YAML
//! scenarios.

#![warn(missing_docs)]

mod inspect;
mod native;
mod program;
pub mod protocol;
mod vu;

pub use inspect::{DeclaredMetric, Inspection, inspect};
pub use program::{Program, normalise, refusal};
pub use protocol::{
    Answer, CheckSample, Ended, HttpCall, MetricKind, MetricSample, Op, Reply, ResponseType, Step,
};
pub use protocol::{LogFn, LogLevel, Start};
pub use vu::{HaltFn, JS_STACK_LIMIT, STACK_SIZE, Vu, VuConfig};

/// Why a script cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The script names a file that was not bundled with it.
    #[error("`{0}` is not among the script's files")]
    Missing(String),
    /// The init context threw (k6's exit code 107), or the script does not compile.
    #[error("{0}")]
    Init(String),
    /// A VU's coroutine stack could not be allocated.
    #[error("a VU's stack could not be allocated: {0}")]
    Stack(String),
}

#[cfg(test)]
mod tests;
