//! Verifying AWS Signature Version 4 on requests to a local stand-in, as AWS
//! does: the `Authorization` header must name the stand-in's access key and a
//! credential scope for its region and service, `X-Amz-Date` must be within 15
//! minutes of now, and the signature must equal the one computed (with the
//! SDK's own signer, `aws-sigv4`) over the method, path, query, the headers the
//! caller listed as signed, and the body.
//! It does not decide what a refused request gets answered (see the Invoke API)
//! and does not handle presigned URLs, chunked (streaming) signatures or
//! session tokens: the local stand-ins hand out none of those.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::request::Parts;
use subtle::ConstantTimeEq;

use crate::LocalCredentials;

/// How far `X-Amz-Date` may be from the stand-in's clock (AWS allows 15 minutes).
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// An `Authorization` or `X-Amz-Date` header that is not SigV4 as AWS sends it.
    #[error("{0}")]
    Malformed(String),
    /// An access key id the stand-in did not hand out.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// The credential scope names another region or service, or another day.
    #[error("Credential should be scoped to {0}")]
    Scope(String),
    /// `X-Amz-Date` too far from now.
    #[error("Signature expired: the request time is more than 15 minutes from the server's")]
    Skewed,
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    Mismatch,
}

impl AuthError {
    /// The `x-amzn-ErrorType` AWS answers with (all are HTTP 403).
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Malformed(_) => "IncompleteSignatureException",
            AuthError::UnknownKey => "UnrecognizedClientException",
            AuthError::Scope(_) | AuthError::Skewed | AuthError::Mismatch => {
                "InvalidSignatureException"
            }
        }
    }
}

/// Checks the requests of one stand-in (one region, one service).
#[derive(Debug, Clone)]
pub(crate) struct Verifier {
    creds: LocalCredentials,
    region: String,
    service: &'static str,
}

/// A request whose headers passed [`Verifier::check_headers`]; the body is still to check.
#[derive(Debug)]
pub(crate) struct HeadersChecked {
    signed_headers: Vec<String>,
    signature: String,
    time: SystemTime,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    access_key_id: &'a str,
    scope: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

impl Verifier {
    /// A verifier accepting only `creds`, scoped to `region` and `service`.
    pub(crate) fn new(creds: LocalCredentials, region: &str, service: &'static str) -> Verifier {
        Verifier {
            creds,
            region: region.to_owned(),
            service,
        }
    }

    /// Everything that can be checked before the body is read: the header's
    /// form, the access key id, the scope and the date.
    pub(crate) fn check_headers(
        &self,
        parts: &Parts,
        now: SystemTime,
    ) -> Result<HeadersChecked, AuthError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map_err(|_| malformed(format!("{name} is not ASCII")))
                })
                .transpose()
        };
        let auth = header("authorization")?.ok_or(AuthError::Missing)?;
        let auth = parse_authorization(auth)?;
        if !constant_time_eq(
            auth.access_key_id.as_bytes(),
            self.creds.access_key_id.as_bytes(),
        ) {
            return Err(AuthError::UnknownKey);
        }
        let amz_date =
            header("x-amz-date")?.ok_or_else(|| malformed("X-Amz-Date is missing".into()))?;
        let time = parse_amz_date(amz_date)
            .ok_or_else(|| malformed(format!("invalid X-Amz-Date {amz_date:?}")))?;
        let expected_scope = format!(
            "{}/{}/{}/aws4_request",
            &amz_date[..8],
            self.region,
            self.service
        );
        if auth.scope != expected_scope {
            return Err(AuthError::Scope(expected_scope));
        }
        let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
        if skew > MAX_SKEW {
            return Err(AuthError::Skewed);
        }
        let signed_headers: Vec<String> =
            auth.signed_headers.split(';').map(str::to_owned).collect();
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(malformed("SignedHeaders must include host".into()));
        }
        Ok(HeadersChecked {
            signed_headers,
            signature: auth.signature.to_owned(),
            time,
        })
    }

    /// Recomputes the signature over the request and `body` and compares it.
    pub(crate) fn verify_body(
        &self,
        checked: &HeadersChecked,
        parts: &Parts,
        body: &[u8],
    ) -> Result<(), AuthError> {
        let host_from_uri = parts.uri.authority().map(|a| a.as_str().to_owned());
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for name in &checked.signed_headers {
            // The signer adds X-Amz-Date from the signing time itself.
            if name == "x-amz-date" {
                continue;
            }
            let mut found = false;
            for value in parts.headers.get_all(name.as_str()) {
                let value = value.to_str().map_err(|_| AuthError::Mismatch)?;
                headers.push((name.as_str(), value));
                found = true;
            }
            if !found {
                match (name.as_str(), host_from_uri.as_deref()) {
                    ("host", Some(host)) => headers.push(("host", host)),
                    _ => return Err(AuthError::Mismatch),
                }
            }
        }
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let request = SignableRequest::new(
            parts.method.as_str(),
            path_and_query,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| malformed(format!("cannot canonicalise the request: {e}")))?;
        let identity = Credentials::new(
            &self.creds.access_key_id,
            &self.creds.secret_access_key,
            None,
            None,
            "sls-load-local",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(checked.time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| malformed(format!("signing parameters: {e}")))?
            .into();
        let (_, signature) = sign(request, &params)
            .map_err(|e| malformed(format!("cannot sign the request: {e}")))?
            .into_parts();
        if constant_time_eq(signature.as_bytes(), checked.signature.as_bytes()) {
            Ok(())
        } else {
            Err(AuthError::Mismatch)
        }
    }
}

fn malformed(message: String) -> AuthError {
    AuthError::Malformed(message)
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, AuthError> {
    let rest = header
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| malformed(format!("Authorization must use {ALGORITHM}")))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let field = field.trim();
        match field.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {
                return Err(malformed(format!(
                    "unexpected Authorization field {field:?}"
                )));
            }
        }
    }
    let missing = |what: &str| malformed(format!("Authorization lacks {what}"));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let (access_key_id, scope) = credential
        .split_once('/')
        .ok_or_else(|| malformed("Credential has no scope".into()))?;
    Ok(Authorization {
        access_key_id,
        scope,
        signed_headers: signed_headers.ok_or_else(|| missing("SignedHeaders"))?,
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'` (UTC), as RFC 3339 reads it.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let part = |range: std::ops::Range<usize>| s.get(range).unwrap_or_default();
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn amz_dates_parse() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        let t = parse_amz_date("20240229T123456Z").unwrap();
        let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_709_210_096);
        for bad in [
            "",
            "20240229T123456",
            "20240229X123456Z",
            "20241301T000000Z",
            "20230229T000000Z",
            "2024-2-2T00000Z",
            "2024022ëT00000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn authorization_parses_and_rejects_other_schemes() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20240101/eu-west-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .unwrap();
        assert_eq!(a.access_key_id, "AK");
        assert_eq!(a.scope, "20240101/eu-west-1/lambda/aws4_request");
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(a.signature, "abc");
        assert!(parse_authorization("Bearer x").is_err());
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=AK").is_err());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
