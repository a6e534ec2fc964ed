//! AWS Signature Version 4 for requests to a server that has access keys
//! configured. The payload is declared `UNSIGNED-PAYLOAD`, so large capture
//! batches are not hashed; the method, path, query, host and date are signed.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Signs requests with one access key.
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    secret: String,
    region: String,
    service: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn uri_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hexpair = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hexpair.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical query string: decoded, re-encoded, sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), &mut ek);
            uri_encode(&percent_decode(v), &mut ev);
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

/// `yyyymmddTHHMMSSZ` of epoch seconds.
pub fn amz_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Signer {
    /// `ACCESS_KEY_ID:SECRET`.
    pub fn parse(s: &str) -> Result<Signer> {
        match s.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok(Signer::new(id, secret, "us-east-1", "monitoring"))
            }
            _ => Err(Error::InvalidParameter(
                "an access key must look like ACCESS_KEY_ID:SECRET".to_owned(),
            )),
        }
    }

    pub fn new(key_id: &str, secret: &str, region: &str, service: &str) -> Signer {
        Signer {
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    /// The `Authorization` header for a request whose signed headers are
    /// `headers` (lower-case names, any order; `host` and `x-amz-date`
    /// among them) and whose payload hash is `payload_hash`.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
    ) -> Result<String> {
        let mut signed: Vec<(&str, &str)> = headers.to_vec();
        signed.sort();
        let date = signed
            .iter()
            .find(|(k, _)| *k == "x-amz-date")
            .map(|(_, v)| *v)
            .filter(|d| d.len() == 16)
            .ok_or_else(|| Error::InvalidParameter("x-amz-date must be signed".to_owned()))?;
        let day = &date[..8];
        let names: Vec<&str> = signed.iter().map(|(k, _)| *k).collect();
        let names = names.join(";");
        let mut canonical = format!("{method}\n{path}\n{}\n", canonical_query(query));
        for (k, v) in &signed {
            canonical.push_str(k);
            canonical.push(':');
            canonical.push_str(&v.split_whitespace().collect::<Vec<_>>().join(" "));
            canonical.push('\n');
        }
        canonical.push('\n');
        canonical.push_str(&names);
        canonical.push('\n');
        canonical.push_str(payload_hash);
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let k_date = hmac(format!("AWS4{}", self.secret).as_bytes(), day.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
        Ok(format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={names}, Signature={signature}",
            self.key_id
        ))
    }

    /// The headers to add to a request to `host` (as in the Host header)
    /// at `now_secs`: `x-amz-date`, `x-amz-content-sha256: UNSIGNED-PAYLOAD`
    /// and `authorization`.
    pub fn headers(
        &self,
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        now_secs: i64,
    ) -> Result<Vec<(&'static str, String)>> {
        let date = amz_date(now_secs);
        let auth = self.authorization(
            method,
            path,
            query,
            &[
                ("host", host),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-date", &date),
            ],
            "UNSIGNED-PAYLOAD",
        )?;
        Ok(vec![
            ("x-amz-date", date),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".to_owned()),
            ("authorization", auth),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 test suite, `get-vanilla` and
    /// `get-vanilla-query-order-key-case`.
    #[test]
    fn matches_the_aws_test_suite() {
        let s = Signer::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "service",
        );
        let empty = hex(&Sha256::digest(b""));
        let h = [
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        assert_eq!(
            s.authorization("GET", "/", "", &h, &empty).unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(
            s.authorization("GET", "/", "Param2=value2&Param1=value1", &h, &empty)
                .unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn dates_and_keys() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert!(Signer::parse("id:secret").is_ok());
        for bad in ["nocolon", ":secret", "id:"] {
            assert!(Signer::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", Signer::parse("id:topsecret").unwrap()).contains("topsecret"));
    }
}
