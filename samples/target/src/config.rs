//! The command line of the target server and its validation: turns the
//! clap-parsed [`Args`] into a checked [`Config`] (loopback-only listening
//! unless explicitly allowed, fractions in range, complete stall window).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, ensure};
use clap::Parser;

use crate::behavior::{Behavior, Fraction, Stall};
use crate::expect::HeaderExpectation;

/// Demo and test target: a small HTTP/1.1 + h2c server with a programmable
/// delay, error rate and stall, which counts the requests it receives.
#[derive(Debug, Clone, Parser)]
#[command(name = "sls-load-target", version, about)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port. The actual address is
    /// printed as `listening on http://ADDR`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Allow listening on a non-loopback address.
    #[arg(long)]
    pub allow_non_loopback: bool,

    /// Tokio worker threads (1 = single-threaded runtime).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// Fixed delay before every response, e.g. `5ms` (kept to within tens of
    /// microseconds by a timer thread, not rounded up to the next millisecond).
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = sls_load_core::duration::parse)]
    pub delay: Duration,

    /// Fraction of requests (deterministic: 0.1 = every 10th) that get
    /// `--slow-delay` instead of `--delay`.
    #[arg(long, value_name = "F", default_value = "0", value_parser = Fraction::parse)]
    pub slow_fraction: Fraction,

    /// Delay for the requests selected by `--slow-fraction`.
    #[arg(long, value_name = "DUR", value_parser = sls_load_core::duration::parse)]
    pub slow_delay: Option<Duration>,

    /// Fraction of requests (deterministic) answered with 500.
    #[arg(long, value_name = "F", default_value = "0", value_parser = Fraction::parse)]
    pub error_rate: Fraction,

    /// Start of a one-time stall, measured from server start.
    #[arg(long, value_name = "DUR", requires = "stall_for", value_parser = sls_load_core::duration::parse)]
    pub stall_at: Option<Duration>,

    /// Length of the one-time stall: requests due during it are answered at its end.
    #[arg(long, value_name = "DUR", requires = "stall_at", value_parser = sls_load_core::duration::parse)]
    pub stall_for: Option<Duration>,

    /// Exit by itself after this long (safety bound).
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = sls_load_core::duration::parse)]
    pub exit_after: Duration,

    /// On shutdown, how long to wait for in-flight requests before printing
    /// the final stats and exiting.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = sls_load_core::duration::parse)]
    pub shutdown_grace: Duration,

    /// No diagnostics on stderr (the `listening on` and `stats` lines on
    /// stdout are always printed).
    #[arg(long)]
    pub quiet: bool,

    /// Count the requests whose header NAME equals VALUE (repeatable): the stats'
    /// `expected_headers`, one count per flag in order. For tests that check a
    /// value (e.g. a secret) arrives intact; the value is never printed.
    #[arg(long, value_name = "NAME=VALUE", value_parser = HeaderExpectation::parse)]
    pub expect_header: Vec<HeaderExpectation>,

    /// Count the requests whose body contains TEXT: the stats' `expected_body`
    /// (request bodies are then read; otherwise they are not).
    #[arg(long, value_name = "TEXT")]
    pub expect_body: Option<String>,
    /// Answer every `ok` (200) with a body of this many bytes (`ok\n`
    /// repeated) instead of `ok\n`, for tests of large responses. At most 64 MiB.
    #[arg(long, value_name = "BYTES")]
    pub body_size: Option<usize>,

    /// Answer every response with `X-Served-Region: NAME` (a regional backend of
    /// the drill system); `POST /__down` and `/__up` then take it down and back.
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,

    /// Run as the drill system's router, or as the whole system (three backends
    /// and a router in one process) instead of as one target.
    #[command(subcommand)]
    pub mode: Option<crate::router::Mode>,
}

/// Largest `--body-size`.
pub const MAX_BODY_SIZE: usize = 64 << 20;

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub threads: usize,
    pub behavior: Behavior,
    pub exit_after: Duration,
    pub shutdown_grace: Duration,
    pub quiet: bool,
    /// `--expect-header` and `--expect-body`.
    pub expect_headers: Vec<HeaderExpectation>,
    pub expect_body: Option<String>,
    /// `--body-size`: the length of every `ok` body (`None`: `ok\n`).
    pub body_size: Option<usize>,
    /// `--region`: the `X-Served-Region` of every response.
    pub region: Option<String>,
}

