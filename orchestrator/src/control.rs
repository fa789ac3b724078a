//! The orchestrator's side of the kill switch: writes a run's control object
//! (`runs/{run_id}/control.json`: "go on" before invoking, "stop" on Ctrl-C,
//! SIGTERM, `sls-load stop` or a failed `abortOnFail` threshold; read back by
//! the summary to name that threshold) and keeps its heartbeat object fresh while it
//! follows a run started with `--heartbeat`.
//!
//! It writes, and reads back for the report; the workers read (see the worker's `control` module and
//! docs/FORMAT.md). It does not decide when to stop: the commands do.

use std::time::{Duration, SystemTime};

use sls_load_core::control::{CONTROL_FORMAT, Control, Heartbeat, heartbeat_refresh};
use sls_load_core::job::{ObjectKey, RunId};

use sls_load_report::store::{Store, StoreError};

/// Writes `control` as `run`'s control object.
pub async fn write(store: &impl Store, run: &RunId, control: &Control) -> Result<(), StoreError> {
    store
        .put(&ObjectKey::control(run), json(control), "application/json")
        .await
}

/// Tells `run`'s workers to stop, for `reason` (see
/// [`reasons`](sls_load_core::control::reasons)).
pub async fn stop(store: &impl Store, run: &RunId, reason: &str) -> Result<(), StoreError> {
    write(store, run, &Control::stop(reason, SystemTime::now())).await
}

/// Tells `run`'s workers to stop because the `abortOnFail` threshold
/// `threshold` (`metric expr`) failed.
pub async fn stop_by_threshold(
    store: &impl Store,
    run: &RunId,
    threshold: &str,
) -> Result<(), StoreError> {
    write(
        store,
        run,
        &Control::stop_by_threshold(threshold, SystemTime::now()),
    )
    .await
}

/// Reads `run`'s control object; `None` when there is none or it does not parse.
pub async fn read(store: &impl Store, run: &RunId) -> Result<Option<Control>, StoreError> {
    Ok(store
        .get(&ObjectKey::control(run))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Writes heartbeat number `seq` of `run`.
pub async fn beat(store: &impl Store, run: &RunId, seq: u64) -> Result<(), StoreError> {
    let heartbeat = Heartbeat {
        format: CONTROL_FORMAT,
        seq,
        at: SystemTime::now(),
    };
    store
        .put(
            &ObjectKey::heartbeat(run),
            json(&heartbeat),
            "application/json",
        )
        .await
}

/// Refreshes `run`'s heartbeat (of `period`) for as long as it is polled, from
/// number `first` on; a failed write is logged and the next one tried. Never
/// returns: drop it to stop the heartbeat.
pub async fn keep_beating(
    store: &impl Store,
    run: &RunId,
    period: Duration,
    first: u64,
) -> std::convert::Infallible {
    let every = heartbeat_refresh(period);
    let mut seq = first;
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = beat(store, run, seq).await {
            tracing::warn!(error = %e, "heartbeat not refreshed");
        }
        seq += 1;
    }
}

/// The JSON of a control shape (they always encode: plain fields only).
fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}
