use super::*;

fn parse(key: &str, expr: &str) -> Threshold {
    match Threshold::parse(key, expr) {
        Ok(t) => t,
        Err(e) => panic!("{key}: {expr}: {e}"),
    }
}

fn error(key: &str, expr: &str) -> String {
    match Threshold::parse(key, expr) {
        Ok(t) => panic!("{key}: {expr} parsed as {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn percentile_threshold_on_duration_parses_into_stat_op_and_milliseconds() {
    let t = parse("http_req_duration", "p(95)<500");
    assert_eq!(t.metric, Metric::HttpReqDuration);
    assert_eq!(t.stat, Stat::Percentile(95.0));
    assert_eq!(t.op, Op::Lt);
    assert_eq!(t.value, 500.0);
    assert_eq!(t.selector, None);
    assert_eq!(t.expr, "p(95)<500");
    assert!(!t.abort_on_fail);
}

#[test]
fn fractional_percentiles_and_every_trend_aggregation_are_accepted() {
    assert_eq!(
        parse("http_req_duration", "p(99.9)<=800").stat,
        Stat::Percentile(99.9)
    );
    assert_eq!(
        parse("http_req_duration", "p(100)<2000").stat,
        Stat::Percentile(100.0)
    );
    for (expr, stat) in [
        ("avg<200", Stat::Avg),
        ("min>=1", Stat::Min),
        ("max<3000", Stat::Max),
        ("med<150", Stat::Med),
    ] {
        assert_eq!(parse("http_req_duration", expr).stat, stat, "{expr}");
    }
}

#[test]
fn whitespace_around_the_operator_is_allowed() {
    let t = parse("http_req_duration", "  p(95) <  500 ");
    assert_eq!(
        (t.stat, t.op, t.value),
        (Stat::Percentile(95.0), Op::Lt, 500.0)
    );
    assert_eq!(t.expr, "  p(95) <  500 ", "expr keeps the original text");
}

#[test]
fn every_k6_operator_is_understood_and_triple_equals_means_equals() {
    for (expr, op) in [
        ("rate<0.01", Op::Lt),
        ("rate<=0.01", Op::Le),
        ("rate>0.01", Op::Gt),
        ("rate>=0.01", Op::Ge),
        ("rate==0", Op::Eq),
        ("rate===0", Op::Eq),
        ("rate!=1", Op::Ne),
    ] {
        assert_eq!(parse("http_req_failed", expr).op, op, "{expr}");
    }
}

#[test]
fn rate_metrics_allow_only_rate_and_counters_allow_count_and_rate() {
    assert_eq!(parse("http_req_failed", "rate<0.01").stat, Stat::Rate);
    assert_eq!(parse("checks", "rate>0.99").stat, Stat::Rate);
    assert_eq!(parse("http_reqs", "count>1000").stat, Stat::Count);
    assert_eq!(parse("http_reqs", "rate>=290").stat, Stat::Rate);
    assert_eq!(parse("dropped_iterations", "count==0").stat, Stat::Count);

    let e = error("http_req_failed", "p(95)<0.01");
    assert!(
        e.contains("`p(95)` does not apply to http_req_failed; use rate"),
        "{e}"
    );
    let e = error("http_req_duration", "rate<0.01");
    assert!(e.contains("use p(N), avg, min, max or med"), "{e}");
    let e = error("http_reqs", "avg<3");
    assert!(e.contains("use count or rate"), "{e}");
}

#[test]
fn a_rate_of_a_rate_metric_must_be_a_fraction() {
    let e = error("http_req_failed", "rate<5");
    assert!(e.contains("fraction between 0 and 1"), "{e}");
    assert_eq!(parse("checks", "rate>=1").value, 1.0);
}

#[test]
fn holds_compares_observed_against_value_and_nan_never_holds() {
    let t = parse("http_req_duration", "p(95)<500");
    assert!(t.holds(499.9));
    assert!(!t.holds(500.0));
    assert!(!t.holds(f64::NAN));
    let t = parse("checks", "rate>=0.99");
    assert!(t.holds(0.99));
    assert!(!t.holds(0.98));
    let t = parse("dropped_iterations", "count!=0");
    assert!(t.holds(3.0));
    assert!(!t.holds(0.0));
}

#[test]
fn a_tag_filter_in_the_key_becomes_the_selector_and_part_of_the_metric_name() {
    let t = parse("http_req_duration{name:home}", "p(95)<500");
    assert_eq!(t.selector, Some(("name".into(), "home".into())));
    assert_eq!(t.metric_name(), "http_req_duration{name:home}");
    for key in [
        "http_req_duration{load_zone:amazon:us:ashburn}",
        "http_req_duration{load_zone:us-east-1}",
        "http_req_duration{region:amazon:us-east-1}",
    ] {
        let t = parse(key, "p(95)<500");
        assert_eq!(t.selector, Some(("region".into(), "us-east-1".into())));
        assert_eq!(t.metric_name(), "http_req_duration{region:us-east-1}");
    }
    let t = parse("http_req_failed{ region : eu-west-1 }", "rate<0.01");
    assert_eq!(t.selector, Some(("region".into(), "eu-west-1".into())));
    assert_eq!(t.metric_name(), "http_req_failed{region:eu-west-1}");
    assert_eq!(parse("http_reqs", "count>1").metric_name(), "http_reqs");
    assert_eq!(
        parse("http_req_duration{name:home}", "p(95) < 500").to_string(),
        "http_req_duration{name:home}: p(95) < 500"
    );
}

#[test]
fn malformed_tag_filters_are_rejected() {
    for (key, want) in [
        ("http_req_duration{name:home", "tag filter must look like"),
        ("http_req_duration{name}", "tag filter must look like"),
        ("http_req_duration{name:}", "tag filter must look like"),
        ("http_req_duration{name:a,region:b}", "only one tag filter"),
        ("http_req_duration{group:api}", "tag `group` cannot be used"),
        ("dropped_iterations{name:home}", "filter by region only"),
    ] {
        let e = error(key, "p(95)<500");
        assert!(e.starts_with(key), "{e}");
        assert!(e.contains(want), "{key}: {e}");
    }
}

#[test]
fn unknown_metric_is_rejected_naming_the_supported_ones() {
    let e = error("http_req_duraton", "p(95)<500");
    assert_eq!(
        e,
        "http_req_duraton: unknown metric `http_req_duraton` (supported: \
         http_req_duration, http_req_failed, http_reqs, checks, dropped_iterations, \
         http_req_blocked, http_req_connecting, http_req_tls_handshaking, http_req_sending, \
         http_req_waiting, http_req_receiving, iterations, iteration_duration, data_sent, \
         data_received, vus, vus_max, time_to_recover, time_to_detect, drill_errors)"
    );
}

#[test]
fn percentile_without_parentheses_names_the_expression_and_the_fix() {
    let e = error("http_req_duration", "p95<500");
    assert_eq!(
        e,
        "http_req_duration: `p95<500`: expected an aggregation like p(95), avg, min, \
         max, med, rate, count or value (write p(95), not p95)"
    );
}

#[test]
fn missing_value_is_rejected() {
    let e = error("http_req_duration", "p(95)<");
    assert_eq!(e, "http_req_duration: `p(95)<`: missing a value after `<`");
    let e = error("http_req_duration", "p(95) <  ");
    assert!(e.contains("missing a value after `<`"), "{e}");
}

#[test]
fn doubled_or_unknown_operators_are_rejected() {
    let e = error("http_req_duration", "p(95)<<5");
    assert_eq!(
        e,
        "http_req_duration: `p(95)<<5`: expected a number after `<`, found `<5`"
    );
    let e = error("http_req_duration", "p(95)=5");
    assert!(e.contains("unknown operator `=`"), "{e}");
    let e = error("http_req_duration", "p(95)=>5");
    assert!(e.contains("unknown operator `=>`"), "{e}");
    let e = error("http_req_duration", "p(95) 500");
    assert!(e.contains("expected an operator"), "{e}");
}

#[test]
fn value_must_be_a_finite_number_without_unit() {
    let e = error("http_req_duration", "p(95)<500ms");
    assert!(
        e.contains("found `500ms` (http_req_duration is in milliseconds"),
        "{e}"
    );
    for expr in ["avg<inf", "avg<NaN", "avg<1e999"] {
        let e = error("http_req_duration", expr);
        assert!(e.contains("number"), "{expr}: {e}");
    }
    assert_eq!(parse("http_req_duration", "avg<1.5e2").value, 150.0);
}

#[test]
fn percentile_must_be_above_0_and_at_most_100() {
    for expr in ["p(0)<5", "p(101)<5", "p(-1)<5"] {
        let e = error("http_req_duration", expr);
        assert!(
            e.contains("percentile must be > 0 and <= 100"),
            "{expr}: {e}"
        );
    }
    let e = error("http_req_duration", "p(x)<5");
    assert!(e.contains("percentile `x` is not a number"), "{e}");
}

#[test]
fn empty_expression_is_rejected() {
    let e = error("http_req_duration", "  ");
    assert!(e.contains("empty threshold"), "{e}");
}

#[test]
fn detail_leaves_out_the_metric_key() {
    let Err(e) = Threshold::parse("http_req_duration", "p95<500") else {
        panic!("p95<500 parsed");
    };
    assert!(e.detail().starts_with("`p95<500`: expected an aggregation"));
    let Err(e) = Threshold::parse("nope", "p(95)<500") else {
        panic!("nope parsed");
    };
    assert!(e.detail().starts_with("unknown metric `nope`"));
}

#[test]
fn phase_timings_are_trends_with_k6_names_and_any_filter() {
    let t = parse("http_req_waiting{region:eu-west-1}", "p(95)<200");
    assert_eq!(t.metric, Metric::HttpReqWaiting);
    assert_eq!(t.metric.phase(), Some(4));
    assert_eq!(t.selector, Some(("region".into(), "eu-west-1".into())));
    assert_eq!(
        parse("http_req_connecting{name:home}", "max<50").stat,
        Stat::Max
    );
    assert!(error("http_req_sending", "rate<1").contains("does not apply"));
    assert!(
        error("http_req_receiving", "avg<5ms").contains("http_req_receiving is in milliseconds")
    );
}

#[test]
fn the_logs_tags_can_filter_and_check_names_filter_checks_only() {
    for (key, tag, value) in [
        ("http_req_duration{status:200}", "status", "200"),
        ("http_reqs{method:GET}", "method", "GET"),
        ("http_req_failed{scenario:browse}", "scenario", "browse"),
        (
            "http_req_duration{expected_response:true}",
            "expected_response",
            "true",
        ),
        ("checks{check:status is 200}", "check", "status is 200"),
        ("http_reqs{served_by:us-east-1}", "served_by", "us-east-1"),
    ] {
        let expr = if key.starts_with("http_req_duration") {
            "p(95)<1"
        } else {
            "rate<1"
        };
        assert_eq!(
            parse(key, expr).selector,
            Some((tag.into(), value.into())),
            "{key}"
        );
    }
    assert!(error("checks{name:home}", "rate>0.9").contains("filtered by `check` only"));
    assert!(error("http_reqs{check:x}", "count>1").contains("checks only"));
    assert!(error("dropped_iterations{status:200}", "count<1").contains("region only"));
}

#[test]
fn iterations_are_a_counter_and_their_duration_a_trend_by_region_or_scenario() {
    assert_eq!(parse("iterations", "count>10").metric, Metric::Iterations);
    assert_eq!(
        parse("iterations{scenario:browse}", "rate>1").stat,
        Stat::Rate
    );
    let t = parse("iteration_duration{region:eu-west-1}", "p(95)<900");
    assert_eq!(t.metric, Metric::IterationDuration);
    assert!(error("iterations{name:home}", "count>1").contains("filter by region only"));
    assert!(error("iteration_duration", "count>1").contains("does not apply"));
}

#[test]
fn data_sent_and_received_are_byte_counters_filtered_by_request_tags() {
    let t = parse("data_received", "count>=1000000");
    assert_eq!((t.metric, t.stat), (Metric::DataReceived, Stat::Count));
    let t = parse("data_sent{name:home}", "rate<1000000");
    assert_eq!(t.metric, Metric::DataSent);
    assert_eq!(t.selector, Some(("name".into(), "home".into())));
    assert!(
        parse("data_sent{load_zone:amazon:us:ashburn}", "count>1")
            .selector
            .is_some()
    );
    assert!(error("data_sent{status:200}", "count>1").contains("per request"));
    assert!(error("data_received", "p(95)<1").contains("does not apply"));
}

#[test]
fn vus_and_vus_max_are_gauges_by_value_min_or_max_filtered_by_region_or_scenario() {
    let t = parse("vus_max", "value<=100");
    assert_eq!((t.metric, t.stat), (Metric::VusMax, Stat::Value));
    let t = parse("vus{region:us-east-1}", "max>=5");
    assert_eq!((t.metric, t.stat), (Metric::Vus, Stat::Max));
    assert_eq!(t.selector, Some(("region".into(), "us-east-1".into())));
    assert_eq!(parse("vus{scenario:browse}", "min>0").stat, Stat::Min);
    assert!(error("vus", "count>1").contains("value, min or max"));
    assert!(error("vus{name:home}", "max>1").contains("per scenario"));
    assert!(error("http_req_duration", "value<1").contains("does not apply"));
}

#[test]
fn a_threshold_is_stored_as_the_strings_written_and_read_back_typed() {
    let mut t = parse(
        "http_req_duration{load_zone:amazon:us:ashburn}",
        "p(95) < 500",
    );
    t.abort_on_fail = true;
    t.delay_abort_eval = std::time::Duration::from_secs(2);
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(
        json,
        r#"{"metric":"http_req_duration{region:us-east-1}","expr":"p(95) < 500","abort_on_fail":true,"delay_abort_eval":"2s"}"#
    );
    assert_eq!(serde_json::from_str::<Threshold>(&json).unwrap(), t);
    let plain: Threshold =
        serde_json::from_str(r#"{"metric":"checks","expr":"rate>0.9"}"#).unwrap();
    assert!(!plain.abort_on_fail && plain.delay_abort_eval.is_zero());
    assert_eq!(
        serde_json::to_string(&plain).unwrap(),
        r#"{"metric":"checks","expr":"rate>0.9"}"#
    );
    let bad = serde_json::from_str::<Threshold>(r#"{"metric":"nope","expr":"p(95)<1"}"#);
    let e = bad.unwrap_err().to_string();
    assert!(e.contains("unknown metric `nope`"), "{e}");
}
