//! AWS Signature Version 4 for the relay's `$connect` (API Gateway's AWS_IAM
//! authorization, service `execute-api`): the headers that sign a GET of the
//! upgrade URL with the function's own credentials (Lambda gives them to
//! extensions in the same environment variables as to the runtime).

use crate::sha256::{hex, hmac_sha256, sha256};
use crate::ws::WsUrl;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, when the first two are set.
    pub fn from_env() -> Option<Self> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Credentials { access_key_id: get("AWS_ACCESS_KEY_ID")?, secret_access_key: get("AWS_SECRET_ACCESS_KEY")?, session_token: get("AWS_SESSION_TOKEN") })
    }
}

/// RFC 3986 encoding of everything but unreserved characters, as SigV4 wants it.
fn encode(s: &[u8]) -> String {
    s.iter()
        .map(|&b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    out
}

/// `yyyymmddThhmmssZ` of seconds since the epoch.
pub fn amz_date(epoch_secs: u64) -> String {
    let days = (epoch_secs / 86_400) as i64;
    let secs = epoch_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The headers that sign `GET url` (host, x-amz-date, x-amz-content-sha256, the session token
/// and Authorization), for `service` in `region`, at `epoch_secs`.
pub fn sign_get(url: &WsUrl, region: &str, service: &str, cred: &Credentials, epoch_secs: u64) -> Vec<(String, String)> {
    let date_time = amz_date(epoch_secs);
    let date = &date_time[..8];
    let payload_hash = hex(&sha256(b""));
    let mut headers: Vec<(String, String)> =
        vec![("host".into(), url.authority()), ("x-amz-content-sha256".into(), payload_hash.clone()), ("x-amz-date".into(), date_time.clone())];
    if let Some(token) = &cred.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let (path, query) = url.target.split_once('?').unwrap_or((&url.target, ""));
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_path = path.split('/').map(|s| encode(&decode(s))).collect::<Vec<_>>().join("/");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical = format!("GET\n{canonical_path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}", hex(&sha256(canonical.as_bytes())));
    let key = [date, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{}", cred.secret_access_key).into_bytes(), |k, part| hmac_sha256(&k, part.as_bytes()).to_vec());
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    headers.retain(|(k, _)| k != "host");
    headers.push((
        "authorization".into(),
        format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}", cred.access_key_id),
    ));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_796_428_799), "20261204T235959Z");
    }

    /// The same signature as the local gateway's signer (runtime/sigv4.ts signRequest) gives for
    /// GET ws://127.0.0.1:4510/local?room=live-f at 2026-12-07T03:04:05Z with test/test.
    #[test]
    fn signs_as_the_gateway_checks() {
        let url = WsUrl::parse("ws://127.0.0.1:4510/local?room=live-f").unwrap();
        let cred = Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: Some("tok".into()) };
        let h = sign_get(&url, "us-east-1", "execute-api", &cred, 1_796_612_645);
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap();
        assert_eq!(get("x-amz-date"), "20261207T030405Z");
        assert_eq!(get("x-amz-security-token"), "tok");
        assert_eq!(get("authorization"), SIGNED_BY_TS);
    }

    const SIGNED_BY_TS: &str = "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=68b943e473aac75113b9782b7dce7489c087e6f4d98c4790e38386d7aedd694c";
}
