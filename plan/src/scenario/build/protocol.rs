//! The `http:` block: protocol options copied into every job, each left out key
//! taking [`HttpOptions`]' default, and `tls_ca_file` read beside the scenario.
//!
//! It does not check the CA file's contents beyond "holds a PEM certificate"
//! (`files` does that much) and does not configure any client.

use sls_load_core::job::HttpOptions;

use super::Ctx;
use crate::scenario::error::ScenarioError;
use crate::scenario::files::load_ca;
use crate::scenario::locate::Seg;
use crate::scenario::raw::{RawHttp, RawServedBy};

/// The protocol options of the `http:` block, if the file has one.
pub(super) fn options(ctx: Ctx<'_>, raw: Option<RawHttp>) -> Result<HttpOptions, ScenarioError> {
    let defaults = HttpOptions::default();
    let Some(h) = raw else {
        return Ok(defaults);
    };
    block(ctx, h, defaults)
}

/// The top-level `served_by.header` and `region_header` keys, carried in the
/// jobs' protocol options.
pub(super) fn with_drill_headers(
    mut http: HttpOptions,
    served_by: Option<RawServedBy>,
    region_header: Option<String>,
) -> HttpOptions {
    http.served_by_header = served_by.map(|s| s.header);
    http.region_header = region_header;
    http
}

fn block(ctx: Ctx<'_>, h: RawHttp, defaults: HttpOptions) -> Result<HttpOptions, ScenarioError> {
    let tls_ca_pem = match &h.tls_ca_file {
        None => None,
        Some(name) => Some(
            load_ca(ctx.file, name)
                .map_err(|m| ctx.fail(&[Seg::Key("http"), Seg::Key("tls_ca_file")], m))?,
        ),
    };
    let streams = h
        .max_streams_per_connection
        .unwrap_or(defaults.max_streams_per_connection);
    if !(1..=MAX_STREAMS_PER_CONNECTION).contains(&streams) {
        let key = [Seg::Key("http"), Seg::Key("max_streams_per_connection")];
        let why = format!("must be between 1 and {MAX_STREAMS_PER_CONNECTION}");
        return Err(ctx.fail(&key, why));
    }
    Ok(HttpOptions {
        version: h.version.unwrap_or(defaults.version),
        max_redirects: h.max_redirects.unwrap_or(defaults.max_redirects),
        new_connection_per_iteration: h
            .new_connection_per_iteration
            .unwrap_or(defaults.new_connection_per_iteration),
        insecure_skip_tls_verify: h
            .insecure_skip_tls_verify
            .unwrap_or(defaults.insecure_skip_tls_verify),
        tls_ca_pem,
        connect_timeout: h.connect_timeout.unwrap_or(defaults.connect_timeout),
        max_body_buffer: h.max_body_buffer.unwrap_or(defaults.max_body_buffer),
        max_streams_per_connection: streams,
        ..defaults
    })
}

