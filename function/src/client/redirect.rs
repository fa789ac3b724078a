//! Following redirects: whether a response is a redirect to follow (301, 302, 303,
//! 307 or 308 to the same origin) and the request to send next, with `Location`
//! resolved against the request's URL.
//!
//! This module builds the next request only. It does not count redirects against
//! the limit, send anything or add up timings (the connection does), and it never
//! follows a redirect off the target's origin (such a 3xx is returned as is).

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
use http::{Method, Request, Uri};
use url::Url;

use super::Response;
use super::origin::{Origin, origin_form};

/// The request to send next if `response` is a redirect to follow: 301, 302, 303,
/// 307 or 308 with a `Location` on the same origin. 303 (except for HEAD), and 301
/// and 302 after a POST, become a GET without body.
pub(super) fn redirect(
    origin: &Origin,
    current: &Request<Bytes>,
    response: &Response,
) -> Option<Request<Bytes>> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers.get(LOCATION)?.to_str().ok()?;
    let uri = resolve_location(origin, current.uri(), location)?;
    let method = current.method();
    let to_get = (response.status == 303 && *method != Method::HEAD)
        || (matches!(response.status, 301 | 302) && *method == Method::POST);
    let mut next = Request::new(if to_get {
        Bytes::new()
    } else {
        current.body().clone()
    });
    *next.method_mut() = if to_get { Method::GET } else { method.clone() };
    *next.uri_mut() = uri;
    *next.headers_mut() = current.headers().clone();
    if to_get {
        for name in [
            CONTENT_LENGTH,
            CONTENT_TYPE,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            next.headers_mut().remove(name);
        }
    }
    Some(next)
}

/// Resolves a `Location` against the request URI `base` (RFC 3986 reference
/// resolution, by the `url` crate), as an origin-form URI, or None if it points
/// to another origin or does not parse.
fn resolve_location(origin: &Origin, base: &Uri, location: &str) -> Option<Uri> {
    let location = location.trim();
    if location.is_empty() || location.starts_with('#') {
        return None;
    }
    let path = base.path_and_query().map_or("/", |pq| pq.as_str());
    let base = Url::parse(&format!("{}://{}{path}", origin.scheme, origin.authority)).ok()?;
    let uri: Uri = base.join(location).ok()?.as_str().parse().ok()?;
    origin.contains(&uri).then(|| origin_form(&uri))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;
    use crate::client::test_support::{bounded, client, get, plain_server, request};

    #[tokio::test]
    async fn same_origin_redirects_are_followed() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let response = conn.send(get("/redirect"), true).await.expect("followed");
            assert_eq!((response.status, &response.body[..]), (200, &b"target"[..]));
            assert_eq!(response.redirects, 1);
            let relative = conn
                .send(get("/relative/from"), true)
                .await
                .expect("relative");
            assert_eq!(
                (relative.status, &relative.body[..]),
                (200, &b"relative"[..])
            );
            let absolute = format!("http://{addr}/redirect");
            let response = conn.send(get(&absolute), true).await.expect("absolute URL");
            assert_eq!(&response.body[..], b"target");
        })
        .await;
    }

    #[tokio::test]
    async fn cross_origin_redirects_are_returned_as_is() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let response = conn.send(get("/cross"), false).await.expect("3xx");
            assert_eq!((response.status, response.redirects), (302, 0));
            assert_eq!(
                response.headers.get(LOCATION).map(|v| v.as_bytes()),
                Some(&b"http://elsewhere.invalid/target"[..])
            );
        })
        .await;
    }

    #[tokio::test]
    async fn redirects_stop_at_the_limit() {
        bounded(async {
            let addr = plain_server().await;
            for limit in [0, 3] {
                let mut cfg = ClientConfig::new(format!("http://{addr}"));
                cfg.redirects = limit;
                let mut conn = client(cfg).await.connection();
                let response = conn.send(get("/loop"), false).await.expect("3xx");
                assert_eq!((response.status, response.redirects), (307, limit));
            }
        })
        .await;
    }

    #[tokio::test]
    async fn see_other_turns_a_post_into_a_get_without_body() {
        bounded(async {
            let addr = plain_server().await;
            let mut conn = client(ClientConfig::new(format!("http://{addr}")))
                .await
                .connection();
            let echo = conn
                .send(request(Method::POST, "/method", "data"), true)
                .await
                .expect("post");
            assert_eq!(&echo.body[..], b"POST 4");
            let response = conn
                .send(request(Method::POST, "/see-other", "data"), true)
                .await
                .expect("303");
            assert_eq!((response.redirects, &response.body[..]), (1, &b"GET 0"[..]));
        })
        .await;
    }

    #[test]
    fn locations_resolve_against_the_request_path() {
        let origin = Origin::parse("https://Example.test").expect("origin");
        let base: Uri = "/a/b/c?q=1".parse().expect("base");
        let resolve = |l: &str| resolve_location(&origin, &base, l).map(|u| u.to_string());
        assert_eq!(resolve("/x?y=2#f").as_deref(), Some("/x?y=2"));
        assert_eq!(resolve("d").as_deref(), Some("/a/b/d"));
        assert_eq!(resolve("?z=3").as_deref(), Some("/a/b/c?z=3"));
        assert_eq!(resolve("https://example.test:443/e").as_deref(), Some("/e"));
        assert_eq!(resolve("//EXAMPLE.test/f").as_deref(), Some("/f"));
        assert_eq!(resolve("http://example.test/g"), None);
        assert_eq!(resolve("https://example.test:8443/h"), None);
        assert_eq!(resolve("https://other.test/i"), None);
        assert_eq!(resolve(""), None);
        assert_eq!(resolve("../e/./f").as_deref(), Some("/a/e/f"));
    }
}
