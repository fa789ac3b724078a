//! The maps and lists of the scenario file: `regions`, `scenarios`, `stages`,
//! `requests`, `headers`, `query` and `sleep`, each with its own visitor so that
//! order is kept, empty lists are refused and repeated names are reported where
//! they stand.
//!
//! It does not read the values inside them (`numbers` and `strings` do) nor the
//! `thresholds` block (`thresholds` does), and it checks nothing across entries
//! beyond repeated names.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sls_load_core::job::{Region, ThinkTime};
use sls_load_core::template::{REDACTED, is_credential_header};

use super::numbers::{DurationVisitor, duration_or_zero, positive};
use super::strings::{Checked, check_header_name, check_name, check_region};
use super::{RawRequest, RawScenarioDef, RawStage};
use crate::scenario::error::shown;

/// A list that must have at least one item; `expecting` and `empty` word the errors.
struct NonEmpty<T> {
    expecting: &'static str,
    empty: &'static str,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for NonEmpty<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        if out.is_empty() {
            return Err(de::Error::custom(self.empty));
        }
        Ok(out)
    }
}

/// Reads a list of `T` that must have at least one item.
fn non_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    expecting: &'static str,
    empty: &'static str,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(NonEmpty {
        expecting,
        empty,
        item: PhantomData,
    })
}

/// `stages`: a non-empty list of `{ duration, target }`.
pub(in crate::scenario) struct Stages(pub(in crate::scenario) Vec<RawStage>);

impl<'de> Deserialize<'de> for Stages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        non_empty(
            d,
            "a list of stages like [{ duration: 30s, target: 100 }]",
            "at least one stage is required, e.g. [{ duration: 30s, target: 100 }]",
        )
        .map(Stages)
    }
}

/// `requests`: a non-empty list.
pub(in crate::scenario) struct Requests(pub(in crate::scenario) Vec<RawRequest>);

impl<'de> Deserialize<'de> for Requests {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        non_empty(
            d,
            "a list of requests",
            "at least one request is required, e.g. [{ name: home, url: / }]",
        )
        .map(Requests)
    }
}

/// A map read in file order: each key is text checked by `check`, which also sees
/// the entries before it, and each value is read by the seed `value` makes for its
/// key. An empty map is refused with `empty`, when given.
pub(super) struct Entries<K, S> {
    /// What the map is, for serde's "expected ..." message.
    pub(super) expecting: &'static str,
    /// What a key is, likewise.
    pub(super) key: &'static str,
    pub(super) check: K,
    pub(super) value: S,
    pub(super) empty: Option<&'static str>,
}

impl<'de, K, S, T> Visitor<'de> for Entries<K, S>
where
    S: Fn(&str) -> T,
    T: DeserializeSeed<'de>,
    K: Fn(&str, &[(String, T::Value)]) -> Result<String, String>,
{
    type Value = Vec<(String, T::Value)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let earlier = out.as_slice();
            let check = |s: &str| (self.check)(s, earlier);
            let Some(key) = map.next_key_seed(Checked {
                expecting: self.key,
                check,
            })?
            else {
                break;
            };
            let value = map.next_value_seed((self.value)(&key))?;
            out.push((key, value));
        }
        match self.empty {
            Some(empty) if out.is_empty() => Err(de::Error::custom(empty)),
            _ => Ok(out),
        }
    }
}

/// `query`: parameter name to a scalar value (kept as text).
pub(in crate::scenario) struct Query(pub(in crate::scenario) BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = d.deserialize_map(Entries {
            expecting: "a map of query parameter names to values",
            key: "a query parameter name",
            check: |s: &str, _: &[(String, Scalar)]| {
                if s.is_empty() {
                    Err("a query parameter needs a name".to_owned())
                } else {
                    Ok(s.to_owned())
                }
            },
            value: |_: &str| PhantomData::<Scalar>,
            empty: None,
        })?;
        Ok(Query(
            entries.into_iter().map(|(k, Scalar(v))| (k, v)).collect(),
        ))
    }
}

/// A string, number or boolean, as text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `sleep`: `1s`, or `{ min: 50ms, max: 200ms }` for a uniformly random pause.
pub(in crate::scenario) struct Sleep(pub(in crate::scenario) ThinkTime);

