//! The `thresholds` block: an ordered map of metric key (checked by `threshold`) to
//! one expression, a list of them, or k6's `{ threshold, abortOnFail,
//! delayAbortEval }` objects (snake_case `abort_on_fail`, `delay_abort_eval` too).
//!
//! It does not parse expressions itself (`threshold` does) and does not check tag
//! filters against the file's requests and regions (`build` does).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::threshold::{self, Threshold};

use super::collections::Entries;

/// `thresholds`: ordered map of metric key to a list of k6 expressions.
pub(in crate::scenario) struct Thresholds(pub(in crate::scenario) Vec<(String, Vec<Threshold>)>);

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Entries {
            expecting: "a map of metric names to lists of thresholds",
            key: "a metric name like http_req_duration",
            check: |s: &str, _: &[(String, Vec<Threshold>)]| {
                threshold::parse_metric_key(s)
                    .map(|_| s.to_owned())
                    .map_err(|e| e.detail())
            },
            value: |key: &str| ThresholdList {
                key: key.to_owned(),
            },
            empty: None,
        })
        .map(Thresholds)
    }
}

/// The list under one metric key (a single string is accepted too).
struct ThresholdList {
    key: String,
}

impl<'de> DeserializeSeed<'de> for ThresholdList {
    type Value = Vec<Threshold>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Threshold>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThresholdList {
    type Value = Vec<Threshold>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of thresholds like [\"p(95)<500\"]")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<Threshold>, E> {
        ThresholdEntry { key: &self.key }
            .visit_str(v)
            .map(|t| vec![t])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Threshold>, A::Error> {
        let mut out = Vec::new();
        while let Some(t) = seq.next_element_seed(ThresholdEntry { key: &self.key })? {
            out.push(t);
        }
        Ok(out)
    }
}

/// One threshold: `"p(95)<500"` or `{ threshold: "p(95)<500", abortOnFail: true }`.
struct ThresholdEntry<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for ThresholdEntry<'_> {
    type Value = Threshold;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Threshold, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThresholdEntry<'_> {
    type Value = Threshold;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a threshold like \"p(95)<500\" or { threshold: \"p(95)<500\", abortOnFail: true }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Threshold, E> {
        Threshold::parse(self.key, v).map_err(|e| E::custom(e.detail()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Threshold, A::Error> {
        const FIELDS: &[&str] = &["threshold", "abortOnFail", "delayAbortEval"];
        let mut expr: Option<String> = None;
        let mut abort_on_fail = false;
        let mut delay = Duration::ZERO;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "threshold" => expr = Some(map.next_value()?),
                "abortOnFail" | "abort_on_fail" => abort_on_fail = map.next_value()?,
                "delayAbortEval" | "delay_abort_eval" => delay = map.next_value_seed(Delay)?,
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let expr = expr.ok_or_else(|| de::Error::missing_field("threshold"))?;
        let mut threshold = self.visit_str::<A::Error>(&expr)?;
        threshold.abort_on_fail = abort_on_fail;
        threshold.delay_abort_eval = delay;
        Ok(threshold)
    }
}

/// `delayAbortEval`: a duration like `10s` (`0s` allowed: judged from the start).
struct Delay;

impl<'de> DeserializeSeed<'de> for Delay {
    type Value = Duration;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Duration, D::Error> {
        super::numbers::duration_or_zero(d)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::scenario::test_support::*;

    #[test]
    fn delay_abort_eval_is_read_in_k6_and_snake_case_spelling() {
        let s = ok(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ threshold: p(95)<1, abortOnFail: true, delayAbortEval: 2s }}]\n  http_req_failed: [{{ threshold: rate<0.01, abort_on_fail: true, delay_abort_eval: 1m30s }}]\n"
        ));
        assert!(s.thresholds[0].abort_on_fail);
        assert_eq!(s.thresholds[0].delay_abort_eval, Duration::from_secs(2));
        assert!(s.thresholds[1].abort_on_fail);
        assert_eq!(s.thresholds[1].delay_abort_eval, Duration::from_secs(90));
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ threshold: p(95)<1, delayAbortEval: soon }}]\n"
        ));
        assert_contains(
            &e,
            &[
                ":10: thresholds.http_req_duration[0].delayAbortEval: ",
                "invalid duration `soon`",
            ],
        );
    }

    #[test]
    fn thresholds_accept_k6_object_form_but_no_unknown_keys_in_it() {
        let s = ok(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration:\n    - threshold: p(95)<500\n      abortOnFail: true\n    - p(99)<900\n"
        ));
        assert_eq!(s.thresholds.len(), 2);
        assert!(s.thresholds[0].abort_on_fail);
        assert_eq!(s.thresholds[0].delay_abort_eval, Duration::ZERO);
        assert_eq!(s.thresholds[1].expr, "p(99)<900");
        let s = ok(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ threshold: p(95)<500, abortOnFail: true, delayAbortEval: 10s }}]\n"
        ));
        assert_eq!(
            s.thresholds[0].delay_abort_eval,
            std::time::Duration::from_secs(10)
        );
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ threshold: p(95)<500, abortOnFails: true }}]\n"
        ));
        assert_contains(
            &e,
            &[
                ":10: thresholds.http_req_duration[0]: ",
                "unknown field `abortOnFails`; did you mean `abortOnFail`?",
            ],
        );
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_duration: [{{ abortOnFail: true }}]\n"
        ));
        assert_contains(&e, &["missing required key `threshold`"]);
    }

    #[test]
    fn a_malformed_threshold_names_the_metric_key_and_the_expression() {
        for (expr, want) in [
            (
                "p95<500",
                "`p95<500`: expected an aggregation like p(95), avg, min, max, med",
            ),
            ("p(95)<", "`p(95)<`: missing a value after `<`"),
            (
                "p(95)<<5",
                "`p(95)<<5`: expected a number after `<`, found `<5`",
            ),
            ("rate<0.01", "`rate` does not apply to http_req_duration"),
        ] {
            let e = error(&format!(
                "{MINIMAL}thresholds:\n  http_req_duration: [\"p(99)<900\", \"{expr}\"]\n"
            ));
            assert_contains(&e, &[":10: thresholds.http_req_duration[1]: ", want]);
        }
        let e = error(&format!(
            "{MINIMAL}thresholds:\n  http_req_failed: [\"rate<0.01\"]\n  http_req_duraton: [\"p(95)<500\"]\n"
        ));
        assert_contains(
            &e,
            &[":11: thresholds.http_req_duraton: unknown metric `http_req_duraton`"],
        );
    }
}
