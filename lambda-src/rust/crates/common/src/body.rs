//! Request-body decoding.

use base64::Engine as _;
use serde_json::Value;

/// Why a request body could not be read as JSON. The `Display` text is safe
/// to return to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    Empty,
    InvalidBase64,
    InvalidUtf8,
    InvalidJson,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyError::Empty => "request body is empty; expected JSON",
            BodyError::InvalidBase64 => "request body is not valid base64",
            BodyError::InvalidUtf8 => "request body is not valid UTF-8",
            BodyError::InvalidJson => "request body is not valid JSON",
        })
    }
}

impl std::error::Error for BodyError {}

/// Parses raw body bytes as JSON.
pub fn parse_json_bytes(raw: &[u8]) -> Result<Value, BodyError> {
    if raw.is_empty() {
        return Err(BodyError::Empty);
    }
    let text = std::str::from_utf8(raw).map_err(|_| BodyError::InvalidUtf8)?;
    serde_json::from_str(text).map_err(|_| BodyError::InvalidJson)
}

/// Parses an API Gateway event body (a string, base64 when
/// `is_base64_encoded`) as JSON.
pub fn parse_event_body(body: Option<&str>, is_base64_encoded: bool) -> Result<Value, BodyError> {
    let raw = match body {
        None | Some("") => return Err(BodyError::Empty),
        Some(raw) => raw,
    };
    if is_base64_encoded {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(raw).map_err(|_| BodyError::InvalidBase64)?;
        parse_json_bytes(&bytes)
    } else {
        parse_json_bytes(raw.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_json() {
        assert_eq!(parse_event_body(Some(r#"{"a":1}"#), false), Ok(json!({"a": 1})));
    }

    #[test]
    fn empty_and_missing() {
        assert_eq!(parse_event_body(None, false), Err(BodyError::Empty));
        assert_eq!(parse_event_body(Some(""), false), Err(BodyError::Empty));
        assert_eq!(parse_json_bytes(b""), Err(BodyError::Empty));
    }

    #[test]
    fn invalid_json() {
        assert_eq!(parse_event_body(Some("{nope"), false), Err(BodyError::InvalidJson));
    }

    #[test]
    fn base64_bodies() {
        // {"message":"hi"}
        assert_eq!(parse_event_body(Some("eyJtZXNzYWdlIjoiaGkifQ=="), true), Ok(json!({"message": "hi"})));
        assert_eq!(parse_event_body(Some("***"), true), Err(BodyError::InvalidBase64));
        // 0xff 0xfe is not UTF-8
        assert_eq!(parse_event_body(Some("//4="), true), Err(BodyError::InvalidUtf8));
    }

    #[test]
    fn messages_are_client_safe() {
        assert_eq!(BodyError::InvalidJson.to_string(), "request body is not valid JSON");
    }
}
