//! `sls-load run`: loads the scenario, lays the run out, brings the cloud up,
//! plans once with the real results location and lead, stores the plan, then
//! fans out the invocations while following progress (and, as a test hook,
//! injecting a fault), and ends with the shared [`finish`].
//!
//! Ctrl-C or SIGTERM stops the run through its control object, waits a bounded
//! time for the workers' last flush and ends with a summary marked interrupted;
//! a second one quits at once ([`super::interrupt`]). An `abortOnFail`
//! threshold that fails on the live state ([`sls_load_report::judge::abort`]) stops the run the
//! same way, with a stop order naming it (the summary is then marked aborted). With `--heartbeat` the
//! heartbeat object is refreshed while the run is followed.
//!
//! It sequences; the timing of slices is [`crate::fanout`]'s, the live display
//! [`crate::progress`]'s, and the summary [`sls_load_report::summary`]'s.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use sls_load_core::job::{ObjectKey, ResultsLocation};

use super::interrupt::{self, Signals, Stopping};
use super::{Error, finish, load_scenario};
use crate::cloud::{Cloud, Mode};
use crate::export::out::Outputs;
use crate::fanout::{self, FanOut, InvocationCount};
use crate::invoke::{InvokeError, LambdaInvoker};
use crate::network::NetworkProfiles;
use crate::options::RunOptions;
use crate::progress::{self, Display};
use sls_load_plan::plan::{self, Layout, Plan};
use sls_load_plan::scenario::Scenario;
use sls_load_report::collect::Collected;
use sls_load_report::readable::plural;
use sls_load_report::store::Store;

/// Lead time in AWS: invocations, cold starts and clock checks before the start.
pub const AWS_LEAD: Duration = Duration::from_secs(10);

/// `sls-load run`.
pub async fn run(opts: RunOptions) -> Result<(), Error> {
    let mut signals = Signals::listen();
    let mut scenario = load_scenario(
        &opts.scenario,
        opts.target.as_deref(),
        &opts.plan.overrides,
        &opts.env.0,
    )?;
    // A k6 script's `setup()`, once, before anything is planned: its data
    // travels in every job.
    let (script_env, target) = (&opts.env.0, opts.target.as_deref());
    crate::script::run_setup(&opts.scenario, &mut scenario, script_env, target).await?;
    check_events(&scenario, opts.allow_exec)?;
    // `{{__ENV.NAME}}` values: checked before anything starts, sent only in
    // payloads. A script's `__ENV` is every `-e` value (never sls-load's own
    // environment: it would travel to the workers).
    let env = match scenario.script {
        Some(_) => opts.env.0.clone(),
        None => opts
            .env
            .resolve(&sls_load_plan::scenario::secrets::env_names(&scenario))?,
    };
    sls_load_plan::scenario::secrets::check_header_env(&scenario, &env)?;
    // Lay the run out first: bad flags fail before anything starts.
    crate::preflight::check_memory(opts.plan.memory_mb)?;
    let layout = opts.plan.layout(&scenario)?;
    check_pause_regions(&scenario, &layout)?;
    preflight(&opts, &scenario, &layout)?;
    if !opts.quiet {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::for_run(&opts.cloud, &layout.region_names()).await?;
    if let Err(e) = worker_ready(&opts, &cloud, &layout).await {
        cloud.shutdown().await;
        return Err(e);
    }
    print_header(&opts, &cloud, &layout);
    let network = match network_profiles(&opts, &cloud, &scenario, &layout).await {
        Ok(network) => network,
        Err(e) => {
            cloud.shutdown().await;
            return Err(e);
        }
    };
    let lead = opts
        .lead
        .unwrap_or_else(|| default_lead(cloud.mode, layout.slots()));
    let outcome = run_planned(&opts, &cloud, &scenario, lead, &env, &network, &mut signals).await;
    drop(network);
    cloud.shutdown().await;
    crate::script::run_teardown(&opts.scenario, &scenario, script_env, target).await;
    outcome
}

/// In AWS mode, the cheap part of `doctor` before anything is invoked: the
/// function exists in every region with the architecture and memory the plan
/// uses, a timeout that holds a slice and no retries.
async fn worker_ready(opts: &RunOptions, cloud: &Cloud, layout: &Layout) -> Result<(), Error> {
    if cloud.mode != Mode::Aws {
        return Ok(());
    }
    let expected = crate::doctor::checks::Expected {
        arch: opts.plan.arch.to_string(),
        memory_mb: opts.plan.memory_mb,
    };
    let failed = crate::doctor::cheap(
        opts.cloud.profile.as_deref(),
        &layout.region_names(),
        &opts.cloud.function,
        &expected,
    )
    .await;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::NotReady(failed))
    }
}

