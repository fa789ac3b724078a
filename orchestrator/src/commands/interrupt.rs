//! Ctrl-C and SIGTERM during `run`: [`Signals`] listens for both from the start
//! of the command; [`Stopping`] is the run's "told to stop" state that the
//! fan-out and the follower watch; [`stop_on_signal`] turns the first signal
//! into a stop order in the control object and returns at the second;
//! [`stop_on_order`] notices a stop order written by `sls-load stop`;
//! [`settle`] follows the stopping run for a bounded time until every invoked
//! worker has reported.
//!
//! It does not build or print the summary (`finish` does) and does not decide
//! exit codes (`Error` does).

use std::time::{Duration, SystemTime};

use sls_load_core::control::{CHECK_EVERY, Control, reasons};
use sls_load_core::job::{ObjectKey, RunId};
use tokio::sync::watch;

use crate::fanout::InvocationCount;
use crate::progress::Display;
use sls_load_report::collect::Collected;
use sls_load_report::store::{Store, StoreError};

/// How long, beyond one flush period, a stopping run waits for the workers'
/// last flush and manifests.
pub const SETTLE_EXTRA: Duration = Duration::from_secs(10);

/// SIGINT and SIGTERM, listened to from creation on: a signal that arrives while
/// nobody awaits [`Signals::next`] is kept for the next call.
pub struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Starts listening. A listener that cannot be installed is logged; the
    /// signal then keeps its default action (the process ends).
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for {name}");
                    None
                }
            };
            Self {
                int: listen(SignalKind::interrupt(), "SIGINT"),
                term: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGINT or SIGTERM, by name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        if s.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.int) => "SIGINT",
                () = recv(&mut self.term) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}

/// Whether the run was told to stop; cheap to watch from several places.
pub struct Stopping {
    tx: watch::Sender<bool>,
}

impl Stopping {
    /// Not stopping.
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(false),
        }
    }

    /// Marks the run as stopping.
    pub fn set(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the run is stopping.
    pub fn is_set(&self) -> bool {
        *self.tx.borrow()
    }

    /// Returns once the run is stopping.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

impl Default for Stopping {
    fn default() -> Self {
        Self::new()
    }
}

/// At the first signal, tells `run`'s workers to stop and marks `stopping`;
/// returns at the second, naming it.
pub async fn stop_on_signal(
    signals: &mut Signals,
    store: &impl Store,
    run: &RunId,
    stopping: &Stopping,
    settle_for: Duration,
) -> &'static str {
    let first = signals.next().await;
    eprintln!(
        "sls-load: {first}: telling the workers to stop; waiting up to {}s for their last flush ({first} again to quit at once)",
        settle_for.as_secs()
    );
    if let Err(e) = crate::control::stop(store, run, reasons::INTERRUPTED).await {
        eprintln!("sls-load: warning: the stop order was not written: {e}");
    }
    stopping.set();
    signals.next().await
}

/// Reads `run`'s control object every [`CHECK_EVERY`], as the workers do, and
/// marks `stopping` once it says stop (`sls-load stop` from another terminal),
/// so that nothing more is invoked. Never returns.
pub async fn stop_on_order(
    store: &impl Store,
    run: &RunId,
    stopping: &Stopping,
) -> std::convert::Infallible {
    let key = ObjectKey::control(run);
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        if stopping.is_set() {
            continue;
        }
        let control = match store.get(&key).await {
            Ok(Some(bytes)) => serde_json::from_slice::<Control>(&bytes).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "control object not read");
                None
            }
        };
        if control.is_some_and(|c| c.stop) {
            eprintln!(
                "sls-load: the run was told to stop (sls-load stop); the workers flush and report"
            );
            stopping.set();
        }
    }
}

/// Follows a stopping run until every invoked worker has reported or `until`,
/// updating `display`.
pub async fn settle(
    store: &impl Store,
    collected: &mut Collected,
    display: &mut Display,
    invoked: &InvocationCount,
    until: SystemTime,
) -> Result<(), StoreError> {
    loop {
        collected.poll(store).await?;
        display.update(collected, invoked.get());
        if collected.finished() >= invoked.get() || SystemTime::now() >= until {
            return Ok(());
        }
        tokio::time::sleep(sls_load_plan::cost::POLL_EVERY).await;
    }
}
