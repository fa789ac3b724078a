//! `sls-load stop RUN_ID`: tells a run's workers to stop, from any terminal, by
//! writing the run's control object. The workers read it within
//! [`CHECK_EVERY`], stop sending, flush and write their manifests with
//! `stopped: true`; the `run` (or `watch`) following the run then reports it as
//! interrupted.
//!
//! It refuses a run that has no plan (an unknown run id). It does not wait for
//! the workers, nor report: `watch` or `report` do that.

use sls_load_core::control::{CHECK_EVERY, reasons};

use super::Error;
use crate::cloud::Cloud;
use crate::control;
use crate::options::StopOptions;
use sls_load_report::collect;

/// `sls-load stop RUN_ID`.
pub async fn stop(opts: StopOptions) -> Result<(), Error> {
    // `--local` typed here needs no announcement: the mode is the one asked for.
    if opts.cloud.why != crate::cloud::Why::LocalFlag {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::store_only(&opts.cloud).await?;
    let outcome = async {
        let plan = collect::load_plan(&cloud.store, &opts.run_id).await?;
        control::stop(&cloud.store, &plan.run_id, reasons::STOPPED).await?;
        eprintln!(
            "sls-load: run {} told to stop: its workers stop sending within {}s, flush and report; `sls-load report {}` shows the result",
            plan.run_id,
            CHECK_EVERY.as_secs(),
            plan.run_id
        );
        Ok(())
    }
    .await;
    cloud.shutdown().await;
    outcome
}
