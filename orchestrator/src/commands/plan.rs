//! `sls-load plan`: plans a scenario as a run would (in AWS, with its lead) and
//! prints the plan as a table with its estimated cost, or as the `plan.json` a
//! run would store (credentials redacted, `{{__ENV.NAME}}` as written). It
//! starts nothing, stores nothing and needs no `-e` values.

use std::time::SystemTime;

use sls_load_core::job::{Region, ResultsLocation};

use super::{Error, load_scenario};
use crate::options::PlanOnlyOptions;
use crate::{plan, render};

/// `sls-load plan`: prints the plan and its estimated cost.
pub async fn plan(opts: PlanOnlyOptions) -> Result<(), Error> {
    let scenario = load_scenario(&opts.scenario, None, &opts.plan.overrides)?;
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
    if opts.json {
        let json = serde_json::to_string_pretty(&*super::shown_plan(&plan))
            .map_err(Error::encoding("plan"))?;
        println!("{json}");
        return Ok(());
    }
    let expected = plan::expected_requests(&scenario, &plan);
    let cost = crate::cost::estimate(&plan, expected);
    print!(
        "{}",
        render::plan(&plan, expected, &cost, &plan.concurrency_needed())
    );
    Ok(())
}
