//! Reading API Gateway WebSocket events.

use aws_lambda_events::apigw::{ApiGatewayWebsocketProxyRequest, ApiGatewayWebsocketProxyRequestContext};
use common::body::{BodyError, parse_event_body};
use serde_json::Value;

/// The connection id of the caller, if present and non-empty.
pub fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event.request_context.connection_id.as_deref().filter(|c| !c.is_empty())
}

/// The room named by query string parameter `param`, trimmed; `None` when
/// missing or blank.
pub fn room_param<'a>(event: &'a ApiGatewayWebsocketProxyRequest, param: &str) -> Option<&'a str> {
    event.query_string_parameters.first(param).map(str::trim).filter(|r| !r.is_empty())
}

/// Whether the connection was signed (a `$connect` with AWS_IAM authorization: API Gateway names
/// the signer's access key or ARN in the request context's identity; it never does otherwise).
pub fn is_signed(event: &ApiGatewayWebsocketProxyRequest) -> bool {
    let identity = &event.request_context.identity;
    identity.access_key.as_deref().is_some_and(|k| !k.is_empty())
        || identity.user_arn.as_deref().is_some_and(|a| !a.is_empty())
}

/// The JSON value of the event body.
pub fn json_body(event: &ApiGatewayWebsocketProxyRequest) -> Result<Value, BodyError> {
    parse_event_body(event.body.as_deref(), event.is_base64_encoded)
}

/// The API Gateway Management API endpoint: the override when set, else
/// `https://{domainName}/{stage}` of the request context.
pub fn management_endpoint(
    context: Option<&ApiGatewayWebsocketProxyRequestContext>,
    override_endpoint: Option<&str>,
) -> Option<String> {
    if let Some(endpoint) = override_endpoint.filter(|e| !e.is_empty()) {
        return Some(endpoint.to_string());
    }
    let context = context?;
    let domain = context.domain_name.as_deref().filter(|d| !d.is_empty())?;
    let stage = context.stage.as_deref().filter(|s| !s.is_empty())?;
    Some(format!("https://{domain}/{stage}"))
}