impl<'de> Deserialize<'de> for Sleep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sleep;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 1s, or { min: 50ms, max: 200ms }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Sleep, E> {
                let d = DurationVisitor { allow_zero: false }.visit_str(v)?;
                Ok(Sleep(ThinkTime { min: d, max: d }))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sleep, A::Error> {
                const FIELDS: &[&str] = &["min", "max"];
                struct Dur(Duration);
                impl<'de> Deserialize<'de> for Dur {
                    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        duration_or_zero(d).map(Dur)
                    }
                }
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<Dur>()?.0),
                        "max" => max = Some(map.next_value::<Dur>()?.0),
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    }
                }
                let min = min.ok_or_else(|| de::Error::missing_field("min"))?;
                let max = max.ok_or_else(|| de::Error::missing_field("max"))?;
                if max < min || max.is_zero() {
                    return Err(de::Error::custom(format!(
                        "needs 0 <= min <= max and max > 0, got min {} and max {}",
                        humantime::format_duration(min),
                        humantime::format_duration(max)
                    )));
                }
                Ok(Sleep(ThinkTime { min, max }))
            }
        }
        d.deserialize_any(V)
    }
}

/// `regions`: `{ us-east-1: 0.5, eu-west-1: 0.5 }`, `[us-east-1, eu-west-1]` (equal
/// weights) or a single name.
pub(in crate::scenario) struct Regions(pub(in crate::scenario) Vec<(Region, f64)>);

struct Weight(f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        positive(d).map(Weight)
    }
}

const REGION: &str = "an AWS region name like us-east-1";
const NO_REGIONS: &str = "at least one region is required, e.g. [us-east-1]";

/// `text` as a region name that is not one of the `earlier` ones.
fn new_region<'a>(
    text: &str,
    mut earlier: impl Iterator<Item = &'a str>,
) -> Result<String, String> {
    let name = check_region(text)?;
    if earlier.any(|n| n == name) {
        return Err(format!("region `{name}` is listed twice"));
    }
    Ok(name)
}

impl<'de> Deserialize<'de> for Regions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Regions;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of AWS regions or a map of region to weight")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Regions, E> {
                let name = check_region(v).map_err(E::custom)?;
                Ok(Regions(vec![(Region::new(name).map_err(E::custom)?, 1.0)]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Regions, A::Error> {
                let mut out: Vec<(Region, f64)> = Vec::new();
                loop {
                    let earlier = out.iter().map(|(r, _)| r.as_str());
                    let seed = Checked {
                        expecting: REGION,
                        check: |s: &str| new_region(s, earlier),
                    };
                    let Some(name) = seq.next_element_seed(seed)? else {
                        break;
                    };
                    out.push((Region::new(name).map_err(de::Error::custom)?, 1.0));
                }
                if out.is_empty() {
                    return Err(de::Error::custom(NO_REGIONS));
                }
                Ok(Regions(out))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Regions, A::Error> {
                let entries = Entries {
                    expecting: "a map of region to weight",
                    key: REGION,
                    check: |s: &str, earlier: &[(String, Weight)]| {
                        new_region(s, earlier.iter().map(|(n, _)| n.as_str()))
                    },
                    value: |_: &str| PhantomData::<Weight>,
                    empty: Some(NO_REGIONS),
                }
                .visit_map(map)?;
                let regions = entries
                    .into_iter()
                    .map(|(name, Weight(weight))| Ok((Region::new(name)?, weight)))
                    .collect::<Result<_, sls_load_core::id::IdError>>()
                    .map_err(de::Error::custom)?;
                Ok(Regions(regions))
            }
        }
        d.deserialize_any(V)
    }
}

/// k6 Cloud's `distribution`: `{ label: { loadZone: "amazon:us:ashburn", percent: 30 } }`,
/// in file order, each load zone already turned into its AWS region. Percents are
/// as written (`build` renormalises them and says so).
pub(in crate::scenario) struct Distribution(pub(in crate::scenario) Vec<(Region, f64)>);

/// One entry of `distribution`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    #[serde(
        rename = "loadZone",
        alias = "load_zone",
        deserialize_with = "load_zone"
    )]
    load_zone: String,
    #[serde(deserialize_with = "positive")]
    percent: f64,
}

fn load_zone<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    check_region(&text).map_err(de::Error::custom)
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = d.deserialize_map(Entries {
            expecting: "a map of label to { loadZone, percent }",
            key: "a distribution label",
            check: |s: &str, earlier: &[(String, RawZone)]| {
                if earlier.iter().any(|(n, _)| n == s) {
                    return Err(format!("`{}` is listed twice", shown(s)));
                }
                Ok(s.to_owned())
            },
            value: |_: &str| PhantomData::<RawZone>,
            empty: Some("at least one load zone is required"),
        })?;
        let mut zones: Vec<(Region, f64)> = Vec::new();
        for (_, zone) in entries {
            let region = Region::new(zone.load_zone).map_err(de::Error::custom)?;
            match zones.iter_mut().find(|(r, _)| *r == region) {
                Some((_, percent)) => *percent += zone.percent,
                None => zones.push((region, zone.percent)),
            }
        }
        Ok(Distribution(zones))
    }
}

/// `scenarios`: an ordered map of name to scenario.
pub(in crate::scenario) struct Scenarios(pub(in crate::scenario) Vec<(String, RawScenarioDef)>);

