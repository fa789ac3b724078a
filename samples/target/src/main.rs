//! `sls-load-target`: the demo and test target server. Parses the command
//! line and hands over to [`lifecycle::run`]; see the modules for the rest.

mod behavior;
mod config;
mod expect;
mod lifecycle;
mod server;
mod stats;
mod timer;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let config = config::Args::parse().into_config()?;
    lifecycle::run(config)
}
