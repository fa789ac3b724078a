//! The report page as a specification: self-contained, its data the summary
//! JSON no name can break out of, user strings escaped in markup, every section
//! there. `SLS_LOAD_HTML_SAMPLE=FILE` also writes the sample page to FILE, for a
//! look in a browser.

use std::collections::BTreeMap;

use super::*;
use crate::collect::Collected;

use crate::series::{Marker, Point, SpectrumPoint};
use crate::summary::{Ending, PhaseFigures, PhaseTimings, ThresholdResult};

const SCENARIO: &str = r#"
target: http://127.0.0.1:9
duration: 4s
regions: [us-east-1, eu-west-1, ap-southeast-1]
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 30
    requests:
      - { name: home, url: / }
thresholds:
  http_req_duration: ["p(95)<5"]
"#;

/// A 4-second, 3-region summary with its series, spectrum and markers filled
/// by hand, and a request name made to break out of a script element.
fn summary() -> Summary {
    let scenario =
        sls_load_plan::scenario::parse(std::path::Path::new("a<b>&.yaml"), SCENARIO.as_bytes())
            .expect("parses");
    let plan =
        sls_load_plan::plan::plan(&scenario, &sls_load_plan::testing::options()).expect("plans");
    let mut s = Summary::build(&Collected::new(plan), Ending::default());
    // As if every worker reported.
    s.workers.missing.clear();
    s.workers.reported = s.workers.planned;
    let point = |t: u64, base: f64| Point {
        t,
        requests: 10 + t,
        errors: t % 2,
        p50_ms: base,
        p90_ms: base * 1.5,
        p95_ms: base * 2.0,
        p99_ms: base * 3.0,
        max_ms: base * 4.0,
    };
    for (i, region) in ["us-east-1", "eu-west-1", "ap-southeast-1"]
        .iter()
        .enumerate()
    {
        let base = 2.0 + i as f64;
        let phase = |p50: f64| PhaseFigures {
            p50,
            p95: p50 * 2.0,
            p99: p50 * 3.0,
            max: p50 * 4.0,
        };
        s.regions.get_mut(*region).expect("planned").timings_ms = Some(PhaseTimings {
            blocked: phase(0.01),
            connecting: phase(0.1 * base),
            tls_handshaking: phase(0.0),
            sending: phase(0.02),
            waiting: phase(base),
            receiving: phase(0.05),
        });
        let points: Vec<Point> = (0..4).map(|t| point(t, base)).collect();
        s.series.regions.insert((*region).into(), points.clone());
        s.series
            .region_requests
            .insert((*region).into(), BTreeMap::from([("home".into(), points)]));
        let spectrum = [0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]
            .iter()
            .enumerate()
            .map(|(k, p)| SpectrumPoint {
                percentile: *p,
                ms: base + k as f64,
            })
            .collect();
        s.spectrum.insert((*region).into(), spectrum);
    }
    s.series.requests.insert(
        "home".into(),
        (0..4).map(|t| point(t, 3.0)).collect::<Vec<_>>(),
    );
    s.series.requests.insert(
        BREAKOUT.into(),
        (0..4).map(|t| point(t, 4.0)).collect::<Vec<_>>(),
    );
    s.markers = vec![
        Marker {
            t: 2.0,
            kind: "slice".into(),
            label: "slice 2".into(),
        },
        Marker {
            t: 3.5,
            kind: "abort".into(),
            label: "<b>abort</b>".into(),
        },
    ];
    s.thresholds.push(ThresholdResult {
        metric: "http_req_failed{name:<i>}".into(),
        expr: "rate<0.01".into(),
        ok: false,
        observed: Some(0.25),
    });
    s
}

const BREAKOUT: &str = "</script><script>alert(1)</script>";

fn page_of(s: &Summary) -> String {
    let facts = RunFacts {
        slices: 2,
        slice_s: 2.0,
        memory_mb: 1769,
        slots: BTreeMap::from([("us-east-1".into(), 2)]),
    };
    let html = page(s, &facts).expect("renders");
    if let Some(path) = std::env::var_os("SLS_LOAD_HTML_SAMPLE") {
        std::fs::write(path, &html).expect("write the sample page");
    }
    html
}

