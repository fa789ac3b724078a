//! [`LocalDirSink`]: a [`Sink`] that writes the worker's objects below a local
//! directory (key = relative path) and counts what it wrote. Claims are
//! `create_new` files, so a second delivery of a job is refused as on S3. It does
//! not read the objects back (see `merge`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sls_load_core::job::ObjectKey;
use sls_load_function::sink::{Claim, Sink, SinkError};

/// A [`Sink`] that writes objects below a local directory and counts them.
#[derive(Debug)]
pub struct LocalDirSink {
    root: PathBuf,
    objects: AtomicU64,
    bytes: AtomicU64,
}

impl LocalDirSink {
    /// A sink writing below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Objects written so far.
    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Relaxed)
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn error(&self, key: &ObjectKey, e: std::io::Error) -> SinkError {
        SinkError {
            bucket: self.root.display().to_string(),
            key: key.clone(),
            attempts: 1,
            message: e.to_string(),
        }
    }
}

impl Sink for LocalDirSink {
    async fn claim(&self, key: &ObjectKey, body: Vec<u8>) -> Result<Claim, SinkError> {
        let path = self.root.join(key.as_str());
        let result = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &body).await
        }
        .await;
        match result {
            Ok(()) => Ok(Claim::Won),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Claim::Taken),
            Err(e) => Err(self.error(key, e)),
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        _content_type: &'static str,
    ) -> Result<(), SinkError> {
        let path = self.root.join(key.as_str());
        let len = body.len() as u64;
        let result = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&path, body).await
        }
        .await;
        result.map_err(|e| self.error(key, e))?;
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }
}
