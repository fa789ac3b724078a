//! Every summary an end-to-end run writes (`--summary-export FILE`) is checked
//! against docs/schema/summary.schema.json, the schema the summary's types
//! generate (sls-load-report's `schema` test keeps the file equal to them):
//! [`crate::sls_load`] calls [`check_summary_export`] after each run.

use std::path::Path;
use std::sync::OnceLock;

/// The summary schema, compiled once per test binary.
fn summary_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/summary.schema.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let schema: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{} is not a JSON Schema: {e}", path.display()))
    })
}

/// Panics naming every mismatch when `summary` (the file at `path`) does not
/// match the summary schema.
pub fn check_summary(path: &Path, summary: &serde_json::Value) {
    let errors: Vec<String> = summary_validator()
        .iter_errors(summary)
        .map(|e| format!("{} (at {})", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match docs/schema/summary.schema.json: {}",
        path.display(),
        errors.join("; ")
    );
}

/// After a run with `args`: the `--summary-export` file, if the run wrote one
/// (a regular file), matches the summary schema.
pub fn check_summary_export(args: &[&str]) {
    let Some(i) = args.iter().position(|a| *a == "--summary-export") else {
        return;
    };
    let Some(path) = args.get(i + 1).map(Path::new) else {
        return;
    };
    // Only a file the run wrote (a test may export to /dev/full, which reads forever).
    if !path.metadata().is_ok_and(|m| m.is_file()) {
        return;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let summary: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    check_summary(path, &summary);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden run's stored summary (an older sls-load wrote it).
    fn golden() -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/golden/runs/golden-20261127/summary.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("golden summary")).expect("JSON")
    }

    #[test]
    fn a_stored_summary_matches_and_a_broken_one_is_named() {
        let summary = golden();
        check_summary(Path::new("golden.json"), &summary);
        let mut broken = summary;
        broken["total"]["requests"] = serde_json::json!("many");
        broken.as_object_mut().expect("object").remove("workers");
        let refused = std::panic::catch_unwind(|| check_summary(Path::new("b.json"), &broken));
        let message = refused
            .expect_err("a broken summary is refused")
            .downcast::<String>()
            .expect("a message");
        assert!(message.contains("/total/requests"), "{message}");
        assert!(message.contains("workers"), "{message}");
    }
}
