//! The one S3 GET both sides make (the worker reading its control object, the
//! orchestrator's store reading a run back): the object's bytes, or `None` when
//! there is no such key, with the SDK's error kept for each side to word.
//!
//! A 403 comes apart as [`GetError::Denied`] so that each side words it: the
//! worker stops on it and names the `s3:GetObject` its role lacks (the control
//! object is written before anyone is invoked, so a denial is never "no object"),
//! the orchestrator says what permission to check.
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
    let body = out.body.collect().await.map_err(GetError::Body)?;
    Ok(Some(body.into_bytes().to_vec()))
}
