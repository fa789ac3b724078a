//! The results store as a report reads it: the [`Store`] trait (list, get, put
//! by key) that collect and the drill's events record are generic over, its
//! error, and [`get_stream`], many GETs in flight at once.
//!
//! It has no implementation: the orchestrator's is S3 (aws-sdk-s3, AWS or the
//! local stand-in); tests keep objects in memory. This module does not know what
//! the objects mean (collect does).

use std::future::Future;

use sls_load_core::job::ObjectKey;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("s3://{bucket}/{key}: {op} failed: {message}")]
pub struct StoreError {
    /// The bucket.
    pub bucket: String,
    /// The key or prefix.
    pub key: String,
    /// `list`, `get` or `put`.
    pub op: &'static str,
    /// The SDK's error with its source chain.
    pub message: String,
}

/// Keyed object storage holding every run's objects.
pub trait Store: Send + Sync {
    /// Every key below `prefix`, in key order (all pages).
    fn list(&self, prefix: &str)
    -> impl Future<Output = Result<Vec<ObjectKey>, StoreError>> + Send;
    /// The object at `key`, or `None` when there is none.
    fn get(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Writes `body` at `key`.
    fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `body` at `key` only if nothing is there yet (`If-None-Match: *`);
    /// `Ok(false)` when something was.
    fn put_new(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// A human-readable location for messages, e.g. `s3://bucket`.
    fn location(&self) -> String;
}

/// GETs in flight at once when reading many objects.
pub const GET_CONCURRENCY: usize = 32;

/// Reads `keys` with up to [`GET_CONCURRENCY`] GETs in flight, yielding each key
/// with its outcome in the order given, as soon as it is read: a caller that
/// consumes each object at once holds at most [`GET_CONCURRENCY`] in memory. A run
/// of a thousand workers has thousands of objects; one at a time, S3's
/// per-request latency would add up to minutes.
pub fn get_stream<'a, S: Store>(
    store: &'a S,
    keys: Vec<ObjectKey>,
) -> impl futures_util::Stream<Item = (ObjectKey, Result<Option<Vec<u8>>, StoreError>)> + 'a {
    use futures_util::stream::{self, StreamExt};
    stream::iter(keys)
        .map(move |key| async move {
            let got = store.get(&key).await;
            (key, got)
        })
        .buffered(GET_CONCURRENCY)
}