/// The text of `<script type="application/json" id="ID">`.
fn embedded<'a>(html: &'a str, id: &str) -> &'a str {
    let open = format!("<script type=\"application/json\" id=\"{id}\">");
    let start = html.find(&open).expect("data script") + open.len();
    let len = html[start..].find("</script>").expect("closed");
    &html[start..start + len]
}

#[test]
fn the_page_embeds_the_summary_json_exactly_and_no_name_breaks_out_of_it() {
    let s = summary();
    let html = page_of(&s);
    assert!(!html.contains(BREAKOUT), "a name closed the data script");
    let data = embedded(&html, "data");
    assert!(!data.contains('<'), "every `<` is escaped in the data");
    let back: serde_json::Value = serde_json::from_str(data).expect("JSON");
    let json = serde_json::to_string(&s).expect("serializes");
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(&json).expect("JSON")
    );
    let _: Summary = serde_json::from_value(back).expect("the data is the summary JSON");
    let run: serde_json::Value = serde_json::from_str(embedded(&html, "run")).expect("run facts");
    assert_eq!(run["slices"], 2);
}

#[test]
fn the_page_is_self_contained_with_the_vendored_chart_library() {
    let html = page_of(&summary());
    assert!(!html.contains("<script src"), "no external script");
    assert!(!html.contains("<link"), "no external stylesheet");
    assert!(html.contains("var uPlot"), "uPlot is embedded");
    assert!(
        html.contains("document.body.dataset.charts"),
        "the page script is embedded"
    );
    for id in ["charts-regions", "charts-requests", "charts-spectrum"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert_eq!(
        html.matches("</script>").count(),
        4,
        "data, run, uPlot, page script"
    );
}

#[test]
fn user_strings_in_markup_are_html_escaped() {
    let html = page_of(&summary());
    assert!(html.contains("a&lt;b&gt;&amp;.yaml"), "the scenario file");
    assert!(!html.contains("a<b>&.yaml"));
    assert!(html.contains("&lt;b&gt;abort&lt;/b&gt;"), "a marker label");
    assert!(
        html.contains("http_req_failed{name:&lt;i&gt;}"),
        "a threshold"
    );
    assert!(!html.contains("<i>"));
}

#[test]
fn thresholds_show_their_verdict_and_observed_value() {
    let html = page_of(&summary());
    let thresholds = &html[html.find("id=\"thresholds\"").expect("section")..];
    assert!(thresholds.contains("<span class=\"bad\">✗</span></td><td><code>http_req_failed"));
    assert!(
        thresholds.contains("25.00%"),
        "the observed rate with its unit"
    );
    assert!(html.contains("class=\"verdict bad\" id=\"verdict\">thresholds crossed<"));
}

#[test]
fn the_run_section_shows_workers_slices_cost_and_skew_per_region() {
    let html = page_of(&summary());
    let run = &html[html.find("<section id=\"run\">").expect("run section")..];
    assert!(
        run.contains("2 per worker slot · slice 2s · 1769 MB"),
        "slices"
    );
    assert!(run.contains("cost per million requests"));
    assert!(run.contains("dropped iterations"));
    assert!(run.contains("Nothing was skipped or lost."));
    for region in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
        assert!(run.contains(&format!("<tr><td>{region}</td>")), "{region}");
    }
    assert!(
        run.contains("<td>2.0s</td><td>slice</td><td>slice 2</td>"),
        "markers"
    );
}

#[test]
fn the_phase_breakdown_has_a_row_per_region_with_its_medians_stacked() {
    let html = page_of(&summary());
    let phases = &html[html
        .find("<section id=\"phases\">")
        .expect("phases section")..];
    let phases = &phases[..phases.find("</section>").expect("end")];
    assert_eq!(phases.matches("<tr><td>").count(), 3, "one row per region");
    assert!(
        phases.contains("<th><span class=\"swatch tls_handshaking\"></span>tls_handshaking</th>")
    );
    assert!(
        phases.contains("<td>2.00ms / 4.00ms / 6.00ms</td>"),
        "waiting in us-east-1"
    );
}

#[test]
fn escape_covers_the_five_html_specials() {
    assert_eq!(
        escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}
