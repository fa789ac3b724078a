//! The wire shapes of worker DNS: the job's [`DnsOptions`] (k6's `dns: { ttl,
//! select, policy }` plus a nameserver override) and the manifest's
//! [`Resolution`] records (each time a worker's answer for the target changed).
//!
//! This module owns those serde shapes and their defaults (k6's: ttl 5 m, select
//! random, policy preferIPv4). It does not resolve anything (the worker's
//! `client::dns` does) and does no IO.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a worker resolves the target's host name. Every field has a default, so
/// jobs without `dns` still parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DnsOptions {
    /// How long an answer is kept at most (the record's own TTL can shorten it).
    pub ttl: DnsTtl,
    /// Which of the answer's addresses a new connection goes to.
    pub select: DnsSelect,
    /// Which address families are used.
    pub policy: DnsPolicy,
    /// Nameservers to ask instead of the system's (`/etc/resolv.conf`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<SocketAddr>,
}

impl Default for DnsOptions {
    fn default() -> Self {
        Self {
            ttl: DnsTtl::default(),
            select: DnsSelect::Random,
            policy: DnsPolicy::PreferIpv4,
            servers: Vec::new(),
        }
    }
}

impl DnsOptions {
    /// Whether these are the defaults (then left out of the payload).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// k6's `dns.ttl`: `"5m"` (the default), `"0"` (no caching: every new connection
/// resolves) or `"inf"` (resolve once, keep the answer for the whole job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsTtl {
    /// Keep an answer at most this long (zero: not at all).
    For(Duration),
    /// Keep the first answer for good, whatever the record's TTL.
    Forever,
}

impl Default for DnsTtl {
    fn default() -> Self {
        DnsTtl::For(Duration::from_secs(300))
    }
}

/// Why a `dns.ttl` string is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a DNS ttl (a duration such as 5m or 30s, 0, or inf)")]
pub struct BadTtl(pub String);

impl DnsTtl {
    /// Parses `"inf"`, `"0"` or a duration (`"5m"`, `"1500ms"`).
    pub fn parse(text: &str) -> Result<Self, BadTtl> {
        match text.trim() {
            "inf" => Ok(DnsTtl::Forever),
            "0" => Ok(DnsTtl::For(Duration::ZERO)),
            // The job's wire format: humantime, as `Display` writes it.
            t => humantime::parse_duration(t)
                .map(DnsTtl::For)
                .map_err(|_| BadTtl(text.to_owned())),
        }
    }
}

impl fmt::Display for DnsTtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsTtl::Forever => f.write_str("inf"),
            DnsTtl::For(d) if d.is_zero() => f.write_str("0"),
            DnsTtl::For(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for DnsTtl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DnsTtl".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration (`5m`), `0` (no caching) or `inf`."
        })
    }
}

impl Serialize for DnsTtl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DnsTtl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DnsTtl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// k6's `dns.select`: which address of the answer a new connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum DnsSelect {
    /// Always the first.
    First,
    /// One at random per connection.
    #[default]
    Random,
    /// Each in turn.
    RoundRobin,
}

/// k6's `dns.policy`: which address families are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum DnsPolicy {
    /// IPv4 addresses if there are any, else IPv6.
    #[default]
    #[serde(rename = "preferIPv4")]
    PreferIpv4,
    /// IPv6 addresses if there are any, else IPv4.
    #[serde(rename = "preferIPv6")]
    PreferIpv6,
    /// IPv4 only.
    #[serde(rename = "onlyIPv4")]
    OnlyIpv4,
    /// IPv6 only.
    #[serde(rename = "onlyIPv6")]
    OnlyIpv6,
    /// Every address, in the answer's order.
    #[serde(rename = "any")]
    Any,
}

/// One change of a worker's answer for the target's host (its first answer
/// included), as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Resolution {
    /// When the new answer arrived.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "humantime_serde")]
    pub at: SystemTime,
    /// The host name resolved.
    pub host: String,
    /// The addresses now used, after the policy (empty: the name stopped resolving).
    pub addresses: Vec<IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_k6s_and_read_k6s_spelling() {
        let d: DnsOptions = serde_json::from_value(serde_json::json!({})).expect("empty");
        assert!(d.is_default());
        assert_eq!(d.ttl, DnsTtl::For(Duration::from_secs(300)));
        let set: DnsOptions = serde_json::from_value(serde_json::json!({
            "ttl": "inf", "select": "roundRobin", "policy": "onlyIPv6",
            "servers": ["127.0.0.1:5353"]
        }))
        .expect("set");
        assert_eq!(set.ttl, DnsTtl::Forever);
        assert_eq!(set.select, DnsSelect::RoundRobin);
        assert_eq!(set.policy, DnsPolicy::OnlyIpv6);
        let json = serde_json::to_value(&set).expect("serialize");
        assert_eq!(json["ttl"], "inf");
        assert_eq!(
            serde_json::from_value::<DnsOptions>(json).expect("back"),
            set
        );
    }

    #[test]
    fn ttl_reads_zero_inf_and_durations_and_refuses_the_rest() {
        assert_eq!(DnsTtl::parse("0"), Ok(DnsTtl::For(Duration::ZERO)));
        assert_eq!(DnsTtl::parse("inf"), Ok(DnsTtl::Forever));
        assert_eq!(
            DnsTtl::parse("1500ms"),
            Ok(DnsTtl::For(Duration::from_millis(1500)))
        );
        assert!(DnsTtl::parse("soon").is_err());
        assert_eq!(DnsTtl::For(Duration::from_secs(300)).to_string(), "5m");
        assert_eq!(DnsTtl::For(Duration::ZERO).to_string(), "0");
    }
}