/// The lead when `--lead` is not given: locally 2 s plus 20 ms per worker slot
/// (process starts), in AWS [`AWS_LEAD`].
fn default_lead(mode: Mode, slots: usize) -> Duration {
    match mode {
        Mode::Local => Duration::from_secs(2) + Duration::from_millis(20) * slots as u32,
        Mode::Aws => AWS_LEAD,
    }
}

/// The preflight of [`crate::preflight`] before anything starts: the guard on
/// targets (`--yes`), then a provisional plan (no results location yet) for the
/// connections, payload and `--max-cost` checks; rate notes are printed. The
/// quota is checked later, in AWS mode, against the account's real figure.
fn preflight(opts: &RunOptions, scenario: &Scenario, layout: &Layout) -> Result<(), Error> {
    crate::preflight::check_target(scenario, layout.slots(), opts.yes, opts.plan.expect_latency)?;
    let lead = opts
        .lead
        .unwrap_or_else(|| default_lead(opts.cloud.mode, layout.slots()));
    let results = ResultsLocation {
        bucket: String::new(),
        region: sls_load_core::job::Region::us_east_1(),
    };
    let plan_options =
        opts.plan
            .plan_options(opts.run_id.clone(), SystemTime::now(), lead, results);
    let plan = plan::plan(scenario, &plan_options)?;
    crate::preflight::check_plan_and_cost(scenario, &plan, opts.plan.max_cost)?;
    for note in crate::preflight::rate_notes(scenario, &plan) {
        eprintln!("sls-load: preflight: {note}");
    }
    Ok(())
}

/// Local mode with profiles on (the scenario names `target_region:` or
/// `network:`, and no `--no-network-profiles`): starts each region's delaying
/// proxy and prints its profile under the header. Otherwise none.
async fn network_profiles(
    opts: &RunOptions,
    cloud: &Cloud,
    scenario: &Scenario,
    layout: &Layout,
) -> Result<NetworkProfiles, Error> {
    if cloud.mode != Mode::Local || !scenario.network.enabled || opts.no_network_profiles {
        return Ok(NetworkProfiles::default());
    }
    let regions = layout.region_names();
    let profiles = NetworkProfiles::start(&scenario.network, &regions, &scenario.target)
        .await
        .map_err(crate::cloud::CloudError::from)?;
    if !opts.quiet {
        for line in profiles.describe(&regions) {
            eprintln!("sls-load: network profile {line}");
        }
    }
    Ok(profiles)
}

/// `sls-load: run ID · where · N workers (S slots × K slices) over R regions
/// (a, b)`; nothing with `--quiet`.
fn print_header(opts: &RunOptions, cloud: &Cloud, layout: &Layout) {
    if opts.quiet {
        return;
    }
    let regions: Vec<String> = layout
        .region_names()
        .iter()
        .map(|r| r.to_string())
        .collect();
    eprintln!(
        "sls-load: run {} · {} · {} ({} × {}) over {} ({})",
        opts.run_id,
        match (&cloud.identity, opts.cloud.mode) {
            (_, Mode::Local) => format!("local ({})", opts.cloud.local_dir.display()),
            (Some(id), Mode::Aws) => format!("AWS account {}", id.account),
            (None, Mode::Aws) => "AWS".into(),
        },
        plural(layout.worker_count() as u64, "worker", "workers"),
        plural(layout.slots() as u64, "slot", "slots"),
        plural(u64::from(layout.slices), "slice", "slices"),
        plural(layout.regions.len() as u64, "region", "regions"),
        regions.join(", ")
    );
}

