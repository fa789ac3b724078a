//! `bootstrap`: the Lambda entry point. Checks the Runtime API environment, then
//! hands every invocation to [`sls_load_function::Worker`]; on SIGTERM it lets the
//! worker stop, flush and store a `stopped` manifest, for at most
//! [`TERMINATE_GRACE`], then exits with 143. Nothing else lives here.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{LambdaEvent, service_fn};
use sls_load_function::{TERMINATE_GRACE, Worker};

const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLS_LOAD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    if let Some(missing) = REQUIRED_ENV.iter().find(|v| std::env::var_os(v).is_none()) {
        eprintln!(
            "bootstrap: {missing} is not set; run this binary inside AWS Lambda or `sls-load run --local`"
        );
        return ExitCode::from(2);
    }
    let worker = Arc::new(Worker::new(started.elapsed()));
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            let worker = worker.clone();
            tokio::spawn(async move {
                term.recv().await;
                let _ = tokio::time::timeout(TERMINATE_GRACE, worker.terminate()).await;
                std::process::exit(143);
            });
        }
        Err(e) => eprintln!("bootstrap: cannot handle SIGTERM ({e}); it ends the process at once"),
    }
    let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let worker = worker.clone();
        async move { worker.handle(event).await }
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
