//! The process around the server: builds the tokio runtime, binds the
//! listener, announces the bound address on stdout, waits for SIGINT/SIGTERM
//! or `--exit-after`, and prints the final stats line.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::server;

/// Runs the server to completion on a runtime with `config.threads` workers.
pub fn run(config: Config) -> anyhow::Result<()> {
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()
    }
    .context("building the tokio runtime")?;
    let result = runtime.block_on(run_async(config));
    // Connections still open after the grace period are simply dropped.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn run_async(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // Installed before announcing, so a signal right after the announcement
    // is not lost.
    let shutdown = shutdown_signal(config.exit_after, config.quiet)?;

    stdout_line(&format!("listening on http://{addr}"))?;
    if !config.quiet {
        eprintln!("sls-load-target: {}", config.summary());
    }

    let stats = server::serve(&config, listener, shutdown).await;
    stdout_line(&format!("stats {stats}"))
}

pub(crate) fn stdout_line(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// A future that completes on SIGINT, SIGTERM or after `exit_after`.
#[cfg(unix)]
pub(crate) fn shutdown_signal(
    exit_after: Duration,
    quiet: bool,
) -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    Ok(async move {
        let reason = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
            () = tokio::time::sleep(exit_after) => "--exit-after elapsed",
        };
        if !quiet {
            eprintln!("sls-load-target: shutting down ({reason})");
        }
    })
}

/// A future that completes on Ctrl-C or after `exit_after`.
#[cfg(not(unix))]
pub(crate) fn shutdown_signal(
    exit_after: Duration,
    quiet: bool,
) -> anyhow::Result<impl Future<Output = ()>> {
    Ok(async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let reason = tokio::select! {
            () = ctrl_c => "Ctrl-C",
            () = tokio::time::sleep(exit_after) => "--exit-after elapsed",
        };
        if !quiet {
            eprintln!("sls-load-target: shutting down ({reason})");
        }
    })
}
