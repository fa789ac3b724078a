//! `sls-load plan`: plans a scenario as a run would (in AWS, with its lead),
//! runs the preflight checks ([`crate::preflight`]) and prints the plan as a table
//! with its estimated cost, a closed model's estimated peak rate (with what it
//! assumes, `--expect-latency`) and preflight notes, or as the `plan.json` a run would
//! store (credentials redacted, `{{__ENV.NAME}}` as written) with one extra
//! top-level key, `estimate` (the cost), notes then going to stderr. With AWS
//! credentials configured it reads each region's concurrency quota
//! (GetAccountSettings, at most [`QUOTA_WAIT`]); else it checks against Lambda's
//! default. It starts nothing, stores nothing and needs no `-e` values. Hard
//! preflight failures and `--max-cost` end it with exit 2; quota shortfalls are notes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use sls_load_core::job::{Region, ResultsLocation};

use super::{Error, load_scenario};
use crate::options::PlanOnlyOptions;
use crate::preflight;
use sls_load_plan::estimate::RateEstimate;
use sls_load_plan::plan;
use sls_load_plan::plan::Plan;
use sls_load_plan::scenario::Scenario;
use sls_load_report::readable::thousands;
use sls_load_report::render;

/// `sls-load plan`: prints the plan, its estimated cost and its preflight notes.
pub async fn plan(opts: PlanOnlyOptions) -> Result<(), Error> {
    let scenario = load_scenario(&opts.scenario, None, &opts.plan.overrides, &BTreeMap::new())?;
    preflight::check_memory(opts.plan.memory_mb)?;
    // No results location exists without a cloud; the printed plan shows none.
    let results = ResultsLocation {
        bucket: String::new(),
        region: Region::us_east_1(),
    };
    let plan_options = opts.plan.plan_options(
        opts.run_id,
        SystemTime::now(),
        super::run::AWS_LEAD,
        results,
    );
    let plan = plan::plan(&scenario, &plan_options)?;
    let preflight::Checked { expected, cost } =
        preflight::check_plan_and_cost(&scenario, &plan, opts.plan.max_cost)?;
    let latency = opts.plan.expect_latency;
    let notes = notes(&scenario, &plan, latency, account_concurrency(&plan).await);
    if opts.json {
        let mut json =
            serde_json::to_value(&*super::shown_plan(&plan)).map_err(Error::encoding("plan"))?;
        if let Some(object) = json.as_object_mut() {
            let estimate = serde_json::to_value(&cost).map_err(Error::encoding("plan"))?;
            object.insert("estimate".into(), estimate);
        }
        let mut text = serde_json::to_string_pretty(&json).map_err(Error::encoding("plan"))?;
        text.push('\n');
        for note in &notes {
            eprintln!("sls-load: preflight: {note}");
        }
        return super::stdout(&text);
    }
    let mut text = render::plan(&plan, expected, &cost, &plan.concurrency_needed());
    text.push_str(&estimate_line(&RateEstimate::of(&scenario, latency)));
    if !notes.is_empty() {
        text.push_str("\n  preflight:\n");
        for note in &notes {
            text.push_str(&format!("    {note}\n"));
        }
    }
    super::stdout(&text)
}

/// The preflight notes of a plan that may still run: concurrency against
/// Lambda's default quota, rate per worker, and whether `run` will need `--yes`.
fn notes(scenario: &Scenario, plan: &Plan, latency: Duration, account: Account) -> Vec<String> {
    let (figures, failure) = match account {
        Account::Unknown => (None, None),
        Account::Read(figures) => (Some(figures), None),
        Account::Failed(why) => (None, Some(why)),
    };
    let mut notes = Vec::from_iter(failure);
    notes.extend(preflight::concurrency_notes(
        &plan.concurrency_needed(),
        figures.as_ref(),
    ));
    notes.extend(preflight::rate_notes(scenario, plan));
    let slots = plan.regions.iter().map(|r| r.slots).sum();
    if let Err(e) = preflight::check_target(scenario, slots, false, latency) {
        notes.push(format!("`run` will need --yes: {e}"));
    }
    notes
}

/// The plan's peak request rate when a closed model makes it an estimate: the
/// figure and what it assumes (nothing for open models alone, whose rate the
/// table shows).
fn estimate_line(e: &RateEstimate) -> String {
    if e.vus == 0 {
        return String::new();
    }
    let rps = match e.total().is_finite() {
        true => format!("~{} req/s", thousands(e.total().round() as u64)),
        false => "as fast as the target answers".to_owned(),
    };
    format!(
        "  expected rate at peak: {rps} (estimate: {} VUs, each one request per think time + {} response time assumed; --expect-latency){}\n",
        thousands(e.vus),
        humantime::format_duration(e.latency),
        match e.open > 0.0 {
            true => format!(
                ", of which {} req/s open model",
                thousands(e.open.round() as u64)
            ),
            false => String::new(),
        }
    )
}

/// The longest `plan` waits for the account's concurrency figures.
pub const QUOTA_WAIT: Duration = Duration::from_secs(10);

/// What `plan` learned of the account's Lambda concurrency.
enum Account {
    /// No AWS credentials configured: Lambda's default applies.
    Unknown,
    /// Unreserved concurrent executions per region.
    Read(BTreeMap<Region, i64>),
    /// Reading failed: the note saying so.
    Failed(String),
}

/// With AWS credentials configured (`AWS_PROFILE` honoured), each planned region's
/// concurrency figure, read within [`QUOTA_WAIT`].
async fn account_concurrency(plan: &Plan) -> Account {
    if crate::cloud::choose_mode(false, false) != crate::cloud::Mode::Aws {
        return Account::Unknown;
    }
    let regions: Vec<Region> = plan.regions.iter().map(|r| r.region.clone()).collect();
    let profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let read = async {
        let clients = crate::cloud::Cloud::aws_lambda_clients(profile, &regions).await;
        let invoker = crate::invoke::LambdaInvoker::new(clients, String::new());
        let mut figures = BTreeMap::new();
        for region in &regions {
            if let Some(n) = invoker.available_concurrency(region).await? {
                figures.insert(region.clone(), n);
            }
        }
        Ok::<_, crate::invoke::ConcurrencyError>(figures)
    };
    match tokio::time::timeout(QUOTA_WAIT, read).await {
        Ok(Ok(figures)) => Account::Read(figures),
        Ok(Err(e)) => Account::Failed(format!(
            "could not read the account's concurrency ({e}); checked against Lambda's default instead"
        )),
        Err(_) => Account::Failed(format!(
            "no answer from GetAccountSettings within {}; checked against Lambda's default instead",
            humantime::format_duration(QUOTA_WAIT)
        )),
    }
}
