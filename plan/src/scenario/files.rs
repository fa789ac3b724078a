//! Files a scenario names beside itself: its data files (CSV with a header row, or a
//! JSON array of objects, read into rows of text) and the `http.tls_ca_file` PEM.
//! Paths are relative to the scenario file; errors are short messages that `build`
//! places on the naming key.
//!
//! It does not decide whether the rows fit in a worker's job (`build` does) nor
//! check templates against the columns.

use std::path::{Path, PathBuf};

use sls_load_core::job::DataRows;
use sls_load_core::template::{ENV_PREFIX, VAR_ITER, VAR_VU};

use super::DataSet;
use super::error::{one_line, shown};
use super::raw::is_name;

/// The bytes of file `name`, relative to the scenario file's directory.
fn read_beside(scenario_file: &Path, name: &str) -> Result<Vec<u8>, String> {
    let path = scenario_file
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(name);
    std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

/// Reads `http.tls_ca_file` (relative to the scenario file): PEM text with at least
/// one `CERTIFICATE` block.
pub(super) fn load_ca(scenario_file: &Path, name: &str) -> Result<String, String> {
    let bytes = read_beside(scenario_file, name)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("`{name}` is not PEM text (it is not UTF-8)"))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "`{name}` holds no PEM certificate (no `-----BEGIN CERTIFICATE-----` line)"
        ));
    }
    Ok(text)
}

/// Reads a scenario's data file (relative to the scenario file): a CSV file with a
/// header row, or a JSON array of objects (values become text; missing keys empty).
pub(super) fn load_data(scenario_file: &Path, name: &str) -> Result<DataSet, String> {
    let bytes = read_beside(scenario_file, name)?;
    let rows = if name.to_ascii_lowercase().ends_with(".csv") {
        csv_rows(&bytes)
    } else {
        json_rows(&bytes)
    }
    .map_err(|e| format!("`{name}`: {e}"))?;
    if let Some(bad) = rows.columns.iter().find(|c| !is_name(c)) {
        return Err(format!(
            "`{name}`: column `{}` cannot be used as {{{{...}}}} (use letters, digits, `_`, \
             `.` and `-`)",
            shown(bad)
        ));
    }
    if let Some(reserved) =
        (rows.columns.iter()).find(|c| *c == VAR_VU || *c == VAR_ITER || c.starts_with(ENV_PREFIX))
    {
        return Err(format!(
            "`{name}`: column `{reserved}` is built in; rename it"
        ));
    }
    if rows.rows.is_empty() {
        return Err(format!("`{name}` has no rows"));
    }
    Ok(DataSet {
        file: PathBuf::from(name),
        rows,
    })
}

fn csv_rows(bytes: &[u8]) -> Result<DataRows, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| one_line(&e.to_string(), 200))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| one_line(&e.to_string(), 200))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(DataRows { columns, rows })
}

fn json_rows(bytes: &[u8]) -> Result<DataRows, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let serde_json::Value::Array(items) = value else {
        return Err("expected a JSON array of objects".into());
    };
    let mut columns: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let serde_json::Value::Object(map) = item else {
            return Err(format!("item {i} is not an object"));
        };
        for k in map.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| match item.get(c) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect()
        })
        .collect();
    Ok(DataRows { columns, rows })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::scenario::test_support::*;

    #[test]
    fn data_files_load_beside_the_scenario_as_rows_of_text() {
        let csv = "id,name\n1,Ann\n2,\"Lee, Bo\"\n";
        let s = load_with(&[("users.csv", csv)], &with_data("users.csv")).expect("loads");
        let data = s.scenarios[0].data.as_ref().expect("data");
        assert_eq!(data.file, PathBuf::from("users.csv"));
        assert_eq!(data.rows.columns, ["id", "name"]);
        assert_eq!(
            data.rows.rows,
            [vec!["1", "Ann"], vec!["2", "Lee, Bo"]]
                .map(|r| r.into_iter().map(String::from).collect::<Vec<_>>())
        );
        let json = r#"[{"id": 1, "name": "Ann"}, {"id": 2, "name": null, "extra": true}]"#;
        let s = load_with(&[("users.json", json)], &with_data("users.json")).expect("loads");
        let data = &s.scenarios[0].data.as_ref().expect("data").rows;
        assert_eq!(data.columns, ["id", "name", "extra"]);
        assert_eq!(data.rows[1], ["2", "", "true"]);
    }

    #[test]
    fn bad_data_files_are_named_with_the_reason() {
        let e = load_with(&[], &with_data("users.csv")).expect_err("missing");
        assert_contains(
            &e.to_string(),
            &[
                ":9: scenarios.browse.data.file: cannot read `",
                "users.csv`",
            ],
        );
        for (content, want) in [
            ("id,name\n1\n", "`users.csv`: CSV error: record 1 (line: 2"),
            ("first name\nAnn\n", "column `first name` cannot be used"),
            ("id,name\n", "`users.csv` has no rows"),
        ] {
            let e = load_with(&[("users.csv", content)], &with_data("users.csv"))
                .expect_err("bad csv")
                .to_string();
            assert_contains(&e, &["scenarios.browse.data.file: ", want]);
        }
        let e = load_with(&[("users.json", "{\"id\": 1}")], &with_data("users.json"))
            .expect_err("not an array");
        assert_contains(&e.to_string(), &["expected a JSON array of objects"]);
        let e = error(&with_data("users.txt"));
        assert_contains(&e, &["data.file: `users.txt`: data files are .csv"]);
    }
}
