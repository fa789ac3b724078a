//! `sls-load`: parses the command line, validates it into options
//! ([`options`]), runs the subcommand ([`commands::main`]) and turns a failure
//! into its message on stderr and its exit code.
//!
//! # Brief overview
//! The binary's own modules, private (the reusable layers are the library
//! crates: `sls-load-plan`, `sls-load-report`, `sls-load-local`):
//! - [`cli`] → [`options`] → [`commands`]: the raw command line (clap), the one
//!   boundary that validates it, and the subcommands' glue with their typed
//!   errors and exit codes. Nothing below [`options`] sees a clap type.
//! - [`cloud`]: picks local or AWS ([`awsenv`]: the credential files,
//!   [`project`]: `sls-load.toml`, [`identity`]: whose credentials, checked with
//!   STS; an instance role) and builds the SDK clients the same way for both;
//!   [`aws_error`]: every SDK error as one line.
//! - [`deploy`] and [`doctor`]: `deploy`/`destroy` (infra/'s CloudFormation per
//!   region) and `doctor` (one verdict per check of an AWS set-up), with their
//!   own raw flags ([`cli::aws`]) and validation ([`options::aws`]).
//! - [`store`]: the results store in S3; [`invoke`] and [`fanout`]: Event
//!   invocations, slice after slice; [`control`]: the kill switch.
//! - [`progress`]: the live lines; [`preflight`]: checks before a run starts.
//! - [`events`]: a drill's event runner; [`network`]: the local network
//!   profiles' proxies; [`export`]: the `--out` outputs.

/// `eprintln!` for every module below, without std's panic when stderr is
/// gone (`sls-load report ID 2>&1 | head -1`: the reader left, std's macro
/// would panic and exit 101): the line is dropped and the exit code stays the
/// command's own. Defined before the modules so that it shadows std's there.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod aws_error;
mod awsenv;
mod cli;
mod cloud;
mod commands;
mod control;
mod deploy;
mod doctor;
mod events;
mod export;
mod fanout;
mod identity;
mod invoke;
mod network;
mod options;
mod preflight;
mod progress;
mod project;
mod script;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::options::CommandOptions;

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
