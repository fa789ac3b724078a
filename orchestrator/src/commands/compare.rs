//! `sls-load compare RUN_A RUN_B`: reads both runs' summaries from the results
//! store (rebuilding one from its objects when no `summary.json` was stored, as
//! `report` would), has [`sls_load_report::compare`] judge run B against run A, prints the
//! comparison (text or `--json`) and fails with exit 1 naming each regressed figure.
//!
//! It writes nothing to the store and invokes nothing; the judgement itself is in
//! [`sls_load_report::compare`].

use sls_load_core::job::{ObjectKey, RunId};

use super::{Error, stdout};
use crate::cloud::Cloud;
use crate::options::CompareOptions;
use sls_load_report::collect;
use sls_load_report::compare::{self, Comparison};
use sls_load_report::store::Store;
use sls_load_report::summary::{Ending, Summary};

/// `sls-load compare RUN_A RUN_B`.
pub async fn compare(opts: CompareOptions) -> Result<(), Error> {
    if opts.cloud.why != crate::cloud::Why::LocalFlag {
        eprintln!("{}", crate::cloud::announcement(&opts.cloud));
    }
    let cloud = Cloud::store_only(&opts.cloud).await?;
    let outcome = async {
        let a = summary(&cloud.store, &opts.run_a).await?;
        let b = summary(&cloud.store, &opts.run_b).await?;
        Ok::<_, Error>(Comparison::new(&a, &b, &opts.tolerances))
    }
    .await;
    cloud.shutdown().await;
    let comparison = outcome?;
    let text = if opts.json {
        let mut json =
            serde_json::to_string_pretty(&comparison).map_err(Error::encoding("comparison"))?;
        json.push('\n');
        json
    } else {
        compare::render(&comparison)
    };
    stdout(&text)?;
    if comparison.regressed() {
        return Err(Error::Regressed {
            run_a: opts.run_a,
            run_b: opts.run_b,
            regressions: comparison.regressions,
        });
    }
    Ok(())
}

/// The run's stored summary; rebuilt from its objects (collect → merge → summary)
/// when none was stored or it cannot be read.
async fn summary(store: &impl Store, run: &RunId) -> Result<Summary, Error> {
    if let Some(bytes) = store.get(&ObjectKey::summary(run)).await? {
        match serde_json::from_slice::<Summary>(&bytes) {
            Ok(summary) => return Ok(summary),
            Err(e) => eprintln!(
                "sls-load: warning: the stored summary of run {run} cannot be read ({e}); rebuilding it"
            ),
        }
    }
    let collected = collect::collect(store, run).await?;
    Ok(Summary::build(&collected, Ending::default()))
}
