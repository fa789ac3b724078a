//! `sls-load-bench`: runs one benchmark job through the worker's real invocation
//! path against a loopback target and prints one JSON line of results (see
//! [`sls_load_function::bench`]). `make bench` drives it; nothing else lives here.

use std::process::ExitCode;

use sls_load_function::bench::{BenchError, main_with_args};

fn main() -> ExitCode {
    match main_with_args(std::env::args().skip(1)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e @ BenchError::Usage(_)) => {
            eprintln!("sls-load-bench: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("sls-load-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
