//! HTTP/1.1 on one connection, spoken by the VU's own task: the request encoded
//! into a reused buffer and written with one `write`, the response head parsed
//! with `httparse` from a reused read buffer (header values are slices of it, not
//! copies), and the body framed by `Content-Length`, chunked transfer coding or the
//! end of the connection, kept only when asked for and only up to a limit (a
//! longer body breaks the exchange with [`Error::TooLarge`] as soon as it is
//! known to be longer, and closes the connection).
//!
//! This module owns the wire format of one exchange and the keep-alive decision
//! after it. It does not connect, retry, follow redirects or classify failures
//! (its sibling modules do); it only says where an exchange broke and whether
//! any request bytes had been written by then.

use std::io::{self, Write as _};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use super::Traffic;
use super::exchange::Stage;
use super::io::Stream;

/// Largest response head (and chunked trailer section) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most response header fields accepted.
const MAX_HEADERS: usize = 100;
/// Free space ensured in the read buffer before each read.
const READ_SPACE: usize = 8 * 1024;
/// Longest chunk-size line accepted (hex size plus extensions).
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// Why an exchange broke.
#[derive(Debug, thiserror::Error)]
pub(super) enum Error {
    /// The server closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The socket (or TLS) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The response is not HTTP/1.x as this client reads it.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The body was to be kept and is longer than the limit (bytes).
    #[error("response body over the {0}-byte limit for captures and checks")]
    TooLarge(u64),
}

impl Error {
    /// The I/O error kind, if the socket failed.
    pub(super) fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

fn malformed(what: impl Into<String>) -> Error {
    Error::Malformed(what.into())
}

/// A complete response.
pub(super) struct Reply {
    /// When the last request byte was written.
    pub flushed: Instant,
    /// When the response head had been parsed.
    pub head: Instant,
    /// When the last body byte had been read.
    pub end: Instant,
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The bytes this exchange wrote and read (see [`super::Traffic`]).
    pub traffic: Traffic,
}

/// A broken exchange.
pub(super) struct Broke {
    pub stage: Stage,
    pub error: Error,
    /// Some request bytes had been written.
    pub wrote: bool,
    pub flushed: Option<Instant>,
    pub head: Option<Instant>,
    pub at: Instant,
    /// The bytes written and read before it broke.
    pub traffic: Traffic,
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// What the read buffer starts with.
enum Head {
    /// Not a complete head yet.
    Partial,
    /// A 1xx response, consumed.
    Interim,
    /// The final response head, consumed.
    Final(StatusCode, Version, HeaderMap),
}

/// One HTTP/1.1 connection.
pub(super) struct H1 {
    stream: Stream,
    /// Where the last head's header names and values are (reused).
    spans: Vec<(usize, usize, usize, usize)>,
    /// Bytes read and not yet consumed.
    buf: BytesMut,
    /// The encoded request.
    out: Vec<u8>,
    open: bool,
    /// Reads so far, to tell whether a body needed any beyond the head's.
    reads: u64,
    /// Bytes read so far on this connection (plaintext under TLS).
    read_bytes: u64,
    /// Bytes written by the current exchange (plaintext under TLS).
    written: u64,
}

impl H1 {
    pub(super) fn new(stream: Stream) -> Self {
        Self {
            stream,
            spans: Vec::with_capacity(16),
            buf: BytesMut::with_capacity(READ_SPACE),
            out: Vec::with_capacity(512),
            open: true,
            reads: 0,
            read_bytes: 0,
            written: 0,
        }
    }

