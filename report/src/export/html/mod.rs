//! The HTML report: one self-contained page (no CDN, works offline) built from a
//! [`Summary`] and a few facts of the run's plan ([`RunFacts`]).
//!
//! The page embeds the vendored uPlot 1.6.32 (MIT, `orchestrator/assets/uplot/`),
//! its own script and style (`orchestrator/assets/report.{js,css}`) and the summary
//! JSON (`<script type="application/json" id="data">`, `<` written as `\u003c`, so
//! no name can close the script). The tables and the phase breakdown are static
//! markup written here ([`tables`], every user string HTML-escaped), readable
//! without scripts; the charts (per-second series per region and per request, the
//! latency percentile spectrum, markers on every time axis) are drawn by the page
//! script, which then records what it drew in `document.body.dataset.charts`.
//!
//! This module only builds the text: it computes no figure (that is
//! [`crate::summary`]) and writes, stores or opens nothing (`commands` does).

mod drill;
mod tables;

use std::fmt::Write as _;

use serde::Serialize;

use crate::summary::Summary;
use sls_load_plan::plan::Plan;

const UPLOT_JS: &str = include_str!("../../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../../assets/uplot/uPlot.min.css");
const REPORT_JS: &str = include_str!("../../../assets/report.js");
const REPORT_CSS: &str = include_str!("../../../assets/report.css");

/// What the report shows of the run's plan beside the summary: the slicing and
/// the worker slots per region. Embedded as `<script id="run">` JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunFacts {
    /// Slices per worker slot.
    pub slices: u32,
    /// The slice length, seconds.
    pub slice_s: f64,
    /// The worker function's memory, MB.
    pub memory_mb: u32,
    /// Worker slots (workers running at once) per region.
    pub slots: std::collections::BTreeMap<String, usize>,
}

impl RunFacts {
    /// The facts of `plan`.
    pub fn of(plan: &Plan) -> RunFacts {
        RunFacts {
            slices: plan.slices,
            slice_s: plan.slice.as_secs_f64(),
            memory_mb: plan.memory_mb,
            slots: plan
                .regions
                .iter()
                .map(|r| (r.region.to_string(), r.slots))
                .collect(),
        }
    }
}

/// The HTML report of a run whose plan gave `facts`.
pub struct Html(pub RunFacts);

impl super::Exporter for Html {
    fn export(&self, summary: &Summary) -> Result<Vec<u8>, super::ExportError> {
        page(summary, &self.0)
            .map(String::into_bytes)
            .map_err(|HtmlError(e)| e.into())
    }
}

/// Why the page could not be built.
#[derive(Debug, thiserror::Error)]
#[error("encoding the report's data")]
pub struct HtmlError(#[from] serde_json::Error);

/// The report page of `summary`.
pub fn page(summary: &Summary, facts: &RunFacts) -> Result<String, HtmlError> {
    let data = script_json(&serde_json::to_string(summary)?);
    let run = script_json(&serde_json::to_string(facts)?);
    let mut out = String::with_capacity(UPLOT_JS.len() + data.len() + 32 * 1024);
    let title = format!("sls-load run {}", summary.run_id);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{UPLOT_CSS}</style>\n<style>{REPORT_CSS}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    tables::header(&mut out, summary);
    out.push_str(CHART_SECTIONS);
    tables::phases(&mut out, summary);
    tables::figures(&mut out, summary);
    drill::section(&mut out, summary);
    tables::checks_and_thresholds(&mut out, summary);
    tables::errors(&mut out, summary);
    tables::run(&mut out, summary, facts);
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"data\">{data}</script>\n\
         <script type=\"application/json\" id=\"run\">{run}</script>\n\
         <script>{UPLOT_JS}</script>\n<script>{REPORT_JS}</script>\n</body>\n</html>\n"
    );
    Ok(out)
}

/// The chart containers the page script fills.
const CHART_SECTIONS: &str = r#"<section id="over-time"><h2>Per region over time</h2>
<p class="note">One line per region, one point per second; vertical lines mark the run's events.</p>
<div class="charts" id="charts-regions"></div></section>
<section><h2>Per request over time</h2><div class="charts" id="charts-requests"></div></section>
<section><h2>Latency distribution</h2>
<p class="note">HdrHistogram percentile spectrum per region: latency against percentile, the percentile axis log-scaled as 1/(1&minus;p).</p>
<div class="charts" id="charts-spectrum"></div></section>
"#;

/// JSON for a `<script>` element: every `<` as `\u003c`, so the text can hold
/// no `</script>` (nor `<!--`) whatever the names in it. Still the same JSON.
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// `text` HTML-escaped for element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
