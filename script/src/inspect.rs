//! Reading a script without running its VUs: the `options` it exports and
//! which functions it exports, as k6 reads them before a test (the init context
//! run once with `__VU` 0).
//!
//! This module owns that one question; deciding what the options mean (the
//! scenario they make) is the plan side's.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ScriptError;
use crate::program::Program;
use crate::protocol::Start;
use crate::protocol::{Ended, Step};
use crate::vu::{INSPECT, Vu, VuConfig};

/// What a script exports.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The `options` export as JSON (`null` when absent).
    pub options: serde_json::Value,
    /// Every export's name with its JavaScript type (`function`, `object`, ...).
    pub exports: BTreeMap<String, String>,
    /// The custom metrics the init context declared, by name.
    pub metrics: BTreeMap<String, DeclaredMetric>,
}

/// A custom metric as `new Counter|Gauge|Rate|Trend(name, isTime)` declared it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct DeclaredMetric {
    /// `counter`, `gauge`, `rate` or `trend`.
    pub kind: String,
    /// A time metric (`new Trend(name, true)`): values in milliseconds.
    pub time: bool,
}

impl Inspection {
    /// Whether the script exports a function named `name`.
    pub fn has_function(&self, name: &str) -> bool {
        self.exports.get(name).is_some_and(|t| t == "function")
    }
}

/// Runs `program`'s init context once (with `__VU` 0, as k6 does to read the
/// options) and returns what it exports.
pub fn inspect(program: Arc<Program>, mut config: VuConfig) -> Result<Inspection, ScriptError> {
    config.vu = 0;
    config.setup_data = None;
    let mut vu = Vu::new(program, config)?;
    let step = vu.start(Start {
        exec: INSPECT.to_owned(),
        iteration: 0,
        iteration_in_scenario: 0,
        scenario: String::new(),
        executor: String::new(),
        deadline: None,
    });
    let json = match step {
        Step::Ended(Ended::Returned(Some(json))) => json,
        Step::Ended(Ended::Exception(e)) => return Err(ScriptError::Init(e)),
        _ => {
            return Err(ScriptError::Init(
                "the script's exports could not be read".into(),
            ));
        }
    };
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(default)]
        options: serde_json::Value,
        #[serde(default)]
        exports: BTreeMap<String, String>,
        #[serde(default)]
        metrics: BTreeMap<String, DeclaredMetric>,
    }
    let raw: Raw =
        serde_json::from_str(&json).map_err(|e| ScriptError::Init(format!("options: {e}")))?;
    Ok(Inspection {
        options: raw.options,
        exports: raw.exports,
        metrics: raw.metrics,
    })
}
