//! What the S3 stand-in and every Lambda service share: a loopback listener
//! ([`bind_loopback`]), the HTTP/1.1 + h2c accept loop with cooperative shutdown
//! ([`HttpServer`]), and a check on names that become directories
//! ([`child_dir`]). It knows nothing of S3 or Lambda.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::{Builder as ConnBuilder, HttpServerConnExec};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use crate::error::LocalError;

/// Binds `127.0.0.1:0`, returning the listener and its `http://127.0.0.1:PORT` URL.
pub(crate) async fn bind_loopback() -> Result<(TcpListener, String), LocalError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| LocalError::io("binding 127.0.0.1:0", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LocalError::io("reading local address", e))?;
    Ok((listener, format!("http://{addr}")))
}

/// A background HTTP server (HTTP/1.1 and h2c) with cooperative shutdown.
///
/// Dropping it without [`HttpServer::shutdown`] aborts the accept loop and every
/// connection.
pub(crate) struct HttpServer {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer").finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Serves `service` on `listener` until shut down. On shutdown, open
    /// connections get `grace` to finish their in-flight requests before they
    /// are aborted.
    pub(crate) fn spawn<S, B>(
        name: &'static str,
        listener: TcpListener,
        service: S,
        grace: Duration,
    ) -> HttpServer
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        TokioExecutor: HttpServerConnExec<S::Future, B>,
    {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(name, listener, service, stop_rx, grace));
        HttpServer {
            stop,
            task: Some(task),
        }
    }

    /// Stops accepting, lets connections drain for the grace period, then aborts the rest.
    pub(crate) async fn shutdown(mut self) {
        // Receivers only disappear once the accept loop is done, so a failed send is harmless.
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(err) = task.await
        {
            warn!(%err, "HTTP server task failed");
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop<S, B>(
    name: &'static str,
    listener: TcpListener,
    service: S,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    TokioExecutor: HttpServerConnExec<S::Future, B>,
{
    let builder = ConnBuilder::new(TokioExecutor::new());
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    debug!(server = name, %peer, "connection accepted");
                    let conn = builder
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    let mut stop = stop.clone();
                    conns.spawn(async move {
                        tokio::pin!(conn);
                        let result = tokio::select! {
                            res = conn.as_mut() => res,
                            () = stopped(&mut stop) => {
                                conn.as_mut().graceful_shutdown();
                                conn.await
                            }
                        };
                        if let Err(err) = result {
                            debug!(server = name, %peer, %err, "connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // Typically EMFILE; back off instead of spinning.
                    warn!(server = name, %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = stopped(&mut stop) => break,
        }
    }
    drop(listener);
    if !grace.is_zero() {
        let drained =
            tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            debug!(
                server = name,
                open = conns.len(),
                "grace period over, aborting connections"
            );
        }
    }
    conns.shutdown().await;
    debug!(server = name, "server stopped");
}

/// Resolves once `stop` is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The returned guard is not `Send`; drop it at once.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// `dir` joined with `name`, rejecting names that would escape `dir`.
pub(crate) fn child_dir(dir: &Path, name: &str, what: &str) -> Result<PathBuf, LocalError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(LocalError::Config(format!("invalid {what} name {name:?}")));
    }
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_dir_rejects_escapes() {
        let root = Path::new("/tmp/x");
        assert!(child_dir(root, "bucket", "bucket").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(child_dir(root, bad, "bucket").is_err(), "{bad:?}");
        }
    }
}
