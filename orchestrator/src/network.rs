//! The local network profiles of a run: one delaying proxy
//! (`sls_load_local::delay`) per emulated client region that the scenario's
//! `target_region:`/`network:` give a profile (`sls_load_plan::network`), the
//! address each region's jobs connect to, and the lines the run header prints.
//!
//! Local mode only (the run command decides); AWS regions are real.

use std::collections::BTreeMap;

use sls_load_core::job::Region;
use sls_load_local::LocalError;
use sls_load_local::delay::{Delay, DelayProxy};
use sls_load_plan::network::{Network, Profile};

/// The running proxies of a run's client regions, by region.
#[derive(Default)]
pub struct NetworkProfiles {
    /// Each region's profile and proxy (none for a zero profile: direct).
    proxies: BTreeMap<Region, (Profile, Option<DelayProxy>)>,
}

impl NetworkProfiles {
    /// Starts one proxy to `target` (an `http(s)://` base URL) for every region
    /// of `regions` that `network` gives a profile other than zero.
    pub async fn start(
        network: &Network,
        regions: &[Region],
        target: &str,
    ) -> Result<Self, LocalError> {
        let upstream = upstream_of(target).ok_or_else(|| {
            LocalError::Config(format!("network profiles: target `{target}` has no host"))
        })?;
        let mut proxies = BTreeMap::new();
        for region in regions {
            if let Some(profile) = network.profile(region) {
                let proxy = match profile.rtt.is_zero() && profile.jitter.is_zero() {
                    true => None,
                    false => Some(DelayProxy::start(upstream.clone(), delay(profile)).await?),
                };
                proxies.insert(region.clone(), (profile, proxy));
            }
        }
        Ok(Self { proxies })
    }

    /// The `http.connect_to` of `region`'s jobs, if it has a profile.
    pub fn connect_to(&self, region: &Region) -> Option<String> {
        let (_, proxy) = self.proxies.get(region)?;
        proxy.as_ref().map(|p| p.addr().to_string())
    }

    /// One line per region for the run header: `eu-west-1: rtt 70ms ± 3.5ms`,
    /// or `REGION: no profile` for a region the table does not know.
    pub fn describe(&self, regions: &[Region]) -> Vec<String> {
        regions
            .iter()
            .map(|r| match self.proxies.get(r) {
                Some((_, None)) => format!("{r}: direct (rtt 0)"),
                Some((profile, _)) => format!("{r}: {profile}"),
                None => format!("{r}: no profile (pair not in the table)"),
            })
            .collect()
    }
}

/// `host:port` of an `http(s)://` base URL (port by scheme when absent).
fn upstream_of(target: &str) -> Option<String> {
    let uri: hyper::Uri = target.parse().ok()?;
    let host = uri.host()?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    Some(format!("{host}:{port}"))
}

/// The proxy's delay for `profile`.
fn delay(profile: Profile) -> Delay {
    Delay {
        rtt: profile.rtt,
        jitter: profile.jitter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_is_the_targets_host_and_port() {
        assert_eq!(
            upstream_of("http://127.0.0.1:8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            upstream_of("https://api.example.test").as_deref(),
            Some("api.example.test:443")
        );
        assert_eq!(upstream_of("http://[::1]").as_deref(), Some("[::1]:80"));
    }
}
