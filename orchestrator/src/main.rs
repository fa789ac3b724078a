//! `sls-load`: parses the command line, validates it into options
//! ([`sls_load::options`]), runs the subcommand ([`sls_load::commands::main`]) and
//! turns a failure into its message on stderr and its exit code.

use std::process::ExitCode;

use clap::Parser;
use sls_load::cli::Cli;
use sls_load::commands;
use sls_load::options::CommandOptions;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match CommandOptions::from_cli(cli.command) {
        Ok(command) => runtime.block_on(commands::main(command)),
        Err(e) => Err(commands::Error::from(e)),
    };
    match result {
        Ok(()) => ExitCode::from(commands::EXIT_OK),
        Err(e) => {
            eprintln!("error: {}", e.message());
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs to stderr: `warn` by default, more with each `-v`, or `SLS_LOAD_LOG`.
/// The AWS SDK's own lines (targets `aws_config`, `aws_smithy_*`, `aws_sdk_*`)
/// only with `-v`: its failures reach the user as sls-load's one-line errors.
fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn,aws=off",
        1 => "info,aws=warn",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("SLS_LOAD_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
                .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        // No colour codes in a file, a pipe or CI logs.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
