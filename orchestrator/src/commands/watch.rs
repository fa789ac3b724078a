//! `sls-load watch RUN_ID`: reattaches to a run in progress from another terminal,
//! shows live progress from the store until every worker reported (or the load
//! ended a minute ago), then reports as `report` does (`--out` outputs get the run's seconds once
//! it is settled). It invokes nothing.

use std::time::Duration;

use super::{Error, finish};
use crate::cloud::Cloud;
use crate::options::ReportOptions;
use crate::progress::{self, Display};
use sls_load_report::collect::{self, Collected};

/// How long after the load's end a watched run's stragglers are waited for.
const GRACE: Duration = Duration::from_secs(60);

/// `sls-load watch RUN_ID`: follows a run from the store, then reports it.
pub async fn watch(opts: ReportOptions) -> Result<(), Error> {
    // `--local` typed here needs no announcement: the mode is the one asked for.
    if opts.cloud.why != crate::cloud::Why::LocalFlag {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::store_only(&opts.cloud).await?;
    let outcome = async {
        let outputs = crate::export::out::Outputs::open(&opts.outputs, opts.run_id.as_ref())?;
        let mut collected = follow(&cloud, &opts).await?;
        super::run::finish_outputs(outputs, &mut collected).await;
        finish(
            &cloud,
            &collected,
            opts.summary_export.as_deref(),
            &opts.ci,
            false,
        )
        .await
    }
    .await;
    cloud.shutdown().await;
    outcome
}

/// Shows the run's progress until its workers finished or the grace ran out;
/// returns what was read.
async fn follow(cloud: &Cloud, opts: &ReportOptions) -> Result<Collected, Error> {
    let plan = collect::load_plan(&cloud.store, &opts.run_id).await?;
    let invoked = plan.worker_count();
    let deadline = plan.load_ends_at() + GRACE;
    let mut collected = Collected::new(plan);
    // `--out`: the closed seconds are handed to the outputs once the run is settled.
    collected.keep_closed(!opts.outputs.is_empty());
    let mut display = Display::new(&collected.plan, false);
    let followed = progress::follow(
        &cloud.store,
        &mut collected,
        &|| invoked,
        &mut display,
        deadline,
        sls_load_plan::cost::POLL_EVERY,
        &|_| None,
    )
    .await;
    display.finish();
    followed?;
    collected.settle(&cloud.store).await?;
    Ok(collected)
}
