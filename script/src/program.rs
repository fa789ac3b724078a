//! A script and the files it may load, shared by every VU of a worker: module
//! resolution (k6's built-in modules, local files, the vendored `jslib`
//! helpers), `open()` and `SharedArray` data.
//!
//! This module owns which names a script may import and what each resolves to;
//! it refuses everything else with one line naming the import. It does not run
//! JavaScript (the VU does) and does no IO: every file was bundled before.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::{Ctx, Error as JsError, Module};

use crate::ScriptError;

/// The k6 modules sls-load provides, with their sources.
const BUILTINS: [(&str, &str); 6] = [
    ("k6", include_str!("js/k6.js")),
    ("k6/http", include_str!("js/k6_http.js")),
    ("k6/metrics", include_str!("js/k6_metrics.js")),
    ("k6/data", include_str!("js/k6_data.js")),
    ("k6/execution", include_str!("js/k6_execution.js")),
    ("k6/encoding", include_str!("js/k6_encoding.js")),
];

/// The remote helper library sls-load implements itself (by URL prefix), as
/// workers cannot fetch modules at run time.
const K6_UTILS: (&str, &str) = (
    "https://jslib.k6.io/k6-utils/",
    include_str!("js/k6_utils.js"),
);

/// The module name the vendored k6-utils resolves to.
const K6_UTILS_NAME: &str = "jslib:k6-utils";

/// k6 modules sls-load refuses, with why.
const REFUSED: [(&str, &str); 8] = [
    (
        "k6/browser",
        "browser tests need a browser, which workers do not have",
    ),
    (
        "k6/experimental/browser",
        "browser tests need a browser, which workers do not have",
    ),
    ("k6/net/grpc", "gRPC is not supported; only HTTP is"),
    ("k6/ws", "WebSockets are not supported; only HTTP is"),
    (
        "k6/experimental/",
        "experimental k6 modules are not supported",
    ),
    ("k6/crypto", "k6/crypto is not supported"),
    ("k6/html", "HTML parsing is not supported"),
    ("k6/x/", "k6 extensions (xk6) are not supported"),
];

/// Why `name` may not be imported, if it may not.
pub fn refusal(name: &str) -> Option<String> {
    if let Some((_, why)) = REFUSED
        .iter()
        .find(|(prefix, _)| name == *prefix || (prefix.ends_with('/') && name.starts_with(prefix)))
    {
        return Some(format!("import `{name}`: {why}"));
    }
    if name.starts_with("https://") || name.starts_with("http://") {
        if name.starts_with(K6_UTILS.0) {
            return None;
        }
        return Some(format!(
            "import `{name}`: remote modules cannot be fetched by the workers; save it beside the script and import it by relative path (sls-load provides only jslib.k6.io/k6-utils)"
        ));
    }
    if name.starts_with("k6") && !BUILTINS.iter().any(|(b, _)| *b == name) && !name.contains('.') {
        return Some(format!(
            "import `{name}`: not a k6 module sls-load provides"
        ));
    }
    None
}

/// A script with its files, ready for VUs.
#[derive(Debug)]
pub struct Program {
    main: String,
    files: BTreeMap<String, Vec<u8>>,
    /// `SharedArray` data by name: made once per worker (by the first VU
    /// whose init reaches it), each element kept as JSON text.
    shared: Mutex<HashMap<String, Arc<Vec<String>>>>,
    /// Files asked for (imported or opened) that were not among `files`: what
    /// the orchestrator bundles next while it reads a script at `plan`.
    missing: Mutex<BTreeSet<String>>,
}

impl Program {
    /// The script `main` (a key of `files`) with the files it may load.
    pub fn new(main: &str, files: BTreeMap<String, Vec<u8>>) -> Result<Arc<Program>, ScriptError> {
        let main = normalise("", main);
        if !files.contains_key(&main) {
            return Err(ScriptError::Missing(main));
        }
        let files = files
            .into_iter()
            .map(|(k, v)| (normalise("", &k), v))
            .collect();
        Ok(Arc::new(Program {
            main,
            files,
            shared: Mutex::new(HashMap::new()),
            missing: Mutex::new(BTreeSet::new()),
        }))
    }

    /// The script's own path.
    pub fn main(&self) -> &str {
        &self.main
    }

    /// The file at `path`, relative to the script's folder.
    pub fn open(&self, path: &str) -> Option<&[u8]> {
        let key = normalise(&self.main, path);
        let found = self.files.get(&key).map(Vec::as_slice);
        if found.is_none() {
            self.note_missing(key);
        }
        found
    }

