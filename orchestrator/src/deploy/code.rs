//! The worker's code where Lambda reads it: a private code bucket per region
//! (`sls-load-code-ACCOUNT-REGION`; Lambda reads code only from its own region),
//! the zip at a key named after its content, uploaded only when absent. The
//! same zip therefore gives the same key, and a redeploy of an unchanged build
//! changes no stack.
//!
//! It uploads and removes code; the stacks are [`super::stacks`]'.

use std::path::Path;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use md5::Digest as _;
use sls_load_core::job::Region;

/// A code bucket or upload that failed, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("code bucket {bucket}: {message}")]
pub struct CodeError {
    /// The bucket.
    pub bucket: String,
    /// What failed.
    pub message: String,
}

/// The code bucket of `account` in `region`.
pub fn bucket_name(account: &str, region: &Region) -> String {
    format!("sls-load-code-{account}-{region}")
}

/// The key of a zip of `arch` with content `zip`: its MD5 in hex (a name, not a
/// checksum anyone relies on for integrity; S3 checks uploads itself).
pub fn key(arch: &str, zip: &[u8]) -> String {
    let digest = md5::Md5::digest(zip);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sls-load-worker/{arch}-{hex}.zip")
}

/// Whether [`upload`] found the zip there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// Uploaded now.
    Uploaded,
    /// The same content was there already.
    Present,
}

/// Makes sure `bucket` exists in `region` (created private when absent) and
/// holds `zip` at `key`.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &Region,
    key: &str,
    zip: &[u8],
) -> Result<Upload, CodeError> {
    let fail = |message: String| CodeError {
        bucket: bucket.to_owned(),
        message,
    };
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        let mut create = s3.create_bucket().bucket(bucket);
        if region.as_str() != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => {
                return Err(fail(format!(
                    "create failed: {}",
                    crate::aws_error::code_and_message(&e)
                )));
            }
        }
    }
    if s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
    {
        return Ok(Upload::Present);
    }
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(zip.to_vec()))
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "upload of {key} failed: {}",
                crate::aws_error::code_and_message(&e)
            ))
        })?;
    Ok(Upload::Uploaded)
}

/// Empties and deletes `bucket`; `false` when there was none.
pub async fn remove(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, CodeError> {
    let fail = |message: String| CodeError {
        bucket: bucket.to_owned(),
        message,
    };
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        return Ok(false);
    }
    empty(s3, bucket, "").await.map_err(&fail)?;
    s3.delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "delete failed: {}",
                crate::aws_error::code_and_message(&e)
            ))
        })?;
    Ok(true)
}

/// Deletes every object of `bucket` below `prefix`; how many there were.
pub async fn empty(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<u64, String> {
    let keys = keys(s3, bucket, prefix).await?;
    for key in &keys {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "deleting {key} failed: {}",
                    crate::aws_error::code_and_message(&e)
                )
            })?;
    }
    Ok(keys.len() as u64)
}

/// Objects below `prefix` in `bucket` (`None` when it cannot be listed).
pub async fn count(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Option<u64> {
    keys(s3, bucket, prefix).await.ok().map(|k| k.len() as u64)
}

/// Every key below `prefix` in `bucket` (all pages).
async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| format!("listing failed: {}", crate::aws_error::code_and_message(&e)))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// The zip file's bytes, or the line saying to build it.
pub fn read_zip(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e}: build the worker with `make package`, or name a zip with --zip",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_content_and_the_bucket_the_account_and_region() {
        assert_eq!(
            key("arm64", b""),
            "sls-load-worker/arm64-d41d8cd98f00b204e9800998ecf8427e.zip"
        );
        assert_ne!(key("arm64", b"a"), key("arm64", b"b"));
        let region: Region = "eu-west-1".parse().unwrap();
        assert_eq!(
            bucket_name("123456789012", &region),
            "sls-load-code-123456789012-eu-west-1"
        );
    }
}