    /// Whether the connection may take another request.
    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    /// Whether the server has closed (or written to) this idle connection. Costs
    /// a non-blocking read, so it is only asked before a request that could not be
    /// replayed on a new connection.
    pub(super) fn closed_while_idle(&mut self) -> bool {
        let mut probe = [0u8; 1];
        let mut cx = Context::from_waker(Waker::noop());
        let mut read = ReadBuf::new(&mut probe);
        match &mut self.stream {
            Stream::Plain(s) => {
                !matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(s) => !Pin::new(s.as_mut())
                .poll_read(&mut cx, &mut read)
                .is_pending(),
        }
    }

    /// Sends `req` (`host` unless it carries one) and reads the whole response,
    /// keeping the body when `keep_body` says how many bytes it may have.
    pub(super) async fn exchange(
        &mut self,
        req: &Request<Bytes>,
        host: &HeaderValue,
        keep_body: Option<u64>,
    ) -> Result<Reply, Broke> {
        encode(&mut self.out, req, host);
        self.written = 0;
        let read_before = self.read_bytes;
        let mut wrote = false;
        let written = self.write_request(&mut wrote).await;
        let broke = |c: &Self, stage, error, wrote, flushed, head| Broke {
            stage,
            error,
            wrote,
            flushed,
            head,
            at: Instant::now(),
            traffic: c.traffic_since(read_before),
        };
        if let Err(e) = written {
            self.open = false;
            return Err(broke(self, Stage::Head, e.into(), wrote, None, None));
        }
        let flushed = Instant::now();
        let (status, version, headers) = match self.read_head().await {
            Ok(h) => h,
            Err(e) => {
                self.open = false;
                return Err(broke(self, Stage::Head, e, wrote, Some(flushed), None));
            }
        };
        let head = Instant::now();
        let reads = self.reads;
        let body = match framing(req.method(), status, &headers) {
            Ok(framing) => self
                .read_body(framing, keep_body)
                .await
                .map(|b| (framing, b)),
            Err(e) => Err(e),
        };
        let (framing, body) = match body {
            Ok(framed) => framed,
            Err(e) => {
                self.open = false;
                return Err(broke(
                    self,
                    Stage::Body,
                    e,
                    wrote,
                    Some(flushed),
                    Some(head),
                ));
            }
        };
        // A body that came with the head ends when the head does.
        let end = if self.reads == reads {
            head
        } else {
            Instant::now()
        };
        // Anything after the response is not ours to read: start afresh.
        if framing == Framing::Close
            || !keeps_alive(req.headers(), version, &headers)
            || !self.buf.is_empty()
        {
            self.open = false;
        }
        Ok(Reply {
            flushed,
            head,
            end,
            status,
            version,
            headers,
            body,
            traffic: self.traffic_since(read_before),
        })
    }

    /// The bytes of the current exchange: written, and read since `read_before`
    /// less what is left unconsumed in the buffer (not this response's).
    fn traffic_since(&self, read_before: u64) -> Traffic {
        let read = self.read_bytes.saturating_sub(read_before);
        Traffic {
            sent: self.written,
            received: read.saturating_sub(self.buf.len() as u64),
        }
    }

    async fn write_request(&mut self, wrote: &mut bool) -> io::Result<()> {
        let mut at = 0;
        while at < self.out.len() {
            let n = match &mut self.stream {
                Stream::Plain(s) => s.write(&self.out[at..]).await?,
                Stream::Tls(s) => s.write(&self.out[at..]).await?,
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            *wrote = true;
            at += n;
            self.written += n as u64;
        }
        if let Stream::Tls(s) = &mut self.stream {
            s.flush().await?;
        }
        Ok(())
    }

    /// Reads more bytes into the buffer; `Error::Closed` at the end of the stream.
    async fn fill(&mut self) -> Result<(), Error> {
        if self.buf.capacity() - self.buf.len() < READ_SPACE / 2 {
            self.buf.reserve(READ_SPACE);
        }
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read_buf(&mut self.buf).await?,
            Stream::Tls(s) => s.read_buf(&mut self.buf).await?,
        };
        self.reads += 1;
        self.read_bytes += n as u64;
        if n == 0 {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Reads the final response head, skipping interim (1xx) responses.
    async fn read_head(&mut self) -> Result<(StatusCode, Version, HeaderMap), Error> {
        loop {
            match self.parse_head()? {
                Head::Final(status, version, headers) => return Ok((status, version, headers)),
                Head::Interim => {}
                Head::Partial => {
                    if self.buf.len() >= MAX_HEAD {
                        return Err(malformed(format!("response head over {MAX_HEAD} bytes")));
                    }
                    self.fill().await?;
                }
            }
        }
    }

    /// Parses a response head at the start of the buffer and consumes it. Kept
    /// out of the `async` path so that its header slots live on the stack, not in
    /// every send future.
    fn parse_head(&mut self) -> Result<Head, Error> {
        self.spans.clear();
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            &self.buf,
            &mut slots,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(Head::Partial),
            Err(e) => return Err(malformed(e.to_string())),
        };
        // Offsets into the head, so that values can be slices of it, not copies.
        let base = self.buf.as_ptr() as usize;
        for h in response.headers.iter() {
            let name = h.name.as_ptr() as usize - base;
            let value = h.value.as_ptr() as usize - base;
            self.spans
                .push((name, name + h.name.len(), value, value + h.value.len()));
        }
        let version = if response.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let code = response.code.unwrap_or(0);
        let head = self.buf.split_to(len).freeze();
        let status =
            StatusCode::from_u16(code).map_err(|_| malformed(format!("status code {code}")))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(malformed("unexpected 101 Switching Protocols"));
        }
        if status.is_informational() {
            return Ok(Head::Interim);
        }
        let mut headers = HeaderMap::with_capacity(self.spans.len());
        for &(name_start, name_end, start, end) in &self.spans {
            let name = HeaderName::from_bytes(&head[name_start..name_end]).map_err(|_| {
                malformed(format!(
                    "header name `{}`",
                    String::from_utf8_lossy(&head[name_start..name_end])
                ))
            })?;
            let value = HeaderValue::from_maybe_shared(head.slice(start..end))
                .map_err(|_| malformed(format!("value of header `{name}`")))?;
            headers.append(name, value);
        }
        Ok(Head::Final(status, version, headers))
    }

    /// Reads the body; keeps it when `keep` gives its limit, failing with
    /// [`Error::TooLarge`] as soon as the body is known to be longer.
    async fn read_body(&mut self, framing: Framing, keep: Option<u64>) -> Result<Bytes, Error> {
        let mut kept = BytesMut::new();
        let over = |kept: &BytesMut, more: u64| match keep {
            Some(limit) if (kept.len() as u64).saturating_add(more) > limit => {
                Err(Error::TooLarge(limit))
            }
            _ => Ok(()),
        };
        match framing {
            Framing::Length(len) => {
                over(&kept, len)?;
                if keep.is_some() && self.buf.len() as u64 >= len {
                    // The common case: the whole body is already here.
                    return Ok(self.buf.split_to(len as usize).freeze());
                }
                self.take(len, keep.map(|_| &mut kept)).await?;
            }
            Framing::Close => loop {
                if keep.is_some() {
                    over(&kept, self.buf.len() as u64)?;
                    kept.extend_from_slice(&self.buf);
                }
                self.buf.clear();
                match self.fill().await {
                    Ok(()) => {}
                    Err(Error::Closed) => break,
                    Err(e) => return Err(e),
                }
            },
            Framing::Chunked => loop {
                let line = self.line(MAX_CHUNK_LINE, "chunk size line").await?;
                let size = chunk_size(&self.buf[..line])?;
                self.buf.advance(line + 2);
                if size == 0 {
                    self.skip_trailers().await?;
                    break;
                }
                over(&kept, size)?;
                self.take(size, keep.map(|_| &mut kept)).await?;
                while self.buf.len() < 2 {
                    self.fill().await?;
                }
                if &self.buf[..2] != b"\r\n" {
                    return Err(malformed("chunk not followed by CRLF"));
                }
                self.buf.advance(2);
            },
        }
        Ok(kept.freeze())
    }

    /// Consumes `len` body bytes, appending them to `keep` if given.
    async fn take(&mut self, mut len: u64, mut keep: Option<&mut BytesMut>) -> Result<(), Error> {
        loop {
            let n = usize::try_from(len)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            if let Some(kept) = keep.as_deref_mut() {
                kept.extend_from_slice(&self.buf[..n]);
            }
            self.buf.advance(n);
            len -= n as u64;
            if len == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// The length of the next line (without its CRLF), reading until it is complete.
    async fn line(&mut self, limit: usize, what: &str) -> Result<usize, Error> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(at);
            }
            if self.buf.len() > limit {
                return Err(malformed(format!("{what} over {limit} bytes")));
            }
            self.fill().await?;
        }
    }