impl<'de> Deserialize<'de> for Scenarios {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Entries {
            expecting: "a map of scenario names to scenarios",
            key: "a scenario name",
            check: |s: &str, _: &[(String, RawScenarioDef)]| check_name("scenario name", s),
            value: |_: &str| PhantomData::<RawScenarioDef>,
            empty: Some(
                "at least one scenario is required, e.g. `browse: { executor: \
                 constant-arrival-rate, rate: 10, requests: [{ name: home, url: / }] }`",
            ),
        })
        .map(Scenarios)
    }
}

/// `headers`: name to value, both checked as HTTP would; names unique ignoring case.
#[derive(Default)]
pub(in crate::scenario) struct Headers(pub(in crate::scenario) BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = d.deserialize_map(Entries {
            expecting: "a map of header names to values",
            key: "a header name",
            check: |s: &str, earlier: &[(String, String)]| {
                check_header_name(s)?;
                if earlier.iter().any(|(n, _)| n.eq_ignore_ascii_case(s)) {
                    return Err(format!("header `{}` is set twice", shown(s)));
                }
                Ok(s.to_owned())
            },
            value: |name: &str| {
                let credential = is_credential_header(name);
                Checked {
                    expecting: "a header value",
                    check: move |s: &str| {
                        http::HeaderValue::from_str(s)
                            .map(|_| s.to_owned())
                            .map_err(|_| {
                                // A credential's value is never echoed.
                                let value = if credential {
                                    REDACTED.into()
                                } else {
                                    shown(s)
                                };
                                format!("invalid header value `{value}`")
                            })
                    },
                }
            },
            empty: None,
        })?;
        Ok(Headers(entries.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use sls_load_core::job::Region;

    use crate::scenario::test_support::*;

    #[test]
    fn a_region_list_means_equal_weights_and_a_map_keeps_weights_as_given() {
        let s = ok(&format!("{MINIMAL}regions: [eu-west-1, us-gov-west-1]\n"));
        assert_eq!(
            s.regions,
            vec![
                (Region::new("eu-west-1").unwrap(), 1.0),
                (Region::new("us-gov-west-1").unwrap(), 1.0)
            ]
        );
        let s = ok(&format!(
            "{MINIMAL}regions:\n  eu-west-1: 3\n  us-east-1: 1\n"
        ));
        assert_eq!(
            s.regions,
            vec![
                (Region::new("eu-west-1").unwrap(), 3.0),
                (Region::new("us-east-1").unwrap(), 1.0)
            ]
        );
    }

    #[test]
    fn scenario_and_region_names_are_checked() {
        let e = error(&minimal_with("  browse:", "  \"my browse\":"));
        assert_contains(&e, &[":4: scenarios", "invalid scenario name `my browse`"]);
        for (regions, key, want) in [
            (
                "[us-east-1, useast1]",
                "regions[1]",
                "`useast1` is not an AWS region or k6 load zone; did you mean us-east-1?",
            ),
            (
                "[us-east-1, us-east-1]",
                "regions[1]",
                "region `us-east-1` is listed twice",
            ),
            (
                "{ us-east-1: 0 }",
                "regions.us-east-1",
                "must be > 0, got 0",
            ),
            (
                "{ us-east-1: .nan }",
                "regions.us-east-1",
                "must be a finite number > 0",
            ),
            ("[]", "regions", "at least one region is required"),
            (
                "[us-eest-1]",
                "regions[0]",
                "`us-eest-1` is not an AWS region or k6 load zone; did you mean us-east-1?",
            ),
            (
                "{ us-east-1: 1, \"amazon:us:ashburn\": 1 }",
                "regions.amazon:us:ashburn",
                "region `us-east-1` is listed twice",
            ),
        ] {
            let e = error(&format!("{MINIMAL}regions: {regions}\n"));
            assert_contains(&e, &[":9: ", &format!("{key}: {want}")]);
        }
    }

    #[test]
    fn headers_must_be_valid_http_and_not_repeated() {
        let e = error(&minimal_with(
            "url: / }",
            "url: /, headers: { \"bad name\": x } }",
        ));
        assert_contains(
            &e,
            &["requests[0].headers", "invalid header name `bad name`"],
        );
        let e = error(&minimal_with(
            "url: / }",
            "url: /, headers: { Accept: a, accept: b } }",
        ));
        assert_contains(&e, &["header `accept` is set twice"]);
    }

    #[test]
    fn every_scenario_needs_a_request_and_every_file_a_scenario() {
        let e = error(&minimal_with("      - { name: home, url: / }\n", ""));
        assert_contains(
            &e,
            &["scenarios.browse.requests: at least one request is required"],
        );
        let e = error("target: http://a\nduration: 1s\nscenarios: {}\n");
        assert_contains(&e, &[":3: scenarios: at least one scenario is required"]);
    }
}
