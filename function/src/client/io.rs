//! The connection's socket ([`Stream`]: plain TCP or TLS) and the IO wrapper that
//! hyper's HTTP/2 connection runs on ([`Io`]), which notes in the shared [`Stamps`]
//! whether request bytes were written and when they were flushed, so that the
//! `sending` phase can end at that flush, and how many bytes went each way (an
//! HTTP/2 request's [`Traffic`](super::Traffic)).
//!
//! This module owns those stamps and the byte plumbing. It does not connect, speak
//! HTTP or compute phase timings (its siblings do); HTTP/1.1 stamps its own writes
//! in [`super::h1`] and reads and writes the [`Stream`] directly.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// What the connection's IO saw of the current request, shared between the IO
/// (inside hyper's connection) and the [`Connection`](super::Connection).
pub(super) struct Stamps {
    base: Instant,
    /// Some request bytes were written since [`Stamps::arm`].
    wrote: AtomicBool,
    /// Nanoseconds after `base` of the last flush that followed a write; `UNSET` if none.
    flushed: AtomicU64,
    /// Bytes written through the IO since the last [`Stamps::take_traffic`]
    /// (plaintext under TLS).
    sent: AtomicU64,
    /// Bytes read through the IO since the last [`Stamps::take_traffic`].
    received: AtomicU64,
}

const UNSET: u64 = u64::MAX;

impl Stamps {
    pub(super) fn new(base: Instant) -> Self {
        Self {
            base,
            wrote: AtomicBool::new(false),
            flushed: AtomicU64::new(UNSET),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        }
    }

    /// Starts a new request.
    pub(super) fn arm(&self) {
        self.wrote.store(false, Ordering::Relaxed);
        self.flushed.store(UNSET, Ordering::Relaxed);
    }

    pub(super) fn wrote(&self) -> bool {
        self.wrote.load(Ordering::Acquire)
    }

    pub(super) fn flushed_at(&self) -> Option<Instant> {
        match self.flushed.load(Ordering::Acquire) {
            UNSET => None,
            nanos => Some(self.base + Duration::from_nanos(nanos)),
        }
    }

    /// The bytes written and read through the IO since the last call.
    pub(super) fn take_traffic(&self) -> super::Traffic {
        super::Traffic {
            sent: self.sent.swap(0, Ordering::AcqRel),
            received: self.received.swap(0, Ordering::AcqRel),
        }
    }

    fn note_write(&self) {
        self.wrote.store(true, Ordering::Release);
    }

    fn note_flush(&self) {
        let nanos = u64::try_from(
            Instant::now()
                .saturating_duration_since(self.base)
                .as_nanos(),
        )
        .unwrap_or(UNSET - 1);
        self.flushed.store(nanos, Ordering::Release);
    }
}

/// A connected socket, with or without TLS.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The connection's socket, stamping when written bytes were flushed.
pub(super) struct Io {
    stream: Stream,
    stamps: Arc<Stamps>,
    /// Bytes were written since the last flush.
    unflushed: bool,
}

impl Io {
    /// Wraps `stream`, stamping into `stamps`.
    pub(super) fn new(stream: Stream, stamps: Arc<Stamps>) -> Self {
        Self {
            stream,
            stamps,
            unflushed: false,
        }
    }

    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = result {
            self.stamps.sent.fetch_add(*n as u64, Ordering::AcqRel);
        }
        if let Poll::Ready(Ok(n)) = result
            && *n > 0
            && !self.unflushed
        {
            self.unflushed = true;
            self.stamps.note_write();
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        let read = buf.filled().len().saturating_sub(before) as u64;
        if read > 0 {
            this.stamps.received.fetch_add(read, Ordering::AcqRel);
        }
        result
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        };
        this.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        if this.unflushed && matches!(result, Poll::Ready(Ok(()))) {
            this.unflushed = false;
            this.stamps.note_flush();
        }
        result
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