/// Plans, stores the plan (credentials redacted), invokes with the `env` values
/// and follows, then finishes; a signal before the first invocation ends it at
/// once, a second one at any time.
async fn run_planned(
    opts: &RunOptions,
    cloud: &Cloud,
    scenario: &Scenario,
    lead: Duration,
    env: &BTreeMap<String, String>,
    network: &NetworkProfiles,
    signals: &mut Signals,
) -> Result<(), Error> {
    let invoker = LambdaInvoker::new(cloud.lambda.clone(), opts.cloud.function.clone());
    let plan = tokio::select! {
        plan = prepare(opts, cloud, scenario, lead, &invoker, network) => plan?,
        _ = signals.next() => return Err(Error::InterruptedBeforeStart(opts.run_id.clone())),
    };
    let mut collected = Collected::new(plan.clone());
    // `--out`: the merge hands over each closed second; the outputs stream them.
    collected.keep_closed(!opts.outputs.is_empty());
    let mut outputs = Outputs::open(&opts.outputs, plan.run_id.as_ref())?;
    let (failures, interrupted) = invoke_and_follow(
        opts,
        cloud,
        &invoker,
        (&mut collected, &mut outputs),
        lead,
        env,
        signals,
    )
    .await?;
    judge_invocations(&failures, &plan)?;
    warn_local_errors(opts, cloud);
    let ending = async {
        // One last look: what was flushed after the last poll, and what failed.
        collected.settle(&cloud.store).await?;
        finish_outputs(outputs, &mut collected).await;
        finish(
            cloud,
            &collected,
            opts.summary_export.as_deref(),
            &opts.ci,
            interrupted,
        )
        .await
    };
    tokio::select! {
        ended = ending => ended,
        _ = signals.next() => Err(Error::Abandoned(opts.run_id.clone())),
    }
}

/// Plans the run and stores what workers read before they start: the plan, the
/// control object (go on) and, with `--heartbeat`, the first heartbeat.
async fn prepare(
    opts: &RunOptions,
    cloud: &Cloud,
    scenario: &Scenario,
    lead: Duration,
    invoker: &LambdaInvoker,
    network: &NetworkProfiles,
) -> Result<Plan, Error> {
    let results = ResultsLocation {
        bucket: cloud.bucket.0.clone(),
        region: cloud.bucket.1.clone(),
    };
    let plan_options =
        opts.plan
            .plan_options(opts.run_id.clone(), SystemTime::now(), lead, results);
    let mut plan = plan::plan(scenario, &plan_options)?;
    plan.cloud = Some(cloud.record(&plan));
    for job in &mut plan.jobs {
        job.heartbeat = opts.heartbeat;
        job.http.connect_to = network.connect_to(&job.region);
    }
    invoker
        .check_concurrency(&plan.concurrency_needed())
        .await?;
    let body =
        serde_json::to_vec_pretty(&*super::shown_plan(&plan)).map_err(Error::encoding("plan"))?;
    // Created only if absent: a run id already in the store is refused, so an old
    // run's objects are never reported as this one's.
    let created = cloud
        .store
        .put_new(&ObjectKey::plan(&opts.run_id), body, "application/json")
        .await?;
    if !created {
        return Err(Error::RunExists(opts.run_id.clone()));
    }
    let mut go_on = sls_load_core::control::Control::running(SystemTime::now());
    // A drill's pause windows, known to every worker before it starts.
    if let Some(drill) = &plan.drill {
        go_on.pauses = crate::events::pause_windows(&drill.events, plan.start_at);
    }
    crate::control::write(&cloud.store, &opts.run_id, &go_on).await?;
    if opts.heartbeat.is_some() {
        crate::control::beat(&cloud.store, &opts.run_id, 0).await?;
    }
    Ok(plan)
}

