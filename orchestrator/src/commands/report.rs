//! `sls-load report RUN_ID`: rebuilds a run's report from the results store alone
//! (collect → merge → summary), exactly as the run itself reported it. It invokes
//! nothing and follows no progress.

use super::{Error, finish};
use crate::cloud::Cloud;
use crate::collect;
use crate::options::ReportOptions;

/// `sls-load report RUN_ID`.
pub async fn report(opts: ReportOptions) -> Result<(), Error> {
    // `--local` typed here needs no announcement: the mode is the one asked for.
    if opts.cloud.why != crate::cloud::Why::LocalFlag {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::store_only(&opts.cloud).await?;
    let outcome = async {
        let plan = collect::load_plan(&cloud.store, &opts.run_id).await?;
        let mut collected = collect::Collected::new(plan);
        // A drill's analysis reads every tag set's closed seconds.
        collected.keep_closed(collected.plan.drill.is_some());
        collected.settle(&cloud.store).await?;
        finish(
            &cloud,
            &mut collected,
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
