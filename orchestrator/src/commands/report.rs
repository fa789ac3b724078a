//! `sls-load report RUN_ID`: rebuilds a run's report from the results store alone
//! (collect → merge → summary), exactly as the run itself reported it. It invokes
//! nothing and follows no progress. With `--out` the stored run is replayed into
//! the outputs (every closed second, then their end lines) before the summary.

use super::{Error, finish};
use crate::cloud::Cloud;
use crate::options::ReportOptions;
use sls_load_report::collect;

/// `sls-load report RUN_ID`.
pub async fn report(opts: ReportOptions) -> Result<(), Error> {
    // `--local` typed here needs no announcement: the mode is the one asked for.
    if opts.cloud.why != crate::cloud::Why::LocalFlag {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::store_only(&opts.cloud).await?;
    let outcome = async {
        let collected = if opts.outputs.is_empty() {
            collect::collect(&cloud.store, &opts.run_id).await?
        } else {
            // `--out`: the stored run replayed into the outputs.
            let plan = collect::load_plan(&cloud.store, &opts.run_id).await?;
            let outputs = crate::export::out::Outputs::open(&opts.outputs, plan.run_id.as_ref())?;
            let mut collected = collect::Collected::new(plan);
            collected.keep_closed(true);
            collected.settle(&cloud.store).await?;
            super::run::finish_outputs(outputs, &mut collected).await;
            collected
        };
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
