//! The one S3 GET both sides make (the worker reading its control object, the
//! orchestrator's store reading a run back): the object's bytes, or `None` when
//! there is no such key, with the SDK's error kept for each side to word.
//!
//! A 403 comes apart as [`GetError::Denied`] so that each side words it: the
//! worker stops on it and names the `s3:GetObject` its role lacks (the control
//! object is written before anyone is invoked, so a denial is never "no object"),
//! the orchestrator says what permission to check.
//! Every GET is bounded: an object larger than its kind may be
//! ([`crate::limits`]) is refused from its announced size before its body is
//! read, or at the limit when no size was announced.
//! Only with the `aws` feature.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStreamError;

/// Why a GET gave no object.
#[derive(Debug)]
pub enum GetError {
    /// 403: access denied (S3 also answers 403 for a missing key to a caller
    /// that may not list the bucket).
    Denied(SdkError<GetObjectError, HttpResponse>),
    /// Any other failed request.
    Failed(SdkError<GetObjectError, HttpResponse>),
    /// The body broke off while it was read.
    Body(ByteStreamError),
    /// The object is larger than its kind may be ([`crate::limits::for_key`]);
    /// its body was not read (or not past the limit).
    TooLarge {
        /// Its size: announced, or at least this many bytes.
        size: u64,
        /// The limit for its kind.
        limit: u64,
    },
}

impl GetError {
    /// For [`GetError::TooLarge`]: one line naming the sizes (`None` for the
    /// SDK's errors, which each side words itself).
    pub fn too_large(&self, key: &str) -> Option<String> {
        match self {
            GetError::TooLarge { size, limit } => Some(format!(
                "{size} bytes, more than the {limit} {} may have; not read",
                crate::limits::kind_of(key)
            )),
            _ => None,
        }
    }
}

/// The object at `key` in `bucket`, or `None` when there is no such key.
pub async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, GetError> {
    let out = client.get_object().bucket(bucket).key(key).send().await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            return Err(GetError::Denied(e));
        }
        Err(e) => return Err(GetError::Failed(e)),
    };
    let limit = crate::limits::for_key(key);
    let announced = out.content_length.and_then(|n| u64::try_from(n).ok());
    if let Some(size) = announced.filter(|n| *n > limit) {
        return Err(GetError::TooLarge { size, limit });
    }
    let mut body = out.body;
    let mut bytes = Vec::with_capacity(announced.map_or(0, |n| n as usize));
    while let Some(chunk) = body.try_next().await.map_err(GetError::Body)? {
        let size = (bytes.len() + chunk.len()) as u64;
        if size > limit {
            return Err(GetError::TooLarge { size, limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}
