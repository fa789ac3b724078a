//! Background delivery of the network outputs (`influxdb`, Prometheus remote
//! write, OTLP): each output queues encoded batches on a bounded channel and one
//! task POSTs them in order, retrying a failed send a few times, so a slow or
//! dead back-end never stalls the run. A full queue or a batch that failed every
//! attempt is counted as points not delivered, never dropped silently. After
//! the load ends, the queue gets [`CLOSE_TIMEOUT`] to drain; what is still
//! queued or in flight then is abandoned and counted as such.
//!
//! It does not encode anything (each format's file does) and knows nothing of
//! the run.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Delivery;

/// Batches queued per output before new ones are counted as lost.
pub const QUEUE: usize = 256;
/// Attempts per batch.
pub const ATTEMPTS: u32 = 3;
/// Time allowed for one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed, at the end, for the queue to drain (all outputs at once).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A waiting delivery report (see [`super::Output::close`]).
pub type Closing = Pin<Box<dyn Future<Output = Delivery> + Send>>;

/// One request body and the points it carries.
#[derive(Debug)]
pub struct Batch {
    /// The encoded body.
    pub body: Vec<u8>,
    /// Points in it.
    pub points: u64,
}

/// A queue to one endpoint and the task that empties it.
pub struct Sender {
    queue: Option<mpsc::Sender<Batch>>,
    task: JoinHandle<()>,
    /// What the task delivered (or failed to) so far.
    progress: Arc<Mutex<Delivery>>,
    /// Points queued.
    queued: u64,
    /// Points refused because the queue was full.
    overflow: u64,
}

/// A pooled HTTP/1.1 client for `http://` and `https://` (webpki roots).
pub(crate) type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

pub(crate) fn client() -> HttpsClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

impl Sender {
    /// Starts the task POSTing to `uri` with `headers` (call inside the runtime).
    pub fn start(uri: http::Uri, headers: Vec<(&'static str, &'static str)>) -> Sender {
        let (queue, mut rx) = mpsc::channel::<Batch>(QUEUE);
        let progress = Arc::new(Mutex::new(Delivery::default()));
        let shared = Arc::clone(&progress);
        let task = tokio::spawn(async move {
            let client = client();
            while let Some(batch) = rx.recv().await {
                let result = post_with_retries(&client, &uri, &headers, batch.body).await;
                let mut delivery = shared.lock().unwrap_or_else(PoisonError::into_inner);
                delivery.count(batch.points, result);
            }
        });
        Sender {
            queue: Some(queue),
            task,
            progress,
            queued: 0,
            overflow: 0,
        }
    }

    /// Queues `batch`; a full queue counts its points as not delivered.
    pub fn push(&mut self, batch: Batch) {
        if batch.points == 0 {
            return;
        }
        let points = batch.points;
        let queued = self.queue.as_ref().map(|q| q.try_send(batch));
        match queued {
            Some(Ok(())) => self.queued += points,
            _ => self.overflow += points,
        }
    }

    /// Closes the queue and waits (at most [`CLOSE_TIMEOUT`]) for the task.
    pub fn close(mut self) -> Closing {
        self.queue = None;
        Box::pin(async move {
            let overflow = self.overflow;
            let task = self.task;
            let abort = task.abort_handle();
            let ended = tokio::time::timeout(CLOSE_TIMEOUT, task).await;
            // Stopped either way: nothing is sent after it is counted.
            abort.abort();
            let mut delivery = self
                .progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let settled = delivery.sent + delivery.lost;
            delivery.abandoned = self.queued.saturating_sub(settled);
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(e)) => delivery.error = Some(format!("the sender stopped: {e}")),
                Err(_) => {
                    delivery.error = Some(format!(
                        "still sending {}s after the load ended; the rest was abandoned",
                        CLOSE_TIMEOUT.as_secs()
                    ))
                }
            }
            if overflow > 0 {
                delivery.lost += overflow;
                delivery.error.get_or_insert_with(|| {
                    format!("the back-end was too slow: {} batches queued", QUEUE)
                });
            }
            delivery
        })
    }
}

/// POSTs `body`, up to [`ATTEMPTS`] times with a growing pause; the last error
/// (status and the start of the answer, or the connection error) otherwise.
async fn post_with_retries(
    client: &HttpsClient,
    uri: &http::Uri,
    headers: &[(&'static str, &'static str)],
    body: Vec<u8>,
) -> Result<(), String> {
    let body = Bytes::from(body);
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250) * 2u32.pow(attempt - 1)).await;
        }
        let mut request = http::Request::post(uri.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match request.body(Full::new(body.clone())) {
            Ok(r) => r,
            Err(e) => return Err(e.to_string()),
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
            Err(_) => last = format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()),
            Ok(Err(e)) => last = connection_error(&e),
            Ok(Ok(response)) => {
                let status = response.status();
                let answer = response.into_body().collect().await.map(|b| b.to_bytes());
                if status.is_success() {
                    return Ok(());
                }
                let text = answer
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .chars()
                            .take(200)
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                last = format!("HTTP {status}: {}", text.trim());
                // A 4xx other than 429 is a rejection: sending it again will not help.
                if status.is_client_error() && status.as_u16() != 429 {
                    break;
                }
            }
        }
    }
    Err(last)
}

/// A client error with its cause (hyper's top-level message alone says little).
fn connection_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_endpoint_costs_the_batch_after_its_attempts_never_silently() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let uri: http::Uri = format!("http://127.0.0.1:{port}/write").parse().unwrap();
        let mut sender = Sender::start(uri, vec![("content-type", "text/plain")]);
        sender.push(Batch {
            body: b"x value=1".to_vec(),
            points: 5,
        });
        let delivery = sender.close().await;
        assert_eq!((delivery.sent, delivery.lost), (0, 5));
        assert!(delivery.error.unwrap().contains("refused"));
    }

    #[tokio::test]
    async fn a_back_end_that_never_answers_gets_the_close_timeout_and_its_points_are_abandoned() {
        // Accepts connections and reads, never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let uri: http::Uri = format!("http://127.0.0.1:{port}/write").parse().unwrap();
        let mut sender = Sender::start(uri, vec![("content-type", "text/plain")]);
        for points in [5, 7] {
            sender.push(Batch {
                body: b"x value=1".to_vec(),
                points,
            });
        }
        let delivery = sender.close().await;
        hold.abort();
        assert_eq!(
            (delivery.sent, delivery.lost, delivery.abandoned),
            (0, 0, 12)
        );
        let error = delivery.error.unwrap();
        assert!(
            error.contains("still sending 10s after the load ended"),
            "{error}"
        );
    }
}
