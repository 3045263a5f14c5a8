//! Transport-neutral JSON replies.
//!
//! Handler logic returns a [`Reply`]; the Lambda entry points turn it into
//! the response type of their event source ([`Reply::into_apigw`] here,
//! an `http::Response` in the REST backend).

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

pub const CONTENT_TYPE_JSON: &str = "application/json";

/// An HTTP-like reply: a status code, extra headers and an optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// Extra headers (Content-Type is added for JSON bodies on conversion).
    pub headers: Vec<(&'static str, String)>,
    /// `None` for an empty body (e.g. 204).
    pub body: Option<Value>,
}

impl Reply {
    /// A reply with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: Some(body) }
    }

    /// A reply with no body.
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: None }
    }

    /// `{"error": message}` with the given status.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "error": message.into() }))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The body serialized as JSON text (empty string for no body).
    pub fn body_text(&self) -> String {
        match &self.body {
            Some(v) => v.to_string(),
            None => String::new(),
        }
    }

    /// The value of a header, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The response of an API Gateway (REST or WebSocket) proxy integration.
    pub fn into_apigw(self) -> ApiGatewayProxyResponse {
        let mut headers = HeaderMap::new();
        if self.body.is_some() {
            headers.insert(
                aws_lambda_events::http::header::CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPE_JSON),
            );
        }
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(n, v);
            }
        }
        let mut resp = ApiGatewayProxyResponse::default();
        resp.status_code = i64::from(self.status);
        resp.headers = headers;
        resp.body = self.body.map(|v| Body::Text(v.to_string()));
        resp.is_base64_encoded = false;
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_shape() {
        let r = Reply::error(404, "not found");
        assert_eq!(r.status, 404);
        assert_eq!(r.body, Some(json!({"error": "not found"})));
        assert_eq!(r.body_text(), r#"{"error":"not found"}"#);
    }

    #[test]
    fn into_apigw_sets_status_body_and_content_type() {
        let resp = Reply::json(200, json!({"ok": true})).with_header("x-test", "1").into_apigw();
        assert_eq!(resp.status_code, 200);
        assert_eq!(resp.headers.get("content-type").unwrap(), CONTENT_TYPE_JSON);
        assert_eq!(resp.headers.get("x-test").unwrap(), "1");
        match resp.body {
            Some(Body::Text(t)) => assert_eq!(t, r#"{"ok":true}"#),
            other => panic!("unexpected body {other:?}"),
        }
        assert!(!resp.is_base64_encoded);
    }

    #[test]
    fn empty_reply_has_no_body_or_content_type() {
        let resp = Reply::empty(204).into_apigw();
        assert_eq!(resp.status_code, 204);
        assert!(resp.body.is_none());
        assert!(resp.headers.get("content-type").is_none());
    }
}
