//! k6 scripts at `plan` and `run` (`sls-load run script.js`): reads the script
//! and every local file it imports or `open()`s at init (bundled into the jobs),
//! refuses the modules workers cannot run (one line per import), runs the init
//! context once as k6 does to read `options` and the metrics the script
//! declares, and hands them to the plan crate's [`k6::from_options`], which
//! makes the scenario.
//!
//! This module owns that reading and its errors (an exception in the init
//! context or in `setup()` is k6's exit code 107); it does not decide what the
//! options mean (the plan crate does). [`setup`] runs `setup()` and
//! `teardown()` once, from this machine, as k6 does.

pub mod setup;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use sls_load_core::job::{JobScript, ScriptFile};
use sls_load_plan::scenario::{Scenario, ScenarioError, k6};
use sls_load_plan::threshold::{CustomKind, CustomMetric};
use sls_load_script::{Inspection, Program, ScriptError, VuConfig};

/// Most files a script may bundle (itself, its modules and opened files).
const MAX_FILES: usize = 200;

/// Why a script cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ScriptLoadError {
    /// A file of the script cannot be read, or it imports what workers cannot run.
    #[error("{0}")]
    Refused(String),
    /// The init context threw (k6's exit code 107).
    #[error("{file}: the init context threw: {message}")]
    Init {
        /// The script.
        file: PathBuf,
        /// k6's rendering of the exception.
        message: String,
    },
    /// `setup()` threw (k6's exit code 107): nothing was started.
    #[error("{file}: setup() threw: {message}; nothing was started")]
    Setup {
        /// The script.
        file: PathBuf,
        /// k6's rendering of the exception.
        message: String,
    },
    /// `setup()` called `test.abort()` (k6's exit code 108).
    #[error("{file}: setup() aborted the test: {reason}; nothing was started")]
    SetupAborted {
        /// The script.
        file: PathBuf,
        /// The reason given.
        reason: String,
    },
    /// The options do not make a scenario.
    #[error(transparent)]
    Options(#[from] ScenarioError),
}

/// Whether `path` names a k6 script rather than a YAML scenario.
pub fn is_script(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "js" | "mjs" | "cjs"))
}

