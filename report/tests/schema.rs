//! The JSON Schemas in docs/schema/ are what the types write: the summary
//! (`--summary-export`, `runs/RUN_ID/summary.json`), the job (the Invoke
//! payload) and the manifest, as schemars generates them for serialisation
//! (draft 2020-12; doc comments become descriptions). After a change to those
//! types, `SLS_LOAD_WRITE_SCHEMA=1 cargo test -p sls-load-report --test schema`
//! rewrites the files; the e2e suite validates every summary it writes against
//! docs/schema/summary.schema.json.

#![allow(clippy::unwrap_used)] // a test: a failed step should fail it loudly

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use sls_load_core::job::{Job, Manifest};
use sls_load_report::summary::Summary;

/// The schema of `T` as the repository keeps it (pretty JSON, one final newline).
fn schema<T: JsonSchema>() -> String {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let schema = generator.into_root_schema_for::<T>();
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema")
}

#[test]
fn the_schema_files_are_what_the_types_generate() {
    let write = std::env::var_os("SLS_LOAD_WRITE_SCHEMA").is_some();
    for (name, generated) in [
        ("summary", schema::<Summary>()),
        ("job", schema::<Job>()),
        ("manifest", schema::<Manifest>()),
    ] {
        let path = schema_dir().join(format!("{name}.schema.json"));
        if write {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            kept == generated,
            "{} is not what the types generate: run `SLS_LOAD_WRITE_SCHEMA=1 cargo test -p \
             sls-load-report --test schema` and commit the file",
            path.display()
        );
    }
}