/// Fans out the invocations (with the `env` values) while following progress, injecting the test fault
/// and refreshing the heartbeat, reading the run into `collected`; returns the
/// invocations that failed and whether a signal stopped the run. After the first
/// signal nothing more is invoked and the stopping run is followed for at most
/// a flush period plus [`interrupt::SETTLE_EXTRA`]; the second ends it at once.
async fn invoke_and_follow(
    opts: &RunOptions,
    cloud: &Cloud,
    invoker: &LambdaInvoker,
    (collected, outputs): (&mut Collected, &mut Outputs),
    lead: Duration,
    env: &BTreeMap<String, String>,
    signals: &mut Signals,
) -> Result<(Vec<InvokeError>, bool), Error> {
    let plan = &collected.plan.clone();
    let fan_out = FanOut {
        lead,
        concurrency: opts.invoke_concurrency.max(1) * plan.regions.len(),
        timings: opts.timings,
    };
    let count = InvocationCount::default();
    let mut display = Display::new(plan, opts.quiet);
    let stopping = Stopping::new();
    let settle_for = opts.plan.flush_every + interrupt::SETTLE_EXTRA;
    let invoking = async {
        tokio::select! {
            failures = fanout::invoke_slices(invoker, plan, env, fan_out, &count) => failures,
            () = stopping.wait() => Vec::new(),
        }
    };
    let following = async {
        tokio::select! {
            followed = follow(cloud, collected, outputs, &mut display, &count) => match followed? {
                None => return Ok::<(), Error>(()),
                Some(threshold) => abort(cloud, &plan.run_id, &threshold, &stopping, settle_for).await,
            },
            () = stopping.wait() => {}
        }
        let until = SystemTime::now() + settle_for;
        interrupt::settle(&cloud.store, collected, &mut display, &count, until).await?;
        Ok(())
    };
    let work = async {
        tokio::join!(
            invoking,
            inject_fault(cloud, plan, opts.local_fault_kill_after),
            following,
            run_events(cloud, plan, env, &stopping),
        )
    };
    let heartbeat = async {
        match opts.heartbeat {
            Some(period) => {
                crate::control::keep_beating(&cloud.store, &plan.run_id, period, 1).await
            }
            None => std::future::pending::<std::convert::Infallible>().await,
        }
    };
    let ordered = interrupt::stop_on_order(&cloud.store, &plan.run_id, &stopping);
    let stop =
        interrupt::stop_on_signal(signals, &cloud.store, &plan.run_id, &stopping, settle_for);
    let (failures, (), followed, ()) = tokio::select! {
        done = work => done,
        never = heartbeat => match never {},
        never = ordered => match never {},
        _ = stop => {
            display.finish();
            return Err(Error::Abandoned(plan.run_id.clone()));
        }
    };
    display.finish();
    followed?;
    Ok((failures, stopping.is_set()))
}

/// A worker's script called `test.abort()`: `test.abort(REASON)`, the stop
/// order the other workers get (k6 stops the whole test).
fn script_aborted(collected: &Collected) -> Option<String> {
    collected
        .manifests
        .values()
        .find_map(|m| m.aborted.as_ref())
        .map(|reason| format!("test.abort({reason})"))
}

/// `abortOnFail`: the threshold `threshold` failed on the live state (or the
/// script called `test.abort()`). Marks the run as stopping (nothing more is
/// invoked) and writes the stop order naming it.
async fn abort(
    cloud: &Cloud,
    run: &sls_load_core::job::RunId,
    threshold: &str,
    stopping: &Stopping,
    settle_for: Duration,
) {
    match threshold.starts_with("test.abort(") {
        true => eprintln!(
            "sls-load: the script called {threshold}: telling the workers to stop; waiting up to {}s for their last flush",
            settle_for.as_secs()
        ),
        false => eprintln!(
            "sls-load: threshold {threshold} failed (abortOnFail): telling the workers to stop; waiting up to {}s for their last flush",
            settle_for.as_secs()
        ),
    }
    stopping.set();
    if let Err(e) = crate::control::stop_by_threshold(&cloud.store, run, threshold).await {
        eprintln!("sls-load: warning: the stop order was not written: {e}");
    }
}

/// Follows the run until every invocation has been made and every worker
/// reported, or the grace after the load's end ran out, or (returned) an
/// `abortOnFail` threshold failed ([`sls_load_report::judge::abort`]).
async fn follow(
    cloud: &Cloud,
    collected: &mut Collected,
    outputs: &mut Outputs,
    display: &mut Display,
    count: &InvocationCount,
) -> Result<Option<String>, Error> {
    let grace = match cloud.mode {
        Mode::Local => Duration::from_secs(15),
        Mode::Aws => Duration::from_secs(60),
    };
    let deadline = collected.plan.load_ends_at() + grace;
    let workers = collected.plan.worker_count();
    let judge = |c: &Collected| {
        script_aborted(c).or_else(|| sls_load_report::judge::abort::failed(c, SystemTime::now()))
    };
    loop {
        // With `--out`, one poll at a time, so that the seconds it closed are
        // streamed at once.
        let until = if outputs.is_empty() {
            deadline
        } else {
            SystemTime::now()
        };
        let aborted = progress::follow(
            &cloud.store,
            collected,
            &|| count.get(),
            display,
            until,
            sls_load_plan::cost::POLL_EVERY,
            &judge,
        )
        .await?;
        outputs.second(&collected.drain_closed());
        if aborted.is_some() {
            return Ok(aborted);
        }
        if collected.finished() >= workers || SystemTime::now() >= deadline {
            return Ok(None);
        }
        if !outputs.is_empty() {
            tokio::time::sleep(sls_load_plan::cost::POLL_EVERY).await;
        }
    }
}