    async fn skip_trailers(&mut self) -> Result<(), Error> {
        let mut seen = 0;
        loop {
            let line = self.line(MAX_HEAD, "trailer section").await?;
            self.buf.advance(line + 2);
            if line == 0 {
                return Ok(());
            }
            seen += line + 2;
            if seen > MAX_HEAD {
                return Err(malformed(format!("trailer section over {MAX_HEAD} bytes")));
            }
        }
    }
}

/// Encodes `req` as an HTTP/1.1 request into `out`: origin-form target, `Host`
/// unless the request has one, and a `Content-Length` computed from the body
/// (any `Content-Length` or `Transfer-Encoding` the request carries is replaced).
fn encode(out: &mut Vec<u8>, req: &Request<Bytes>, host: &HeaderValue) {
    out.clear();
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target(req.uri()).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let headers = req.headers();
    if !headers.contains_key(HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = req.body();
    if !body.is_empty() || expects_body(req.method()) {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// The request target in origin form (`/` when the URI has no path).
fn target(uri: &Uri) -> &str {
    match uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => pq.as_str(),
        _ => "/",
    }
}

/// Methods whose requests carry a body by definition, so an empty one is sent as
/// `Content-Length: 0` rather than left for the server to guess.
fn expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// How the body of a response with `status` to a `method` request is delimited
/// (RFC 9112 section 6.3).
fn framing(method: &Method, status: StatusCode, headers: &HeaderMap) -> Result<Framing, Error> {
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Length(0));
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        let last = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|c| !c.is_empty());
        return Ok(match last {
            Some(c) if c.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::Close,
        });
    }
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for part in value.as_bytes().split(|b| *b == b',') {
            let part = std::str::from_utf8(part).unwrap_or_default().trim();
            let n: u64 = part
                .parse()
                .map_err(|_| malformed(format!("content-length `{part}`")))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("conflicting content-length values"));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// Whether the connection stays open after this exchange.
fn keeps_alive(request: &HeaderMap, version: Version, response: &HeaderMap) -> bool {
    let has = |headers: &HeaderMap, token: &str| {
        headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if has(request, "close") || has(response, "close") {
        return false;
    }
    version == Version::HTTP_11 || has(response, "keep-alive")
}

/// The size in a chunk-size line (hex digits, then optional extensions).
fn chunk_size(line: &[u8]) -> Result<u64, Error> {
    let digits = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let text = std::str::from_utf8(digits).unwrap_or_default();
    if text.is_empty() || text.len() > 15 {
        return Err(malformed(format!(
            "chunk size `{}`",
            String::from_utf8_lossy(digits)
        )));
    }
    u64::from_str_radix(text, 16).map_err(|_| malformed(format!("chunk size `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str, body: &'static str) -> Request<Bytes> {
        let mut r = Request::new(Bytes::from_static(body.as_bytes()));
        *r.method_mut() = method;
        *r.uri_mut() = uri.parse().expect("uri");
        r
    }

    fn encoded(r: &Request<Bytes>) -> String {
        let mut out = Vec::new();
        encode(&mut out, r, &HeaderValue::from_static("example.test:8080"));
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn requests_are_encoded_in_origin_form_with_host_and_length() {
        assert_eq!(
            encoded(&req(Method::GET, "/a?b=1", "")),
            "GET /a?b=1 HTTP/1.1\r\nhost: example.test:8080\r\n\r\n"
        );
        assert_eq!(
            encoded(&req(Method::GET, "http://example.test:8080", "")),
            "GET / HTTP/1.1\r\nhost: example.test:8080\r\n\r\n"
        );
        assert_eq!(
            encoded(&req(Method::POST, "/p", "")),
            "POST /p HTTP/1.1\r\nhost: example.test:8080\r\ncontent-length: 0\r\n\r\n"
        );
        let mut r = req(Method::PUT, "/p", "data");
        r.headers_mut()
            .insert(HOST, HeaderValue::from_static("other"));
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("99"));
        r.headers_mut().insert("x-a", HeaderValue::from_static("1"));
        assert_eq!(
            encoded(&r),
            "PUT /p HTTP/1.1\r\nhost: other\r\nx-a: 1\r\ncontent-length: 4\r\n\r\ndata"
        );
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn bodies_are_framed_as_rfc_9112_says() {
        let ok = StatusCode::OK;
        let f = |m: Method, s: StatusCode, h: &[(&'static str, &'static str)]| {
            framing(&m, s, &headers(h)).ok()
        };
        assert_eq!(
            f(Method::GET, ok, &[("content-length", "5")]),
            Some(Framing::Length(5))
        );
        assert_eq!(
            f(Method::HEAD, ok, &[("content-length", "5")]),
            Some(Framing::Length(0))
        );
        assert_eq!(
            f(Method::GET, StatusCode::NO_CONTENT, &[]),
            Some(Framing::Length(0))
        );
        assert_eq!(
            f(Method::GET, StatusCode::NOT_MODIFIED, &[]),
            Some(Framing::Length(0))
        );
        assert_eq!(
            f(
                Method::GET,
                ok,
                &[
                    ("transfer-encoding", "gzip, chunked"),
                    ("content-length", "5")
                ]
            ),
            Some(Framing::Chunked)
        );
        assert_eq!(
            f(Method::GET, ok, &[("transfer-encoding", "gzip")]),
            Some(Framing::Close)
        );
        assert_eq!(f(Method::GET, ok, &[]), Some(Framing::Close));
        assert_eq!(
            f(Method::GET, ok, &[("content-length", "5, 5")]),
            Some(Framing::Length(5))
        );
        assert_eq!(
            f(
                Method::GET,
                ok,
                &[("content-length", "5"), ("content-length", "6")]
            ),
            None
        );
        assert_eq!(f(Method::GET, ok, &[("content-length", "-1")]), None);
    }

    #[test]
    fn keep_alive_follows_version_and_connection_tokens() {
        let none = HeaderMap::new();
        assert!(keeps_alive(&none, Version::HTTP_11, &none));
        assert!(!keeps_alive(&none, Version::HTTP_10, &none));
        assert!(keeps_alive(
            &none,
            Version::HTTP_10,
            &headers(&[("connection", "Keep-Alive")])
        ));
        assert!(!keeps_alive(
            &none,
            Version::HTTP_11,
            &headers(&[("connection", "foo, close")])
        ));
        assert!(!keeps_alive(
            &headers(&[("connection", "close")]),
            Version::HTTP_11,
            &none
        ));
    }

    #[test]
    fn chunk_sizes_are_hex_with_optional_extensions() {
        assert_eq!(chunk_size(b"1a").ok(), Some(26));
        assert_eq!(chunk_size(b"0").ok(), Some(0));
        assert_eq!(chunk_size(b"A;name=value").ok(), Some(10));
        assert!(chunk_size(b"").is_err());
        assert!(chunk_size(b"zz").is_err());
        assert!(chunk_size(b"ffffffffffffffffff").is_err());
    }

    /// Serves `response` (raw bytes, then closes when `close`) to one connection
    /// and returns an [`H1`] connected to it.
    async fn against(response: &'static [u8], close: bool) -> H1 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let mut seen = Vec::new();
            let mut chunk = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
            // Dribble the response out in small pieces to exercise partial reads.
            for piece in response.chunks(7) {
                if tcp.write_all(piece).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
            if !close {
                // Hold the connection open until the client is done.
                let _ = tcp.read(&mut chunk).await;
            }
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        H1::new(Stream::Plain(tcp))
    }

    async fn bounded<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(std::time::Duration::from_secs(20), f)
            .await
            .expect("test did not finish in time")
    }

    fn host() -> HeaderValue {
        HeaderValue::from_static("t")
    }

    /// Keep the whole body, however long.
    const ALL: Option<u64> = Some(u64::MAX);

    #[tokio::test]
    async fn chunked_bodies_with_trailers_after_an_interim_response() {
        bounded(async {
            let mut c = against(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-v: a b\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nt: 1\r\n\r\n",
                false,
            )
            .await;
            let reply = c
                .exchange(&req(Method::GET, "/", ""), &host(), ALL)
                .await
                .map_err(|b| b.error)
                .expect("reply");
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(&reply.body[..], b"abc0123456789abcdef");
            assert_eq!(reply.headers.get("x-v").map(|v| v.as_bytes()), Some(&b"a b"[..]));
            assert!(c.is_open());
        })
        .await;
    }

    #[tokio::test]
    async fn traffic_counts_every_byte_written_and_read_chunk_framing_included() {
        bounded(async {
            const RESPONSE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
            let mut c = against(RESPONSE, false).await;
            let request = req(Method::POST, "/submit", "hello");
            let reply = c
                .exchange(&request, &host(), None)
                .await
                .map_err(|b| b.error)
                .expect("reply");
            let mut out = Vec::new();
            encode(&mut out, &request, &host());
            assert_eq!(reply.traffic.sent, out.len() as u64);
            assert_eq!(reply.traffic.received, RESPONSE.len() as u64);
        })
        .await;
    }

    #[tokio::test]
    async fn a_close_delimited_body_ends_the_connection() {
        bounded(async {
            let mut c = against(b"HTTP/1.0 200 OK\r\n\r\nall of it", true).await;
            let reply = c
                .exchange(&req(Method::GET, "/", ""), &host(), ALL)
                .await
                .map_err(|b| b.error)
                .expect("reply");
            assert_eq!(reply.version, Version::HTTP_10);
            assert_eq!(&reply.body[..], b"all of it");
            assert!(!c.is_open());
        })
        .await;
    }

    #[tokio::test]
    async fn discarded_bodies_are_read_but_not_kept() {
        bounded(async {
            let mut c = against(
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789",
                false,
            )
            .await;
            let reply = c
                .exchange(&req(Method::GET, "/", ""), &host(), None)
                .await
                .map_err(|b| b.error)
                .expect("reply");
            assert!(reply.body.is_empty());
            assert!(c.is_open());
        })
        .await;
    }

    #[tokio::test]
    async fn truncated_and_malformed_responses_break_the_exchange() {
        bounded(async {
            let mut c = against(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234", true).await;
            let broke = c
                .exchange(&req(Method::GET, "/", ""), &host(), None)
                .await
                .err()
                .expect("truncated");
            assert!(matches!(broke.error, Error::Closed), "{}", broke.error);
            assert_eq!(broke.stage, Stage::Body);
            assert!(broke.wrote && broke.head.is_some());
            assert!(!c.is_open());

            let mut c = against(b"HTTP/1.1 200 OK\r\n", true).await;
            let broke = c
                .exchange(&req(Method::GET, "/", ""), &host(), None)
                .await
                .err()
                .expect("no head");
            assert!(matches!(broke.error, Error::Closed));
            assert_eq!(broke.stage, Stage::Head);

            let mut c = against(b"SMTP ready\r\n\r\n", true).await;
            let broke = c
                .exchange(&req(Method::GET, "/", ""), &host(), None)
                .await
                .err()
                .expect("not http");
            assert!(
                matches!(broke.error, Error::Malformed(_)),
                "{}",
                broke.error
            );

            let mut c = against(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nxyz\r\n",
                true,
            )
            .await;
            let broke = c
                .exchange(&req(Method::GET, "/", ""), &host(), None)
                .await
                .err()
                .expect("bad chunk");
            assert!(
                matches!(broke.error, Error::Malformed(_)),
                "{}",
                broke.error
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_kept_body_over_the_limit_breaks_the_exchange_and_the_connection() {
        bounded(async {
            for (response, close) in [
                // Declared too long: refused before reading it.
                (&b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n0123456789a"[..], false),
                // Chunked: refused at the chunk that would pass the limit.
                (
                    &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n"[..],
                    false,
                ),
                // Until the end of the connection.
                (&b"HTTP/1.0 200 OK\r\n\r\n0123456789a"[..], true),
            ] {
                let mut c = against(response, close).await;
                let broke = c
                    .exchange(&req(Method::GET, "/", ""), &host(), Some(10))
                    .await
                    .err()
                    .expect("over the limit");
                assert!(matches!(broke.error, Error::TooLarge(10)), "{}", broke.error);
                assert_eq!(broke.stage, Stage::Body);
                assert!(!c.is_open());
            }
            // At the limit, and when the body is not kept, the limit does not apply.
            for keep in [Some(10), None] {
                let mut c = against(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n",
                    false,
                )
                .await;
                let reply = c
                    .exchange(&req(Method::GET, "/", ""), &host(), keep)
                    .await
                    .map_err(|b| b.error)
                    .expect("within the limit");
                assert_eq!(reply.body.len(), if keep.is_some() { 10 } else { 0 });
                assert!(c.is_open());
            }
        })
        .await;
    }
}
