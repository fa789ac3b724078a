//! The engine's one seam to the network: a [`Target`] (the base URL, resolved once)
//! and a VU's [`Conn`] to it, whose [`Conn::send`] opens or reuses the connection,
//! sends one request and reads the whole response.
//!
//! The shape mirrors `client::Connection::send` (owned `Request<Bytes>`, a
//! `keep_body` flag, failures as an [`ErrorClass`]), so the HTTP/1.1-over-TCP
//! implementation here can be swapped for the full client (TLS, HTTP/2, timings)
//! without touching pacing, flows or recording. This module owns connecting and
//! reading responses; it does not time requests, apply timeouts (the caller wraps
//! `send` in one; dropping the future drops the connection) or judge statuses.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::EngineError;
use crate::job::ErrorClass;

/// The most body bytes kept for captures and checks; the rest is read and dropped.
pub const MAX_KEPT_BODY: usize = 4 << 20;

/// The target every VU of a job talks to.
#[derive(Debug)]
pub struct Target {
    authority: String,
    addrs: Result<Vec<SocketAddr>, ErrorClass>,
}

impl Target {
    /// Checks `url` (an `http://` base URL) and resolves its host once. A name that
    /// does not resolve is no error here: every send then fails as `dns`.
    pub async fn new(url: &str) -> Result<Self, EngineError> {
        let bad = |reason: &str| EngineError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(bad("https targets are not supported yet; use http://")),
            _ => return Err(bad("expected an http:// URL")),
        }
        let authority = uri.authority().ok_or_else(|| bad("missing host"))?;
        let host = authority.host().trim_matches(['[', ']']).to_owned();
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self {
            authority: authority.as_str().to_owned(),
            addrs: resolve(&host, port).await,
        })
    }

    /// `host:port` as written in the URL (also the `Host` header).
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ErrorClass> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| ErrorClass::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ErrorClass::Dns);
    }
    Ok(addrs)
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, up to [`MAX_KEPT_BODY`]; empty unless `keep_body` was asked for.
    pub body: Bytes,
}

/// One VU's keep-alive connection; connects lazily on the first send.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// A new, not yet connected, connection to `target`.
    pub fn new(target: Arc<Target>) -> Self {
        Self {
            target,
            sender: None,
        }
    }

    /// Drops the connection; the next send connects again.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    /// Sends `req` (path-and-query URI, headers including `Host`) and reads the
    /// whole response, keeping the body when `keep_body`.
    pub async fn send(
        &mut self,
        req: Request<Bytes>,
        keep_body: bool,
    ) -> Result<Reply, ErrorClass> {
        let sender = self.ready().await?;
        let response = match sender.send_request(req.map(Full::new)).await {
            Ok(r) => r,
            Err(_) => {
                self.reset();
                return Err(ErrorClass::Protocol);
            }
        };
        let (parts, mut body) = response.into_parts();
        let mut kept = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                self.reset();
                return Err(ErrorClass::Protocol);
            };
            if keep_body && let Some(data) = frame.data_ref() {
                let room = MAX_KEPT_BODY.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: kept.freeze(),
        })
    }

    /// The connection, ready for a request: the kept one if it is still usable,
    /// otherwise a new one.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, ErrorClass> {
        if let Some(sender) = self.sender.as_mut() {
            if sender.ready().await.is_ok() {
                return self.sender.as_mut().ok_or(ErrorClass::Protocol);
            }
            self.sender = None;
        }
        let addrs = self.target.addrs.as_ref().map_err(|c| *c)?;
        let stream = TcpStream::connect(addrs.as_slice())
            .await
            .map_err(|_| ErrorClass::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| ErrorClass::Protocol)?;
        tokio::spawn(connection);
        Ok(self.sender.insert(sender))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn https_and_malformed_targets_are_refused_with_a_reason() {
        let err = Target::new("https://example.test")
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("https"), "{err}");
        let err = Target::new("ftp://x").await.expect_err("refused");
        assert!(err.to_string().contains("http://"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // Bind then drop a listener: its port refuses connections.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let target = Arc::new(
            Target::new(&format!("http://127.0.0.1:{port}"))
                .await
                .expect("target"),
        );
        let mut conn = Conn::new(target);
        let req = Request::new(Bytes::new());
        assert_eq!(conn.send(req, false).await.err(), Some(ErrorClass::Connect));
    }

    #[tokio::test]
    async fn a_name_that_did_not_resolve_fails_every_send_as_dns() {
        // What `Target::new` keeps when the lookup fails (no resolver is asked here).
        let target = Arc::new(Target {
            authority: "nowhere.invalid".into(),
            addrs: Err(ErrorClass::Dns),
        });
        let mut conn = Conn::new(target);
        let req = Request::new(Bytes::new());
        assert_eq!(conn.send(req, false).await.err(), Some(ErrorClass::Dns));
    }
}