    /// The files asked for that were not bundled, by normalised path.
    pub fn missing(&self) -> Vec<String> {
        let missing = self.missing.lock().unwrap_or_else(PoisonError::into_inner);
        missing.iter().cloned().collect()
    }

    fn note_missing(&self, key: String) {
        let mut missing = self.missing.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a script asking for thousands of files is refused anyway.
        if missing.len() < 1_000 {
            missing.insert(key);
        }
    }

    /// The length of shared array `name`, if made.
    pub(crate) fn shared_len(&self, name: &str) -> Option<usize> {
        self.lock_shared().get(name).map(|a| a.len())
    }

    /// Makes shared array `name` from its elements' JSON (a VU that lost the
    /// race keeps the first one's); returns its length.
    pub(crate) fn shared_set(&self, name: &str, items: Vec<String>) -> usize {
        let mut shared = self.lock_shared();
        shared
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(items))
            .len()
    }

    /// Element `i` of shared array `name`, as JSON text.
    pub(crate) fn shared_item(&self, name: &str, i: usize) -> Option<String> {
        self.lock_shared().get(name)?.get(i).cloned()
    }

    fn lock_shared(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<String>>>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The source of module `name` (as resolved).
    fn source(&self, name: &str) -> Option<Vec<u8>> {
        if let Some((_, src)) = BUILTINS.iter().find(|(b, _)| *b == name) {
            return Some(src.as_bytes().to_vec());
        }
        if name == K6_UTILS_NAME {
            return Some(K6_UTILS.1.as_bytes().to_vec());
        }
        let found = self.files.get(name).cloned();
        if found.is_none() {
            self.note_missing(name.to_owned());
        }
        found
    }
}

/// `name` imported from `base`, as a module key.
fn resolve_name(base: &str, name: &str) -> Result<String, String> {
    if let Some(why) = refusal(name) {
        return Err(why);
    }
    if BUILTINS.iter().any(|(b, _)| *b == name) {
        return Ok(name.to_owned());
    }
    if name.starts_with(K6_UTILS.0) {
        return Ok(K6_UTILS_NAME.to_owned());
    }
    if name.starts_with("./") || name.starts_with("../") || name.starts_with('/') {
        return Ok(normalise(base, name));
    }
    Err(format!(
        "import `{name}`: not a k6 module, and a local module must be named by a relative path (`./{name}`)"
    ))
}

/// `path` relative to the folder of `base` (a file key), with `.` and `..`
/// resolved; leading `..` that leave the script's folder are kept.
pub fn normalise(base: &str, path: &str) -> String {
    let path = path.strip_prefix("file://").unwrap_or(path);
    let mut parts: Vec<&str> = Vec::new();
    if !path.starts_with('/') {
        parts.extend(
            base.rsplit_once('/')
                .map(|(dir, _)| dir)
                .unwrap_or("")
                .split('/'),
        );
    }
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." && !last.is_empty() => {
                    parts.pop();
                }
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join("/")
}

/// The module resolver and loader of a VU's runtime.
pub(crate) struct Modules(pub(crate) Arc<Program>);

impl Resolver for Modules {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        resolve_name(base, name).map_err(|why| {
            let _ = ctx;
            JsError::new_resolving_message(base, name, why)
        })
    }
}

impl Loader for Modules {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        let source = self.0.source(name).ok_or_else(|| {
            JsError::new_loading_message(name, "the file was not bundled with the script")
        })?;
        Module::declare(ctx.clone(), name, source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_importing_files_folder() {
        assert_eq!(normalise("script.js", "./lib/a.js"), "lib/a.js");
        assert_eq!(normalise("lib/a.js", "../data/u.json"), "data/u.json");
        assert_eq!(normalise("a/b/c.js", "./d.js"), "a/b/d.js");
        assert_eq!(normalise("script.js", "../shared/x.js"), "../shared/x.js");
        assert_eq!(normalise("", "script.js"), "script.js");
        assert_eq!(normalise("", "./script.js"), "script.js");
    }

    #[test]
    fn unsupported_modules_are_refused_with_one_line_each() {
        for name in [
            "k6/ws",
            "k6/net/grpc",
            "k6/browser",
            "k6/experimental/redis",
            "k6/x/kafka",
        ] {
            let why = refusal(name).expect("refused");
            assert!(why.starts_with(&format!("import `{name}`")), "{why}");
            assert!(!why.contains('\n'));
        }
        assert!(refusal("https://example.com/lib.js").is_some());
        assert!(refusal("https://jslib.k6.io/k6-utils/1.4.0/index.js").is_none());
        assert!(refusal("k6/http").is_none());
        assert!(refusal("./lib.js").is_none());
    }
}
