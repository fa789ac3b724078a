//! The command line of the `router` and `system` modes (clap types only,
//! checked by `Routing::check` and run by `Mode::run` in the router module).
//! A leaf: the target's own command line names [`Mode`] from here.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Subcommand};

/// The other ways to run the binary.
#[derive(Debug, Clone, Subcommand)]
pub enum Mode {
    /// Route clients to their home regional backend, failing over on health checks.
    Router(RouterArgs),
    /// Three regional backends and a router in one process (the drill system).
    System(SystemArgs),
}

/// How the router checks and fails over.
#[derive(Debug, Clone, Args)]
pub struct Routing {
    /// The request header naming the client's region (its home backend).
    #[arg(long, value_name = "NAME", default_value = "X-Client-Region")]
    pub home_header: String,
    /// How often every backend is health-checked (`GET /__health`).
    #[arg(long, value_name = "DUR", default_value = "500ms", value_parser = sls_load_core::duration::parse)]
    pub health_every: Duration,
    /// Consecutive failed checks after which a backend is marked down.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub fail_after: u32,
    /// Exit by itself after this long (safety bound).
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = sls_load_core::duration::parse)]
    pub exit_after: Duration,
    /// No diagnostics on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `router`'s command line.
#[derive(Debug, Clone, Args)]
pub struct RouterArgs {
    /// Address to listen on (loopback only); port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// A backend as REGION=ADDR (repeatable; the first is the default home).
    #[arg(long = "backend", value_name = "REGION=ADDR", value_parser = parse_backend, required = true)]
    pub backends: Vec<(String, SocketAddr)>,
    #[command(flatten)]
    pub routing: Routing,
}

/// `system`'s command line.
#[derive(Debug, Clone, Args)]
pub struct SystemArgs {
    /// Address of the router (loopback only); the backends take free ports.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Fixed delay of every backend response, e.g. `5ms`.
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = sls_load_core::duration::parse)]
    pub delay: Duration,
    #[command(flatten)]
    pub routing: Routing,
}

fn parse_backend(s: &str) -> Result<(String, SocketAddr), String> {
    let (region, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected REGION=ADDR, e.g. eu-west-1=127.0.0.1:9002"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("`{addr}` is not an address like 127.0.0.1:9002: {e}"))?;
    ensure_name(region)?;
    Ok((region.to_owned(), addr))
}

fn ensure_name(region: &str) -> Result<(), String> {
    match !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        true => Ok(()),
        false => Err(format!("`{region}` is not a region name like eu-west-1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_region_equals_address() {
        assert_eq!(
            parse_backend("eu-west-1=127.0.0.1:9002"),
            Ok(("eu-west-1".into(), SocketAddr::from(([127, 0, 0, 1], 9002))))
        );
        for bad in [
            "eu-west-1",
            "eu west=127.0.0.1:1",
            "=127.0.0.1:1",
            "a=localhost",
        ] {
            assert!(parse_backend(bad).is_err(), "{bad}");
        }
    }
}
