//! The target's origin (scheme, host and port), parsed once from the configured
//! URL: whether a URL is on it, and making an origin-form URI absolute on it (for
//! HTTP/2's `:scheme` and `:authority`).
//!
//! This module only parses and compares URIs. It does not resolve the host (the
//! connection set-up does) or decide about redirects (the redirect module uses it).

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

use super::ClientError;

/// The target's scheme, host and port.
pub(super) struct Origin {
    pub(super) scheme: Scheme,
    pub(super) authority: Authority,
    /// Without IPv6 brackets, lower case.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: bool,
}

impl Origin {
    /// Parses an `http://` or `https://` URL (without credentials).
    pub(super) fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::Target {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            _ => return Err(bad("expected an http:// or https:// URL")),
        };
        let authority = uri.authority().ok_or_else(|| bad("missing host"))?.clone();
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let host = authority
            .host()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        Ok(Self {
            scheme: if tls { Scheme::HTTPS } else { Scheme::HTTP },
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority,
            host,
            tls,
        })
    }

    /// Whether the absolute `uri` is on this origin.
    pub(super) fn contains(&self, uri: &Uri) -> bool {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return false;
        };
        let tls = if *scheme == Scheme::HTTPS {
            true
        } else if *scheme == Scheme::HTTP {
            false
        } else {
            return false;
        };
        tls == self.tls
            && authority
                .host()
                .trim_matches(['[', ']'])
                .eq_ignore_ascii_case(&self.host)
            && authority.port_u16().unwrap_or(if tls { 443 } else { 80 }) == self.port
    }

    /// `uri` (origin-form) made absolute on this origin.
    pub(super) fn absolute(&self, uri: &Uri) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(
            uri.path_and_query()
                .filter(|pq| !pq.as_str().is_empty())
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
    }
}

/// `uri`'s path and query as a URI (`/` when it has none).
pub(super) fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => Uri::from(pq.clone()),
        _ => Uri::from_static("/"),
    }
}
