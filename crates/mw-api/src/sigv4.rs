//! AWS Signature Version 4 verification against a table of configured keys.
//!
//! The canonical request is rebuilt from what arrived (method, path, query,
//! the signed headers exactly as received, and the hash of the body as sent,
//! before any gzip decoding) and the signature recomputed with the secret of the
//! access key named in the credential scope.

use crate::error::{ApiError, Code};
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

type HmacSha256 = Hmac<Sha256>;

/// Largest clock skew accepted between `X-Amz-Date` and the server clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Access key id → secret access key.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    keys: HashMap<String, String>,
}

impl Credentials {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Credentials {
            keys: pairs.into_iter().collect(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("hmac accepts any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn uri_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&k, &mut ek);
            uri_encode(&v, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn auth_error(code: Code, msg: &str) -> ApiError {
    ApiError::new(code, msg)
}

/// Parses `yyyymmddTHHMMSSZ` into epoch seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    mw_model::time::parse_iso8601(&iso).map(|ms| ms / 1000)
}

/// Verifies one request; `now` is epoch seconds.
pub fn verify(
    creds: &Credentials,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<String, ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            auth_error(
                Code::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            )
        })?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        auth_error(
            Code::IncompleteSignature,
            "Authorization header must use AWS4-HMAC-SHA256",
        )
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(auth_error(
            Code::IncompleteSignature,
            "Authorization header requires Credential, SignedHeaders and Signature",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err(auth_error(
            Code::IncompleteSignature,
            "malformed credential scope",
        ));
    }
    let (akid, date, region, service) = (scope[0], scope[1], scope[2], scope[3]);
    let secret = creds.keys.get(akid).ok_or_else(|| {
        auth_error(
            Code::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        )
    })?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| auth_error(Code::IncompleteSignature, "X-Amz-Date header is required"))?;
    let when = parse_amz_date(amz_date)
        .ok_or_else(|| auth_error(Code::IncompleteSignature, "X-Amz-Date is malformed"))?;
    if !amz_date.starts_with(date) {
        return Err(auth_error(
            Code::SignatureDoesNotMatch,
            "Credential scope date does not match X-Amz-Date",
        ));
    }
    if (when - now).abs() > MAX_SKEW_SECS {
        return Err(auth_error(
            Code::SignatureDoesNotMatch,
            "Signature expired: the request time is more than 15 minutes from the server time",
        ));
    }
    let signed_names: Vec<&str> = signed.split(';').collect();
    if !signed_names.contains(&"host") {
        return Err(auth_error(
            Code::SignatureDoesNotMatch,
            "the host header must be signed",
        ));
    }
    let mut canonical = format!("{method}\n{path}\n{}\n", canonical_query(query));
    for name in &signed_names {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&values.join(","));
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(signed);
    canonical.push('\n');
    let payload_hash = match headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
        Some(h) => {
            let actual = hex::encode(Sha256::digest(body));
            if !h.eq_ignore_ascii_case(&actual) {
                return Err(auth_error(
                    Code::SignatureDoesNotMatch,
                    "The provided x-amz-content-sha256 header does not match the payload",
                ));
            }
            actual
        }
        None => hex::encode(Sha256::digest(body)),
    };
    canonical.push_str(&payload_hash);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(auth_error(
            Code::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(akid.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The verification vector of wire_examples.txt section E (botocore 1.44.8).
    fn vector() -> (HeaderMap, &'static [u8]) {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("host", "127.0.0.1:35549"),
            ("x-amz-target", "GraniteServiceVersion20100801.PutMetricData"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-query-mode", "true"),
            ("x-amz-date", "20261128T212949Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/monitoring/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode, Signature=856fa61bbac35703520b87403d07d8f3dbc46aec366f3ad388bae35105742952"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        (
            h,
            br#"{"Namespace": "MyApp/Test", "MetricData": [{"MetricName": "Latency", "Value": 1.0}]}"#,
        )
    }

    fn creds() -> Credentials {
        Credentials::new([(
            "AKIDEXAMPLE".to_string(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string(),
        )])
    }

    const NOW: i64 = 1_795_901_389; // 2026-11-28T21:29:49Z

    /// The sidecar's signer (mw-client) against this verifier, with an
    /// unsigned payload, a query string and an ARN in the path.
    #[test]
    fn accepts_what_the_client_signs() {
        let signer = mw_client::sigv4::Signer::parse("AKIDEXAMPLE:secret").unwrap();
        let creds = Credentials::new([("AKIDEXAMPLE".to_string(), "secret".to_string())]);
        let path = "/api/v1/subscriptions/arn:aws:sns:us-east-1:1:t:abc";
        let query = "endpoint=churn&start=2024-05-01T10%3A00%3A00Z&limit=10";
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9600".parse().unwrap());
        for (k, v) in signer
            .headers("DELETE", "127.0.0.1:9600", path, query, NOW)
            .unwrap()
        {
            h.insert(k, v.parse().unwrap());
        }
        assert_eq!(
            verify(&creds, "DELETE", path, query, &h, b"any body", NOW).unwrap(),
            "AKIDEXAMPLE"
        );
        // Another method, path or query does not verify.
        for (m, p, q) in [
            ("POST", path, query),
            ("DELETE", "/api/v1/topics", query),
            ("DELETE", path, "endpoint=other"),
        ] {
            assert_eq!(
                verify(&creds, m, p, q, &h, b"", NOW).unwrap_err().code,
                Code::SignatureDoesNotMatch,
                "{m} {p} {q}"
            );
        }
    }

    #[test]
    fn accepts_the_captured_botocore_signature() {
        let (h, body) = vector();
        assert_eq!(
            verify(&creds(), "POST", "/", "", &h, body, NOW).unwrap(),
            "AKIDEXAMPLE"
        );
    }

    #[test]
    fn rejects_tampering_unknown_keys_and_stale_requests() {
        let (h, body) = vector();
        let e = verify(&creds(), "POST", "/", "", &h, b"{}", NOW).unwrap_err();
        assert_eq!(e.code, Code::SignatureDoesNotMatch);
        let other = Credentials::new([("AKIDEXAMPLE".to_string(), "wrong".to_string())]);
        assert_eq!(
            verify(&other, "POST", "/", "", &h, body, NOW)
                .unwrap_err()
                .code,
            Code::SignatureDoesNotMatch
        );
        let nobody = Credentials::new([("OTHER".to_string(), "x".to_string())]);
        assert_eq!(
            verify(&nobody, "POST", "/", "", &h, body, NOW)
                .unwrap_err()
                .code,
            Code::InvalidClientTokenId
        );
        assert_eq!(
            verify(&creds(), "POST", "/", "", &h, body, NOW + 3600)
                .unwrap_err()
                .code,
            Code::SignatureDoesNotMatch
        );
        let mut unsigned = h.clone();
        unsigned.remove("authorization");
        assert_eq!(
            verify(&creds(), "POST", "/", "", &unsigned, body, NOW)
                .unwrap_err()
                .code,
            Code::MissingAuthenticationToken
        );
        let mut garbled = h;
        garbled.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 nonsense"),
        );
        assert_eq!(
            verify(&creds(), "POST", "/", "", &garbled, body, NOW)
                .unwrap_err()
                .code,
            Code::IncompleteSignature
        );
    }
}