/// Most VUs one connection may carry as HTTP/2 streams (servers commonly allow
/// 100 to 250 concurrent streams; nginx 128).
const MAX_STREAMS_PER_CONNECTION: u32 = 1_000;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sls_load_core::job::{HttpOptions, HttpVersionChoice};

    use crate::scenario::test_support::*;

    #[test]
    fn the_http_block_sets_protocol_options_and_reads_the_ca_beside_the_scenario() {
        assert_eq!(ok(MINIMAL).http, HttpOptions::default());
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let text = format!(
            "{MINIMAL}http:\n  version: http2\n  max_redirects: 0\n  \
             new_connection_per_iteration: true\n  insecure_skip_tls_verify: true\n  \
             tls_ca_file: ca.pem\n  connect_timeout: 2s\n  max_body_buffer: 512KiB\n"
        );
        let s = load_with(&[("ca.pem", pem)], &text).expect("loads");
        assert_eq!(
            s.http,
            HttpOptions {
                version: HttpVersionChoice::Http2,
                max_redirects: 0,
                new_connection_per_iteration: true,
                insecure_skip_tls_verify: true,
                tls_ca_pem: Some(pem.into()),
                connect_timeout: Duration::from_secs(2),
                max_body_buffer: 512 * 1024,
                ..HttpOptions::default()
            }
        );
        let s = ok(&format!("{MINIMAL}http:\n  version: http1\n"));
        assert_eq!(s.http.version, HttpVersionChoice::Http1);
        assert_eq!(s.http.max_redirects, 10);
    }

    #[test]
    fn served_by_and_region_header_go_into_every_jobs_protocol_options() {
        let s = ok(MINIMAL);
        assert_eq!(
            (s.http.served_by_header, s.http.region_header),
            (None, None)
        );
        let s = ok(&format!(
            "{MINIMAL}served_by: {{ header: X-Served-Region }}\nregion_header: X-Client-Region\n"
        ));
        assert_eq!(s.http.served_by_header.as_deref(), Some("X-Served-Region"));
        assert_eq!(s.http.region_header.as_deref(), Some("X-Client-Region"));
        let line = error(&format!(
            "{MINIMAL}served_by: {{ header: \"bad header\" }}\n"
        ));
        assert_contains(&line, &[":9:", "served_by.header"]);
        let line = error(&format!("{MINIMAL}served_by: {{ heder: X }}\n"));
        assert_contains(&line, &[":9:", "served_by", "heder"]);
    }

    #[test]
    fn max_streams_per_connection_defaults_to_one_and_names_a_bad_one() {
        assert_eq!(ok(MINIMAL).http.max_streams_per_connection, 1);
        let s = ok(&format!(
            "{MINIMAL}http:\n  version: http2\n  max_streams_per_connection: 100\n"
        ));
        assert_eq!(s.http.max_streams_per_connection, 100);
        for bad in ["0", "1001"] {
            let line = error(&format!(
                "{MINIMAL}http:\n  max_streams_per_connection: {bad}\n"
            ));
            assert_contains(
                &line,
                &[
                    ":10:",
                    "http.max_streams_per_connection",
                    "between 1 and 1000",
                ],
            );
        }
    }

    #[test]
    fn max_body_buffer_takes_sizes_and_names_a_bad_one() {
        assert_eq!(ok(MINIMAL).http.max_body_buffer, 1 << 20);
        let s = ok(&format!("{MINIMAL}http:\n  max_body_buffer: 4096\n"));
        assert_eq!(s.http.max_body_buffer, 4096);
        let s = ok(&format!("{MINIMAL}http:\n  max_body_buffer: 2MiB\n"));
        assert_eq!(s.http.max_body_buffer, 2 << 20);
        for bad in ["0", "1 MiB", "2GiB", "lots"] {
            let line = error(&format!("{MINIMAL}http:\n  max_body_buffer: {bad}\n"));
            assert_contains(&line, &[":10:", "http.max_body_buffer"]);
        }
    }

    #[test]
    fn http_block_mistakes_name_the_key_and_line() {
        let line = error(&format!("{MINIMAL}http:\n  max_redirect: 3\n"));
        assert_contains(&line, &[":10:", "http", "max_redirect"]);
        let line = error(&format!("{MINIMAL}http:\n  version: http3\n"));
        assert_contains(&line, &[":10:", "http.version", "http3"]);
        let line = load_with(
            &[],
            &format!("{MINIMAL}http:\n  tls_ca_file: missing.pem\n"),
        )
        .expect_err("missing CA file")
        .to_string();
        assert_contains(
            &line,
            &[":10: http.tls_ca_file: cannot read", "missing.pem"],
        );
        let line = load_with(
            &[("ca.pem", "not a certificate")],
            &format!("{MINIMAL}http:\n  tls_ca_file: ca.pem\n"),
        )
        .expect_err("not PEM")
        .to_string();
        assert_contains(&line, &["http.tls_ca_file", "no PEM certificate"]);
    }
}
