//! The summary in other tools' formats, for CI: one exporter per file —
//! [`junit`] (`--junit FILE`, JUnit XML with one test case per threshold and per
//! check) and [`k6_summary`] (`--k6-summary FILE`, k6's own `--summary-export`
//! JSON). [`write`] writes the ones asked for.
//!
//! Exporters only translate a built [`Summary`]: they compute no figure and judge
//! no threshold (that is [`crate::summary`]), and they do not change sls-load's own
//! summary JSON (`--summary-export`, docs/FORMAT.md).

pub mod html;
pub mod junit;
pub mod k6_summary;
pub mod out;

use std::path::{Path, PathBuf};

use crate::options::CiOutputs;
use crate::summary::Summary;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be written.
    #[error("writing the file")]
    Io(#[from] std::io::Error),
    /// The JUnit XML could not be encoded.
    #[error("encoding the JUnit XML")]
    Junit(#[from] quick_junit::SerializeError),
    /// The JSON could not be encoded.
    #[error("encoding the JSON")]
    Json(#[from] serde_json::Error),
}

/// An export that failed, with the flag and file it was for.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {}", path.display())]
pub struct CiExportError {
    /// `--junit` or `--k6-summary`.
    pub flag: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub source: ExportError,
}

/// Writes the CI reports `ci` asks for from `summary`.
pub fn write(summary: &Summary, ci: &CiOutputs) -> Result<(), CiExportError> {
    if let Some(path) = &ci.junit {
        let xml = junit::report(summary).to_string();
        write_one("--junit", path, xml.map_err(ExportError::from))?;
    }
    if let Some(path) = &ci.k6_summary {
        let json = serde_json::to_string_pretty(&k6_summary::summary(summary));
        write_one("--k6-summary", path, json.map_err(ExportError::from))?;
    }
    Ok(())
}

/// Writes `text` (or reports why it could not be made) to `path`.
fn write_one(
    flag: &'static str,
    path: &Path,
    text: Result<String, ExportError>,
) -> Result<(), CiExportError> {
    let fail = |source| CiExportError {
        flag,
        path: path.to_owned(),
        source,
    };
    let text = text.map_err(fail)?;
    std::fs::write(path, text).map_err(|e| fail(e.into()))
}