/// The scenario of the script at `path`, aimed at `target` (every request
/// sent there, whatever origin its URL names) or, without one, at the URLs
/// the script names; `env` is its `__ENV` while reading `options`.
pub fn load(
    path: &Path,
    target: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Scenario, ScriptLoadError> {
    let (files, inspection) = bundle(path, env)?;
    let declared = declared(path, &inspection)?;
    if inspection.has_function("handleSummary") {
        eprintln!(
            "sls-load: {}: handleSummary() is not run; use --k6-summary FILE for k6's summary JSON",
            path.display()
        );
    }
    let main = file_name(path);
    let text = files.get(&main).cloned().unwrap_or_default();
    let script = JobScript {
        main,
        files: files
            .into_iter()
            .map(|(k, v)| (k, script_file(v)))
            .collect(),
        exec: BTreeMap::new(),
        setup_data: None,
        discard_response_bodies: false,
        tags: BTreeMap::new(),
        retarget: target.is_some(),
    };
    let aim = match target {
        Some(t) => t.to_owned(),
        None => first_origin(&String::from_utf8_lossy(&text)).ok_or_else(|| {
            refused(
                path,
                "the script names no absolute http(s) URL to aim at: pass --target URL",
            )
        })?,
    };
    let scenario = k6::from_options(path, &inspection.options, &declared, &aim, script)?;
    check_exec(path, &scenario, &inspection)?;
    Ok(scenario)
}

/// The script's files as the VUs will ask for them, and what its init exports:
/// init runs until it asks for no file that is not bundled yet.
fn bundle(
    path: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(BTreeMap<String, Vec<u8>>, Inspection), ScriptLoadError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let main = file_name(path);
    let mut files = BTreeMap::new();
    files.insert(main.clone(), read(path, path)?);
    check_imports(path, &files)?;
    loop {
        let program =
            Program::new(&main, files.clone()).map_err(|e| refused(path, &e.to_string()))?;
        let result = sls_load_script::inspect(program.clone(), config(env));
        let missing = program.missing();
        if missing.is_empty() {
            return match result {
                Ok(inspection) => Ok((files, inspection)),
                Err(ScriptError::Init(message)) => Err(ScriptLoadError::Init {
                    file: path.to_owned(),
                    message,
                }),
                Err(e) => Err(refused(path, &e.to_string())),
            };
        }
        if missing.iter().all(|name| files.contains_key(name)) {
            // Bundled already yet still missing: never loop on it.
            return Err(refused(path, &format!("`{}` cannot be loaded", missing[0])));
        }
        for name in missing {
            if files.len() >= MAX_FILES {
                return Err(refused(
                    path,
                    &format!("the script loads more than {MAX_FILES} files"),
                ));
            }
            let bytes = read(path, &dir.join(&name))?;
            files.insert(name, bytes);
        }
        check_imports(path, &files)?;
    }
}

/// A VU configuration for reading the script (no samples, console to stderr).
fn config(env: &BTreeMap<String, String>) -> VuConfig {
    VuConfig {
        vu: 0,
        env: env.clone(),
        setup_data: None,
        tags: BTreeMap::new(),
        discard_response_bodies: false,
        log: Arc::new(|_, line| eprintln!("sls-load: script: {line}")),
        halted: None,
    }
}

/// Refuses the imports workers cannot run, every one of them: one line each
/// on stderr, the last as the error.
fn check_imports(path: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), ScriptLoadError> {
    let mut lines = Vec::new();
    for (name, bytes) in files {
        if !is_module(name) {
            continue;
        }
        for import in imports(&String::from_utf8_lossy(bytes)) {
            if let Some(why) = sls_load_script::refusal(&import) {
                lines.push(format!("{}: {why}", shown(path, name)));
            }
        }
    }
    let Some(last) = lines.pop() else {
        return Ok(());
    };
    for line in lines {
        eprintln!("error: {line}");
    }
    Err(ScriptLoadError::Refused(last))
}

/// The file as messages name it: the script's own path, or `path` beside it.
fn shown(script: &Path, name: &str) -> String {
    if name == file_name(script) {
        return script.display().to_string();
    }
    script
        .parent()
        .unwrap_or(Path::new("."))
        .join(name)
        .display()
        .to_string()
}

fn is_module(name: &str) -> bool {
    [".js", ".mjs", ".cjs"].iter().any(|e| name.ends_with(e))
}

/// The module names `source` imports (`import x from 'm'`, `import 'm'`,
/// `export ... from 'm'`, `import('m')`), as written.
fn imports(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in source
        .match_indices("from")
        .chain(source.match_indices("import"))
    {
        let before = source[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let keyword = if source[at..].starts_with("from") {
            4
        } else {
            6
        };
        let rest = source[at + keyword..].trim_start_matches([' ', '\t', '(']);
        let Some(quote) = rest
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"' | '`'))
        else {
            continue;
        };
        if let Some(end) = rest[1..].find(quote) {
            out.push(rest[1..1 + end].to_owned());
        }
    }
    out
}

/// The metrics the script declares, typed for thresholds.
fn declared(path: &Path, inspection: &Inspection) -> Result<Vec<CustomMetric>, ScriptLoadError> {
    inspection
        .metrics
        .iter()
        .map(|(name, m)| {
            CustomKind::from_name(&m.kind)
                .and_then(|kind| CustomMetric::new(name, kind, m.time))
                .ok_or_else(|| refused(path, &format!("metric `{name}` cannot be used")))
        })
        .collect()
}

/// Every scenario's `exec` (or `default`) names a function the script exports.
fn check_exec(
    path: &Path,
    scenario: &Scenario,
    inspection: &Inspection,
) -> Result<(), ScriptLoadError> {
    let exec = scenario.script.as_ref().map(|s| &s.exec);
    for def in &scenario.scenarios {
        let f = exec
            .and_then(|e| e.get(&def.name))
            .map_or("default", String::as_str);
        if !inspection.has_function(f) {
            let what = match f {
                "default" => "the script exports no default function".to_owned(),
                f => format!(
                    "scenario `{}` runs `{f}`, which the script does not export",
                    def.name
                ),
            };
            return Err(refused(path, &what));
        }
    }
    Ok(())
}

/// The first `http(s)://host[:port]` the source names.
fn first_origin(source: &str) -> Option<String> {
    let at = source.find("http://").or_else(|| source.find("https://"))?;
    let rest = &source[at..];
    let scheme_end = rest.find("://")? + 3;
    let host_end = rest[scheme_end..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
        .map_or(rest.len(), |i| scheme_end + i);
    let origin = &rest[..host_end];
    (host_end > scheme_end).then(|| origin.trim_end_matches(':').to_owned())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "script.js".to_owned())
}

fn read(script: &Path, file: &Path) -> Result<Vec<u8>, ScriptLoadError> {
    std::fs::read(file).map_err(|e| {
        let what = match file == script {
            true => format!("cannot read the script: {e}"),
            false => format!(
                "cannot read `{}`, which the script loads: {e}",
                file.display()
            ),
        };
        refused(script, &what)
    })
}

fn script_file(bytes: Vec<u8>) -> ScriptFile {
    match String::from_utf8(bytes) {
        Ok(text) => ScriptFile::Text(text),
        Err(e) => ScriptFile::Binary {
            base64: base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
        },
    }
}

/// Runs the script's `setup()`, if it exports one, and keeps what it returned
/// as the jobs' `setup_data` (k6 hands a copy to every iteration).
pub async fn run_setup(
    path: &Path,
    scenario: &mut Scenario,
    env: &BTreeMap<String, String>,
    target: Option<&str>,
) -> Result<(), ScriptLoadError> {
    let Some(script) = scenario.script.as_mut() else {
        return Ok(());
    };
    let program = program_of(path, script)?;
    let exports = sls_load_script::inspect(program.clone(), config(env))
        .map_err(|e| refused(path, &e.to_string()))?;
    if !exports.has_function("setup") {
        return Ok(());
    }
    let config = setup::config(env, None);
    let target = target.map(str::to_owned);
    match setup::run(program, config, "setup", target).await {
        Ok(data) => {
            script.setup_data = data;
            Ok(())
        }
        Err(setup::Failed::Exception(message)) => Err(ScriptLoadError::Setup {
            file: path.to_owned(),
            message,
        }),
        Err(setup::Failed::Aborted(reason)) => Err(ScriptLoadError::SetupAborted {
            file: path.to_owned(),
            reason,
        }),
        Err(setup::Failed::Other(why)) => Err(refused(path, &why)),
    }
}

/// Runs the script's `teardown()`, if it exports one, with `setup()`'s data;
/// what goes wrong is a warning (the run's verdict stands).
pub async fn run_teardown(
    path: &Path,
    scenario: &Scenario,
    env: &BTreeMap<String, String>,
    target: Option<&str>,
) {
    let Some(script) = scenario.script.as_ref() else {
        return;
    };
    let Ok(program) = program_of(path, script) else {
        return;
    };
    let has = sls_load_script::inspect(program.clone(), config(env))
        .is_ok_and(|e| e.has_function("teardown"));
    if !has {
        return;
    }
    let config = setup::config(env, script.setup_data.clone());
    let result = setup::run(program, config, "teardown", target.map(str::to_owned)).await;
    let why = match result {
        Ok(_) => return,
        Err(setup::Failed::Exception(e)) => format!("threw: {e}"),
        Err(setup::Failed::Aborted(r)) => format!("aborted the test: {r}"),
        Err(setup::Failed::Other(e)) => e,
    };
    eprintln!("sls-load: warning: {}: teardown() {why}", path.display());
}

/// The program of a bundled script (its files decoded).
fn program_of(path: &Path, script: &JobScript) -> Result<Arc<Program>, ScriptLoadError> {
    let mut files = BTreeMap::new();
    for (name, file) in &script.files {
        let bytes = match file {
            ScriptFile::Text(t) => t.clone().into_bytes(),
            ScriptFile::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map_err(|e| refused(path, &format!("file `{name}`: {e}")))?,
        };
        files.insert(name.clone(), bytes);
    }
    Program::new(&script.main, files).map_err(|e| refused(path, &e.to_string()))
}

fn refused(path: &Path, why: &str) -> ScriptLoadError {
    ScriptLoadError::Refused(format!("{}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_found_in_every_form() {
        let src = "import http from 'k6/http';\nimport { a } from \"./lib.js\";\nimport 'k6/ws';\n\
                   export { b } from './b.js';\nconst m = import('k6/net/grpc');\nconst from = 1;\n\
                   // imported from nowhere\n";
        assert_eq!(
            imports(src),
            ["k6/http", "./lib.js", "./b.js", "k6/ws", "k6/net/grpc"]
        );
    }

    #[test]
    fn the_first_origin_is_the_target_without_one() {
        assert_eq!(
            first_origin("http.get('https://test.k6.io/news.php')").as_deref(),
            Some("https://test.k6.io")
        );
        assert_eq!(
            first_origin("const B = 'http://127.0.0.1:8080';").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(first_origin("no url"), None);
    }
}
