//! The summary as files, one exporter per format behind one trait,
//! [`Exporter`] (as hyperfine's `export/`): [`junit::Junit`] (`--junit FILE`,
//! JUnit XML with one test case per threshold and per check),
//! [`k6_summary::K6Summary`] (`--k6-summary FILE`, k6's own `--summary-export`
//! JSON) and [`html::Html`] (the self-contained HTML report). [`write`] writes
//! one to a file, naming the flag it was asked for by when it cannot.
//!
//! Exporters only translate a built [`Summary`]: they compute no figure and
//! judge no threshold (that is [`crate::summary`]), and they do not change
//! sls-load's own summary JSON (`--summary-export`, docs/FORMAT.md). Where a
//! file goes (the store, a path, a browser) is the caller's.

pub mod html;
pub mod junit;
pub mod k6_summary;

use std::path::{Path, PathBuf};

use crate::summary::Summary;

/// One file format of the summary.
pub trait Exporter {
    /// The file's bytes for `summary`.
    fn export(&self, summary: &Summary) -> Result<Vec<u8>, ExportError>;
}

/// Why an export could not be made or written.
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
    /// `--junit`, `--k6-summary` or `--html`.
    pub flag: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub source: ExportError,
}

/// Writes `summary` as `exporter` makes it to `path`, which `flag` asked for.
pub fn write(
    summary: &Summary,
    exporter: &dyn Exporter,
    flag: &'static str,
    path: &Path,
) -> Result<(), CiExportError> {
    let fail = |source| CiExportError {
        flag,
        path: path.to_owned(),
        source,
    };
    let bytes = exporter.export(summary).map_err(fail)?;
    std::fs::write(path, bytes).map_err(|e| fail(e.into()))
}