/// Runs a drill's events at their instants (a stopping run cancels those not
/// started) and stores what they did (`events.json`); nothing without events.
async fn run_events(
    cloud: &Cloud,
    plan: &Plan,
    env: &BTreeMap<String, String>,
    stopping: &Stopping,
) {
    let Some(drill) = &plan.drill else { return };
    let (at, who) = (plan.start_at, (&plan.run_id, env));
    let records = crate::events::run_all(&drill.events, at, who, stopping.wait()).await;
    for r in records.iter().filter(|r| r.failed()) {
        eprintln!(
            "sls-load: event {} failed: {}",
            r.name,
            r.error.as_deref().unwrap_or("?")
        );
    }
    if let Err(e) = sls_load_report::drill::events::store(&cloud.store, &plan.run_id, records).await
    {
        eprintln!("sls-load: warning: the drill's events were not stored: {e}");
    }
}

/// `run:` events execute commands: only with `--allow-exec` (exit 2 naming the
/// first such event otherwise).
fn check_events(scenario: &Scenario, allow_exec: bool) -> Result<(), Error> {
    if allow_exec {
        return Ok(());
    }
    match scenario
        .events
        .iter()
        .find(|e| matches!(e.action, sls_load_plan::drill::EventAction::Run { .. }))
    {
        Some(e) => Err(Error::ExecNotAllowed {
            event: e.name.clone(),
        }),
        None => Ok(()),
    }
}

/// A `pause_region` event must name one of the run's regions (`--regions` may
/// have changed them).
fn check_pause_regions(scenario: &Scenario, layout: &Layout) -> Result<(), Error> {
    let names = layout.region_names();
    for e in &scenario.events {
        if let sls_load_plan::drill::EventAction::PauseRegion { region } = &e.action
            && !names.iter().any(|r| r.as_str() == region)
        {
            return Err(Error::PauseRegionNotInRun {
                event: e.name.clone(),
                region: region.clone(),
                regions: names
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(())
}

/// `--out`, once the run is settled: hands over the seconds still open (all
/// closed now), finishes every output and prints one line each.
pub(super) async fn finish_outputs(mut outputs: Outputs, collected: &mut Collected) {
    if outputs.is_empty() {
        return;
    }
    outputs.second(&collected.drain_closed());
    outputs.finish().await;
}

/// Test hook (local mode): kills one busy worker process `after` the start.
async fn inject_fault(cloud: &Cloud, plan: &Plan, after: Option<Duration>) {
    let (Some(after), Some(local)) = (after, cloud.local.as_ref()) else {
        return;
    };
    fanout::sleep_until(plan.start_at + after).await;
    if let Some(lambda) = local.lambdas.values().next() {
        let pid = lambda.kill_one_busy();
        eprintln!("sls-load: fault injection: killed worker process {pid:?}");
    }
}

/// Prints every failed invocation; fails the run when none could be made.
fn judge_invocations(failures: &[InvokeError], plan: &Plan) -> Result<(), Error> {
    for f in failures {
        eprintln!("sls-load: {f}");
    }
    if failures.len() == plan.worker_count() {
        return Err(Error::NoWorkerInvoked {
            count: failures.len(),
            first: failures
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_else(|| "?".into()),
        });
    }
    Ok(())
}

/// Locally, points at the worker logs when local invocations failed.
fn warn_local_errors(opts: &RunOptions, cloud: &Cloud) {
    let Some(local) = &cloud.local else { return };
    let errors: u64 = local.lambdas.values().map(|l| l.stats().errors).sum();
    if errors > 0 {
        eprintln!(
            "sls-load: {errors} local invocation(s) failed; worker logs are in {}",
            opts.cloud.local_dir.join("logs").display()
        );
    }
}
