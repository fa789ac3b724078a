//! Turns the raw file shape into a validated [`Scenario`], making the checks that
//! need more than one value: an executor's keys and schedule (`executor`), each
//! request's URL, templates, captures and checks (`requests`, `checks`), the
//! `http` block (`protocol`), threshold tag filters and the job size, here.
//! Errors point at the key path, with its line found in the file's text.
//!
//! It does not read YAML (the `raw` shape does, with its leaf checks) and does not
//! parse data or CA files itself (`files` does).

mod checks;
mod events;
mod executor;
mod protocol;
mod requests;
mod scope;
mod shortcuts;

pub use shortcuts::{DEFAULT_MAX_DURATION, DEFAULT_SCENARIO};

use std::path::Path;
use std::time::Duration;

use sls_load_core::job::Region;

use crate::threshold::Threshold;

use super::error::ScenarioError;
use super::files::load_data;
use super::locate::Seg;
use super::raw::{Distribution, RawFile, RawNetwork, RawScenarioDef, Regions, Thresholds};
use super::{DEFAULT_REQUEST_TIMEOUT, DEFAULT_WORKER_RATE, DataSet, Scenario, ScenarioDef};

/// The largest job payload a worker may get: Lambda takes at most 256 KB for an
/// asynchronous invocation, and the job's own fields need room too.
pub const MAX_JOB_PAYLOAD: usize = 200 * 1024;

/// The file being built, for errors: its name and its text (to find a key's line).
#[derive(Clone, Copy)]
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    /// The one scenario was built from the top-level shortcuts: its keys are
    /// reported without the `scenarios.default.` the file does not have.
    shortcuts: bool,
}

impl Ctx<'_> {
    /// An error about the value at `path`.
    fn fail(&self, path: &[Seg<'_>], message: String) -> ScenarioError {
        let path = match path {
            [Seg::Key("scenarios"), Seg::Key(DEFAULT_SCENARIO), rest @ ..]
                if self.shortcuts && !rest.is_empty() =>
            {
                rest
            }
            _ => path,
        };
        ScenarioError::at(self.file, self.text, path, &message)
    }

    /// An error about the file as a whole.
    fn fail_top(&self, message: &str) -> ScenarioError {
        ScenarioError::new(self.file, None, None, message)
    }
}

