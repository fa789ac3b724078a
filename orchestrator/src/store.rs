//! The results store in S3: [`S3Store`], the report crate's [`Store`] (list,
//! get, put by key) over one bucket through aws-sdk-s3, with every SDK error
//! worded by [`crate::aws_error`].
//!
//! The same code serves AWS and local mode; only the client's endpoint differs.
//! This module does not know what the objects mean (the report's collect does)
//! and does not create buckets in AWS (infra does).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use sls_load_core::job::ObjectKey;
use sls_load_report::store::{Store, StoreError};

/// What a 403 on a GET means. Without `s3:ListBucket`, S3 answers 403 rather than
/// 404 for a key that does not exist, so a mistyped run id looks like a
/// permission problem.
const ACCESS_DENIED: &str = "access denied (403). S3 also answers 403 for a missing key when the caller may not list the bucket: check the run id, the bucket, and that your credentials have s3:ListBucket and s3:GetObject on it";

/// A [`Store`] over one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// A store over `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// A failed SDK call on `key`, worded by [`crate::aws_error`] with the
    /// permission `op` needs (`list`, `get` or `put`).
    fn error<E>(&self, key: &str, op: &'static str, e: &SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let bucket = &self.bucket;
        let top = key.split('/').next().unwrap_or_default();
        let permission = match op {
            "list" => format!("s3:ListBucket on arn:aws:s3:::{bucket}"),
            "get" => format!("s3:GetObject on arn:aws:s3:::{bucket}/{top}/*"),
            _ => format!("s3:PutObject on arn:aws:s3:::{bucket}/{top}/*"),
        };
        let missing = format!(
            "bucket `{bucket}` does not exist: create it (see infra/README.md) or name yours with --bucket"
        );
        let needs = crate::aws_error::Needs {
            permission: &permission,
            missing: (&["NoSuchBucket"], &missing),
        };
        self.failed(key, op, crate::aws_error::describe(e, &needs))
    }

    fn failed(&self, key: &str, op: &'static str, message: String) -> StoreError {
        StoreError {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            op,
            message,
        }
    }
}

impl Store for S3Store {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(prefix, "list", &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    // A key that is no valid name was not written by sls-load.
                    .filter_map(|k| ObjectKey::new(k).ok()),
            );
        }
        keys.sort();
        Ok(keys)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        use sls_load_core::s3::{GetError, get_object};
        match get_object(&self.client, &self.bucket, key.as_str()).await {
            Ok(body) => Ok(body),
            Err(GetError::Denied(_)) => Err(self.failed(key.as_str(), "get", ACCESS_DENIED.into())),
            Err(GetError::Failed(e)) => Err(self.error(key.as_str(), "get", &e)),
            Err(GetError::Body(e)) => {
                Err(self.failed(key.as_str(), "get", crate::aws_error::one_line(&e)))
            }
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.error(key.as_str(), "put", &e))?;
        Ok(())
    }

    async fn put_new(
        &self,
        key: &ObjectKey,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .if_none_match("*")
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            // 412 Precondition Failed: the key exists.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(false),
            Err(e) => Err(self.error(key.as_str(), "put", &e)),
        }
    }

    fn location(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}