impl Args {
    /// Checks the arguments and builds the configuration.
    pub fn into_config(self) -> anyhow::Result<Config> {
        if !self.listen.ip().is_loopback() && !self.allow_non_loopback {
            bail!(
                "refusing to listen on non-loopback address {} (pass --allow-non-loopback to allow it)",
                self.listen
            );
        }
        ensure!(self.threads >= 1, "--threads must be at least 1");
        ensure!(!self.exit_after.is_zero(), "--exit-after must be positive");
        ensure!(
            self.region
                .as_deref()
                .is_none_or(|r| hyper::header::HeaderValue::from_str(r).is_ok() && !r.is_empty()),
            "--region must be a plain name like eu-west-1"
        );
        ensure!(
            self.body_size.is_none_or(|n| n <= MAX_BODY_SIZE),
            "--body-size must be at most {MAX_BODY_SIZE} bytes"
        );

        let slow_delay = match (self.slow_fraction == Fraction::ZERO, self.slow_delay) {
            (_, Some(delay)) => delay,
            (true, None) => Duration::ZERO,
            (false, None) => bail!("--slow-fraction needs --slow-delay"),
        };
        let stall = match (self.stall_at, self.stall_for) {
            (Some(at), Some(duration)) => Some(Stall { at, duration }),
            (None, None) => None,
            _ => bail!("--stall-at and --stall-for must be given together"),
        };

        Ok(Config {
            listen: self.listen,
            threads: self.threads,
            behavior: Behavior {
                delay: self.delay,
                slow_fraction: self.slow_fraction,
                slow_delay,
                error_rate: self.error_rate,
                stall,
            },
            exit_after: self.exit_after,
            shutdown_grace: self.shutdown_grace,
            quiet: self.quiet,
            expect_headers: self.expect_header,
            expect_body: self.expect_body,
            body_size: self.body_size,
            region: self.region,
        })
    }
}

impl Config {
    /// Parses a command line (first item is the program name) into a
    /// validated configuration.
    #[cfg(test)]
    pub fn from_args<I, T>(args: I) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Args::try_parse_from(args)?.into_config()
    }

    /// One-line human summary for stderr.
    pub fn summary(&self) -> String {
        let b = &self.behavior;
        let mut parts = vec![
            format!("threads={}", self.threads),
            format!("delay={}", humantime::format_duration(b.delay)),
        ];
        if b.slow_fraction != Fraction::ZERO {
            parts.push(format!(
                "slow={}@{}",
                b.slow_fraction.as_f64(),
                humantime::format_duration(b.slow_delay)
            ));
        }
        if b.error_rate != Fraction::ZERO {
            parts.push(format!("error-rate={}", b.error_rate.as_f64()));
        }
        if let Some(stall) = b.stall {
            parts.push(format!(
                "stall={}+{}",
                humantime::format_duration(stall.at),
                humantime::format_duration(stall.duration)
            ));
        }
        if let Some(n) = self.body_size {
            parts.push(format!("body-size={n}"));
        }
        parts.push(format!(
            "exit-after={}",
            humantime::format_duration(self.exit_after)
        ));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_args(["t"]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.threads, 1);
        assert_eq!(c.behavior, Behavior::default());
        assert_eq!(c.exit_after, Duration::from_secs(600));
        assert!(!c.quiet);
    }

    #[test]
    fn full_command_line() {
        let c = Config::from_args([
            "t",
            "--listen",
            "[::1]:0",
            "--threads",
            "2",
            "--delay",
            "5ms",
            "--slow-fraction",
            "0.1",
            "--slow-delay",
            "1s",
            "--error-rate",
            "0.25",
            "--stall-at",
            "3s",
            "--stall-for",
            "500ms",
            "--exit-after",
            "30s",
            "--quiet",
        ])
        .unwrap();
        assert_eq!(c.listen, "[::1]:0".parse().unwrap());
        assert_eq!(c.threads, 2);
        assert_eq!(c.behavior.delay, Duration::from_millis(5));
        assert_eq!(c.behavior.slow_fraction, Fraction::from_f64(0.1).unwrap());
        assert_eq!(c.behavior.slow_delay, Duration::from_secs(1));
        assert_eq!(c.behavior.error_rate, Fraction::from_f64(0.25).unwrap());
        assert_eq!(
            c.behavior.stall,
            Some(Stall {
                at: Duration::from_secs(3),
                duration: Duration::from_millis(500)
            })
        );
        assert_eq!(c.exit_after, Duration::from_secs(30));
        assert!(c.quiet);
    }

    #[test]
    fn non_loopback_needs_opt_in() {
        let err = Config::from_args(["t", "--listen", "0.0.0.0:8080"]).unwrap_err();
        assert!(err.to_string().contains("non-loopback"), "{err}");
        let c = Config::from_args(["t", "--listen", "0.0.0.0:8080", "--allow-non-loopback"]);
        assert!(c.is_ok());
    }

    #[test]
    fn invalid_combinations_are_rejected() {
        for args in [
            &["t", "--threads", "0"][..],
            &["t", "--error-rate", "1.5"],
            &["t", "--slow-fraction", "0.1"],
            &["t", "--stall-at", "1s"],
            &["t", "--stall-for", "1s"],
            &["t", "--exit-after", "0s"],
            &["t", "--delay", "5"],
            &["t", "--listen", "localhost"],
        ] {
            assert!(Config::from_args(args).is_err(), "{args:?} accepted");
        }
    }
}
