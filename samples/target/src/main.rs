//! `sls-load-target`: the demo and test target server. Parses the command
//! line and hands over to [`lifecycle::run`] (one target) or [`router::Mode::run`]
//! (the drill system's router, or the whole system); see the modules for the rest.

mod behavior;
mod config;
mod expect;
mod lifecycle;
mod router;
mod server;
mod stats;
mod timer;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let mut args = config::Args::parse();
    if let Some(mode) = args.mode.take() {
        return mode.run();
    }
    lifecycle::run(args.into_config()?)
}