/// The key path `scenarios.{name}` followed by `rest`.
fn in_scenario<'a>(name: &'a str, rest: &[Seg<'a>]) -> Vec<Seg<'a>> {
    let mut path = vec![Seg::Key("scenarios"), Seg::Key(name)];
    path.extend_from_slice(rest);
    path
}

/// Load zones with their weights.
type Weighted = Vec<(Region, f64)>;

/// The run's load zones: the `regions` map, or k6's `distribution` (not both), else
/// the default region; and the notice to print when `distribution`'s percents do
/// not sum to 100.
fn load_zones(
    ctx: Ctx<'_>,
    regions: Option<Regions>,
    distribution: Option<Distribution>,
) -> Result<(Weighted, Vec<String>), ScenarioError> {
    match (regions, distribution) {
        (Some(_), Some(_)) => Err(ctx.fail(
            &[Seg::Key("distribution")],
            "`regions` and `distribution` both set the load zones; keep one".to_owned(),
        )),
        (Some(regions), None) => Ok((regions.0, Vec::new())),
        (None, Some(zones)) => {
            let sum: f64 = zones.0.iter().map(|(_, p)| p).sum();
            let notices = if (sum - 100.0).abs() > 1e-9 {
                vec![format!(
                    "distribution percents sum to {sum}; renormalised to 100"
                )]
            } else {
                Vec::new()
            };
            Ok((zones.0, notices))
        }
        (None, None) => Ok((vec![(Region::us_east_1(), 1.0)], Vec::new())),
    }
}

/// Checks `raw` as a whole and fills in defaults; `text` is the file's text, for
/// error lines.
pub(super) fn build(file: &Path, text: &str, mut raw: RawFile) -> Result<Scenario, ScenarioError> {
    let mut ctx = Ctx {
        file,
        text,
        shortcuts: false,
    };
    let (regions, notices) = load_zones(ctx, raw.regions.take(), raw.distribution.take())?;

    ctx.shortcuts = raw.scenarios.is_none();
    let defs = shortcuts::scenarios(ctx, &mut raw)?;
    let run = shortcuts::run_duration(ctx, raw.duration, &defs)?;
    let mut scenarios = Vec::with_capacity(defs.len());
    for (name, def) in defs {
        scenarios.push(scenario(ctx, &raw.target, run, name, def)?);
    }
    check_payload(ctx, &scenarios)?;
    let thresholds = thresholds(ctx, raw.thresholds, &scenarios, &regions)?;
    let mut http = protocol::options(ctx, raw.http)?;
    http.dns = raw.dns.map(|d| d.into_options()).unwrap_or_default();
    let http = protocol::with_drill_headers(http, raw.served_by, raw.region_header);
    let network = network(ctx, raw.target_region, raw.network)?;
    let events = events::events(ctx, raw.events.take(), run, &regions)?;
    let drill = events::settings(raw.drill.take());
    events::check_thresholds(ctx, &thresholds, &events)?;

    Ok(Scenario {
        file: file.to_owned(),
        target: raw.target,
        duration: run,
        regions,
        request_timeout: raw.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        worker_rate: raw.worker_rate.unwrap_or(DEFAULT_WORKER_RATE),
        scenarios,
        thresholds,
        http,
        allowed_targets: raw
            .allowed_targets
            .unwrap_or_default()
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        network,
        notices,
        events,
        drill,
        script: None,
    })
}

/// The local network profiles: on when the file names `target_region:` or
/// `network:` (unless `network: off`).
fn network(
    ctx: Ctx<'_>,
    target_region: Option<Region>,
    raw: Option<RawNetwork>,
) -> Result<crate::network::Network, ScenarioError> {
    let named = target_region.is_some() || raw.is_some();
    let mut network = crate::network::Network {
        target_region: target_region.unwrap_or_else(Region::us_east_1),
        enabled: named,
        ..Default::default()
    };
    match raw {
        None => {}
        Some(RawNetwork::Switch(s)) if s == "off" => network.enabled = false,
        Some(RawNetwork::Switch(s)) => {
            return Err(ctx.fail(
                &[Seg::Key("network")],
                format!("`{s}`: expected `off` or profiles like {{ eu-west-1: {{ rtt: 100ms, jitter: 5ms }} }}"),
            ));
        }
        Some(RawNetwork::Regions(regions)) => {
            for (region, p) in regions {
                let profile = crate::network::Profile {
                    rtt: p.rtt,
                    jitter: p.jitter.unwrap_or_default(),
                };
                network.overrides.insert(region, profile);
            }
        }
    }
    Ok(network)
}

/// One named scenario of a test that lasts `run`: its executor and schedule, its
/// data file and its requests against `target`.
fn scenario(
    ctx: Ctx<'_>,
    target: &str,
    run: Duration,
    name: String,
    def: RawScenarioDef,
) -> Result<ScenarioDef, ScenarioError> {
    executor::check_keys(ctx, &name, &def)?;
    let executor = executor::executor(ctx, &name, &def)?;
    let (start_time, duration) = executor::schedule(ctx, &name, &def, &executor, run)?;
    let data = data(ctx, &name, &def)?;
    let columns: Vec<String> = data
        .as_ref()
        .map(|d| d.rows.columns.clone())
        .unwrap_or_default();
    let requests = requests::requests(ctx, &name, target, &columns, def.requests.0)?;
    // VU executors hold their peak as VUs, so the planner keeps every worker
    // within its connection budget.
    let peak = executor.peak_vus();
    Ok(ScenarioDef {
        pre_allocated_vus: peak.or(def.pre_allocated_vus),
        max_vus: peak.or(def.max_vus),
        executor,
        requests,
        name,
        start_time,
        duration,
        arrivals: def.arrivals.unwrap_or_default(),
        data,
        graceful_stop: def
            .graceful_stop
            .unwrap_or(crate::scenario::DEFAULT_GRACEFUL_STOP),
    })
}

/// The scenario's data file, if it names one, read beside the scenario file.
fn data(ctx: Ctx<'_>, name: &str, def: &RawScenarioDef) -> Result<Option<DataSet>, ScenarioError> {
    let Some(d) = &def.data else {
        return Ok(None);
    };
    load_data(ctx.file, &d.file)
        .map(Some)
        .map_err(|m| ctx.fail(&in_scenario(name, &[Seg::Key("data"), Seg::Key("file")]), m))
}

/// The thresholds in file order, each tag filter naming something of this file.
fn thresholds(
    ctx: Ctx<'_>,
    raw: Option<Thresholds>,
    scenarios: &[ScenarioDef],
    regions: &[(Region, f64)],
) -> Result<Vec<Threshold>, ScenarioError> {
    let mut thresholds = Vec::new();
    for (key, list) in raw.map(|t| t.0).unwrap_or_default() {
        for t in list {
            if let Err(message) = check_selector(&t, scenarios, regions) {
                return Err(ctx.fail(&[Seg::Key("thresholds"), Seg::Key(&key)], message));
            }
            thresholds.push(t);
        }
    }
    Ok(thresholds)
}

/// Refuses a scenario whose requests and data rows would not fit in one worker's
/// job. A run with one worker gets every row, so the whole files must fit.
fn check_payload(ctx: Ctx<'_>, scenarios: &[ScenarioDef]) -> Result<(), ScenarioError> {
    let size = |s: &ScenarioDef| {
        let requests = serde_json::to_vec(&s.requests).map_or(0, |v| v.len());
        let data = s
            .data
            .as_ref()
            .and_then(|d| serde_json::to_vec(&d.rows).ok())
            .map_or(0, |v| v.len());
        (requests, data)
    };
    let total: usize = scenarios
        .iter()
        .map(|s| {
            let (r, d) = size(s);
            r + d
        })
        .sum();
    if total <= MAX_JOB_PAYLOAD {
        return Ok(());
    }
    let kb = |n: usize| n.div_ceil(1024);
    let biggest = scenarios.iter().max_by_key(|s| size(s).1);
    let (path, what) = match biggest.and_then(|s| s.data.as_ref().map(|d| (s, d))) {
        Some((s, d)) if size(s).1 > 0 => (
            vec![
                Seg::Key("scenarios"),
                Seg::Key(&s.name),
                Seg::Key("data"),
                Seg::Key("file"),
            ],
            format!(
                "`{}` is {} KB of rows as job JSON",
                d.file.display(),
                kb(size(s).1)
            ),
        ),
        _ => (vec![Seg::Key("scenarios")], "the requests are".to_owned()),
    };
    Err(ctx.fail(
        &path,
        format!(
            "{what} ({} KB in all); a worker's job must stay under {} KB (Lambda limits \
             asynchronous invocations to 256 KB, and one worker may get every row): use fewer \
             or shorter rows",
            kb(total),
            MAX_JOB_PAYLOAD / 1024
        ),
    ))
}

/// A threshold's tag filter must name a request or a region of this file; otherwise it
/// would silently never match anything.
fn check_selector(
    threshold: &Threshold,
    scenarios: &[ScenarioDef],
    regions: &[(Region, f64)],
) -> Result<(), String> {
    let Some((tag, value)) = &threshold.selector else {
        return Ok(());
    };
    let (known, what): (Vec<&str>, _) = match tag.as_str() {
        "name" => (
            scenarios
                .iter()
                .flat_map(|s| s.requests.iter().map(|r| r.name.as_str()))
                .collect(),
            "request name",
        ),
        "region" => (regions.iter().map(|(r, _)| r.as_str()).collect(), "region"),
        "scenario" => (
            scenarios.iter().map(|s| s.name.as_str()).collect(),
            "scenario",
        ),
        _ => return Ok(()),
    };
    if known.contains(&value.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a {what} of this file (known: {})",
            known.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::test_support::*;
    use sls_load_core::job::Region;

    fn zones(s: &crate::scenario::Scenario) -> Vec<(&str, f64)> {
        s.regions.iter().map(|(r, w)| (r.as_str(), *w)).collect()
    }

    #[test]
    fn network_profiles_are_on_only_when_the_file_names_them_and_off_turns_them_off() {
        use std::time::Duration;
        let n = ok(MINIMAL).network;
        assert!(!n.enabled);
        assert_eq!(n.target_region, Region::us_east_1());
        let n = ok(&format!("{MINIMAL}target_region: eu-west-1\n")).network;
        assert!(n.enabled);
        assert_eq!(n.target_region.as_str(), "eu-west-1");
        let n = ok(&format!(
            "{MINIMAL}network:\n  eu-west-1: {{ rtt: 100ms, jitter: 5ms }}\n  ap-southeast-1: {{ rtt: 0s }}\n"
        ))
        .network;
        assert!(n.enabled);
        let eu = n.overrides[&Region::new("eu-west-1").unwrap()];
        assert_eq!(
            (eu.rtt, eu.jitter),
            (Duration::from_millis(100), Duration::from_millis(5))
        );
        let ap = n.overrides[&Region::new("ap-southeast-1").unwrap()];
        assert_eq!((ap.rtt, ap.jitter), (Duration::ZERO, Duration::ZERO));
        let n = ok(&format!(
            "{MINIMAL}target_region: eu-west-1\nnetwork: off\n"
        ))
        .network;
        assert!(!n.enabled);
        let line = error(&format!("{MINIMAL}network: maybe\n"));
        assert_contains(&line, &[":9:", "network", "off"]);
        error(&format!("{MINIMAL}target_region: Not A Region\n"));
    }

    #[test]
    fn a_k6_distribution_sets_the_load_zones_as_aws_regions() {
        let s = ok(&format!(
            "{MINIMAL}distribution:\n\
             \x20 east: {{ loadZone: \"amazon:us:ashburn\", percent: 50 }}\n\
             \x20 dublin: {{ loadZone: amazon:ie:dublin, percent: 30 }}\n\
             \x20 sg: {{ loadZone: \"amazon:ap-southeast-1\", percent: 20 }}\n"
        ));
        assert_eq!(
            zones(&s),
            [
                ("us-east-1", 50.0),
                ("eu-west-1", 30.0),
                ("ap-southeast-1", 20.0)
            ]
        );
        assert!(s.notices.is_empty());
        assert_eq!(ok(MINIMAL).regions, [(Region::us_east_1(), 1.0)]);
    }

    #[test]
    fn distribution_percents_not_summing_to_100_are_renormalised_with_a_notice() {
        let s = ok(&format!(
            "{MINIMAL}distribution:\n\
             \x20 a: {{ loadZone: us-east-1, percent: 45 }}\n\
             \x20 b: {{ loadZone: amazon:jp:tokyo, percent: 30 }}\n"
        ));
        assert_eq!(zones(&s), [("us-east-1", 45.0), ("ap-northeast-1", 30.0)]);
        assert_eq!(
            s.notices,
            ["distribution percents sum to 75; renormalised to 100"]
        );
    }

    #[test]
    fn distribution_errors_name_the_line_and_key() {
        let e = error(&format!(
            "{MINIMAL}distribution:\n  a: {{ loadZone: us-eest-1, percent: 50 }}\n"
        ));
        assert_contains(
            &e,
            &[
                ":10: distribution.a.loadZone: ",
                "`us-eest-1` is not an AWS region or k6 load zone; did you mean us-east-1?",
            ],
        );
        let e = error(&format!(
            "{MINIMAL}distribution:\n  a: {{ loadZone: \"amazon:us:ashbrun\", percent: 0 }}\n"
        ));
        assert_contains(&e, &["did you mean amazon:us:ashburn?"]);
        let e = error(&format!(
            "{MINIMAL}regions: [us-east-1]\ndistribution:\n  a: {{ loadZone: us-east-1, percent: 50 }}\n"
        ));
        assert_contains(
            &e,
            &[
                ":10: distribution: ",
                "`regions` and `distribution` both set the load zones; keep one",
            ],
        );
    }

    #[test]
    fn load_zone_is_the_region_tag_in_threshold_filters() {
        let s = ok(&format!(
            "{MINIMAL}regions: [us-east-1]\nthresholds:\n  \
             http_req_duration{{load_zone:amazon:us:ashburn}}: [\"p(95)<500\"]\n"
        ));
        assert_eq!(
            s.thresholds[0].selector,
            Some(("region".to_owned(), "us-east-1".to_owned()))
        );
    }

    #[test]
    fn threshold_tag_filters_must_name_an_existing_request_or_region() {
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration{{name:hoem}}: [\"p(95)<500\"]\n"
        ));
        assert_eq!(
            e,
            "load/browse.yaml:10: thresholds.http_req_duration{name:hoem}: `hoem` is not a \
             request name of this file (known: home)"
        );
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_failed{{region:eu-west-1}}: [\"rate<0.01\"]\n"
        ));
        assert_contains(
            &e,
            &["`eu-west-1` is not a region of this file (known: us-east-1)"],
        );
    }

    #[test]
    fn data_that_would_not_fit_in_a_job_is_refused_with_its_size() {
        let mut csv = String::from("id,name\n");
        for i in 0..8000 {
            csv.push_str(&format!("{i},user-{i}-with-a-longer-name\n"));
        }
        let e = load_with(&[("users.csv", &csv)], &with_data("users.csv"))
            .expect_err("too big")
            .to_string();
        assert_contains(
            &e,
            &[
                ":9: scenarios.browse.data.file: `users.csv` is ",
                " KB of rows as job JSON",
                "a worker's job must stay under 200 KB",
            ],
        );
    }
}
