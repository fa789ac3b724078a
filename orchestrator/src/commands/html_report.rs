//! Where the HTML report goes at the end of `run`, `report` and `watch`: stored
//! with the run as `runs/RUN_ID/report.html` (a failure is a warning, as for
//! `summary.json`), written to `--html FILE` (checked at the command line; a late
//! failure is reported beside the verdict), and with `--open` opened in the
//! desktop's browser (`xdg-open`; `open` on macOS) from that file, or from a
//! copy in the temp directory when no `--html` was given. Opening never fails a
//! run: when it cannot, the path is printed for the user to open.
//!
//! The page itself is [`sls_load_report::export::html`]'s; this module only stores, writes
//! and opens it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sls_load_core::job::ObjectKey;

use super::Error;
use crate::cloud::Cloud;
use crate::options::CiOutputs;
use sls_load_report::collect::Collected;
use sls_load_report::export::html::{Html, RunFacts};
use sls_load_report::export::{CiExportError, ExportError, Exporter};
use sls_load_report::store::Store;
use sls_load_report::summary::Summary;

/// Builds and stores the report of `summary`, and writes the local file `ci`
/// asks for (`--html`, or a temp copy for `--open`). Returns the local file
/// written, if any; an error only when `--html` could not be written.
pub(super) async fn write(
    cloud: &Cloud,
    collected: &Collected,
    summary: &Summary,
    ci: &CiOutputs,
) -> Result<Option<PathBuf>, Error> {
    let started = std::time::Instant::now();
    let page = match Html(RunFacts::of(&collected.plan)).export(summary) {
        Ok(page) => page,
        Err(e) => {
            eprintln!("sls-load: warning: the HTML report was not built: {e}");
            return Ok(None);
        }
    };
    tracing::debug!(
        bytes = page.len(),
        build_ms = started.elapsed().as_secs_f64() * 1000.0,
        "HTML report built"
    );
    let key = ObjectKey::report_html(&summary.run_id);
    if let Err(e) = cloud
        .store
        .put(&key, page.clone(), "text/html; charset=utf-8")
        .await
    {
        eprintln!("sls-load: warning: HTML report not stored: {e}");
    }
    match (&ci.html, ci.open) {
        (Some(path), _) => {
            std::fs::write(path, &page).map_err(|e| CiExportError {
                flag: "--html",
                path: path.clone(),
                source: ExportError::Io(e),
            })?;
            Ok(Some(path.clone()))
        }
        (None, true) => {
            let path = std::env::temp_dir().join(format!("sls-load-{}.html", summary.run_id));
            match std::fs::write(&path, &page) {
                Ok(()) => Ok(Some(path)),
                Err(e) => {
                    eprintln!(
                        "sls-load: warning: the HTML report to open was not written to {}: {e}",
                        path.display()
                    );
                    Ok(None)
                }
            }
        }
        (None, false) => Ok(None),
    }
}

/// The line printed beside the summary for a written report, after opening it
/// when `open`: `  HTML report: PATH` (with why it was not opened, if so).
pub(super) fn announce(path: &Path, open: bool) -> String {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let note = if open {
        match open_in_browser(&shown) {
            Ok(opener) => format!(" (handed to {opener})"),
            Err(why) => format!(" (not opened: {why}; open it yourself)"),
        }
    } else {
        String::new()
    };
    format!("  HTML report: {}{note}\n", shown.display())
}

/// Hands `path` to the desktop's opener without waiting for it; the opener's
/// name, or why none could be started.
fn open_in_browser(path: &Path) -> Result<&'static str, String> {
    // On Linux `open` is often openvt: only macOS's `open` opens files.
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = Command::new(opener)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        Ok(mut child) => {
            // Reaped on its own thread: the opener may outlive the report.
            std::thread::spawn(move || child.wait());
            Ok(opener)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{opener} is not installed"))
        }
        Err(e) => Err(format!("{opener}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_report_is_announced_by_its_absolute_path() {
        let line = announce(Path::new("r.html"), false);
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(
            line,
            format!("  HTML report: {}\n", cwd.join("r.html").display())
        );
    }
}
