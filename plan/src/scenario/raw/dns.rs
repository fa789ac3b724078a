//! The scenario's top-level `dns:` block as serde reads it: k6's `ttl`
//! (`"5m"`, `"0"` or `0`, `"inf"`), `select` and `policy`, in k6's spelling, and
//! sls-load's `servers` (nameservers, `IP` or `IP:port`, port 53 by default),
//! each leaf checked in its visitor so that errors carry the parser's line.
//!
//! It does not resolve anything or fill in defaults (`into_options` leaves an
//! unset key at [`DnsOptions`]' default, which is k6's).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use sls_load_core::dns::{DnsOptions, DnsPolicy, DnsSelect, DnsTtl};

use crate::scenario::error::shown;

/// The `dns:` block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::scenario) struct RawDns {
    #[serde(default, deserialize_with = "optional_ttl")]
    ttl: Option<DnsTtl>,
    #[serde(default)]
    select: Option<DnsSelect>,
    #[serde(default)]
    policy: Option<DnsPolicy>,
    #[serde(default)]
    servers: Option<Vec<Nameserver>>,
}

impl RawDns {
    /// The options, each unset key at its default.
    pub(in crate::scenario) fn into_options(self) -> DnsOptions {
        let d = DnsOptions::default();
        DnsOptions {
            ttl: self.ttl.unwrap_or(d.ttl),
            select: self.select.unwrap_or(d.select),
            policy: self.policy.unwrap_or(d.policy),
            servers: self
                .servers
                .map(|s| s.into_iter().map(|n| n.0).collect())
                .unwrap_or(d.servers),
        }
    }
}

struct TtlVisitor;

impl Visitor<'_> for TtlVisitor {
    type Value = Option<DnsTtl>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DNS ttl: a duration such as 5m or 30s, 0, or inf")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let ttl = match v {
            "inf" => Some(DnsTtl::Forever),
            "0" => Some(DnsTtl::For(Duration::ZERO)),
            // The scenario's Go/k6-style durations (`1m30s`, `1.5s`).
            _ => super::numbers::parse_duration(v).map(DnsTtl::For),
        };
        ttl.map(Some).ok_or_else(|| {
            E::custom(format!(
                "invalid dns ttl `{}` (use a duration such as 5m or 30s, 0, or inf)",
                shown(v)
            ))
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(Some(DnsTtl::For(Duration::ZERO))),
            _ => Err(E::custom(format!(
                "invalid dns ttl `{v}` (a number needs a unit, e.g. {v}s)"
            ))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("invalid dns ttl `{v}`"))),
        }
    }
}

fn optional_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DnsTtl>, D::Error> {
    d.deserialize_any(TtlVisitor)
}

/// One nameserver: `IP` (port 53) or `IP:port` (`[v6]:port` for IPv6).
struct Nameserver(SocketAddr);

impl<'de> Deserialize<'de> for Nameserver {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let addr = text.parse::<SocketAddr>().ok().or_else(|| {
            text.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        addr.map(Nameserver).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid dns server `{}` (use an IP address, optionally with :port, e.g. 127.0.0.1:5353)",
                shown(&text)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::dns::{DnsOptions, DnsPolicy, DnsSelect, DnsTtl};

    use crate::scenario::test_support::*;

    #[test]
    fn the_dns_block_takes_k6s_options_and_nameservers() {
        assert_eq!(ok(MINIMAL).http.dns, DnsOptions::default());
        let s = ok(&format!(
            "{MINIMAL}dns:\n  ttl: 1s\n  select: roundRobin\n  policy: onlyIPv4\n  \
             servers: [\"127.0.0.1:5353\", \"10.0.0.2\", \"[::1]:53\"]\n"
        ));
        assert_eq!(s.http.dns.ttl, DnsTtl::For(Duration::from_secs(1)));
        assert_eq!(s.http.dns.select, DnsSelect::RoundRobin);
        assert_eq!(s.http.dns.policy, DnsPolicy::OnlyIpv4);
        let servers: Vec<String> = s.http.dns.servers.iter().map(|a| a.to_string()).collect();
        assert_eq!(servers, ["127.0.0.1:5353", "10.0.0.2:53", "[::1]:53"]);
        for (ttl, expected) in [
            ("0", DnsTtl::For(Duration::ZERO)),
            ("\"0\"", DnsTtl::For(Duration::ZERO)),
            ("inf", DnsTtl::Forever),
            ("5m", DnsTtl::For(Duration::from_secs(300))),
            ("1m30s", DnsTtl::For(Duration::from_secs(90))),
            ("1.5s", DnsTtl::For(Duration::from_millis(1500))),
        ] {
            let s = ok(&format!("{MINIMAL}dns:\n  ttl: {ttl}\n"));
            assert_eq!(s.http.dns.ttl, expected, "ttl: {ttl}");
        }
        let s = ok(&format!("{MINIMAL}dns:\n  policy: any\n"));
        assert_eq!(
            s.http.dns.select,
            DnsSelect::Random,
            "unset keys keep k6's defaults"
        );
    }

    #[test]
    fn a_bad_dns_value_is_named_with_its_line() {
        for bad in [
            "ttl: soon",
            "ttl: 5",
            "select: nearest",
            "policy: ipv4",
            "servers: [\"dns.example\"]",
            "cache: true",
        ] {
            let line = error(&format!("{MINIMAL}dns:\n  {bad}\n"));
            assert_contains(&line, &[":10:", "dns"]);
        }
    }
}
