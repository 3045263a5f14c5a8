//! One function per Lambda: API Gateway event in, [`Reply`] out.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use common::Reply;
use common::connections::ConnectionStore;
use serde_json::Value;

use crate::WsConfig;
use crate::event::{connection_id, is_signed, json_body, management_endpoint, room_param};
use crate::logic;
use crate::poster::Poster;

fn missing_connection_id() -> Reply {
    Reply::error(400, "requestContext.connectionId is missing")
}

fn no_endpoint() -> Reply {
    tracing::error!("no management API endpoint: set MANAGEMENT_API_ENDPOINT or invoke through API Gateway");
    Reply::error(500, "management API endpoint is unknown")
}

/// `ws-connect` (`$connect`).
pub async fn handle_connect<S: ConnectionStore>(
    store: &S,
    config: &WsConfig,
    event: &ApiGatewayWebsocketProxyRequest,
    now: i64,
) -> Reply {
    let Some(conn) = connection_id(event) else { return missing_connection_id() };
    tracing::info!(route = "$connect", connection_id = conn, "websocket event");
    let room = room_param(event, &config.table.room_query_param);
    logic::connect(store, &config.table, conn, room, is_signed(event), now).await
}

/// `ws-disconnect` (`$disconnect`).
pub async fn handle_disconnect<S: ConnectionStore>(
    store: &S,
    event: &ApiGatewayWebsocketProxyRequest,
) -> Reply {
    let Some(conn) = connection_id(event) else { return missing_connection_id() };
    tracing::info!(route = "$disconnect", connection_id = conn, "websocket event");
    logic::disconnect(store, conn).await
}

/// `ws-default` (`$default`): the body's `message` goes to the sender's room;
/// `{"action": "who"}` answers the sender with its room's members.
pub async fn handle_default<S: ConnectionStore, P: Poster>(
    store: &S,
    poster: &P,
    config: &WsConfig,
    event: &ApiGatewayWebsocketProxyRequest,
) -> Reply {
    let Some(conn) = connection_id(event) else { return missing_connection_id() };
    tracing::info!(route = "$default", connection_id = conn, "websocket event");
    let body = match json_body(event) {
        Ok(body) => body,
        Err(e) => return Reply::error(400, e.to_string()),
    };
    let Some(endpoint) =
        management_endpoint(Some(&event.request_context), config.management_endpoint.as_deref())
    else {
        return no_endpoint();
    };
    if logic::is_who(&body) {
        return logic::who(store, poster, &config.table, &endpoint, conn).await;
    }
    let message = logic::default_message(body);
    logic::send_to_own_room(store, poster, &config.table, &endpoint, conn, &message).await
}

/// `ws-broadcast`: `{"room": "...", "message": ...}` to any room.
///
/// The event is either an API Gateway WebSocket event (a custom route; the
/// request is its body) or, when invoked directly (SDK, another function,
/// EventBridge), the request object itself; direct invocations need
/// `MANAGEMENT_API_ENDPOINT`.
pub async fn handle_broadcast<S: ConnectionStore, P: Poster>(
    store: &S,
    poster: &P,
    config: &WsConfig,
    event: Value,
) -> Reply {
    let is_apigw = event.get("requestContext").is_some_and(Value::is_object);
    let (body, context, from) = if is_apigw {
        let event: ApiGatewayWebsocketProxyRequest = match serde_json::from_value(event) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "malformed API Gateway WebSocket event");
                return Reply::error(400, "malformed API Gateway WebSocket event");
            }
        };
        let body = match json_body(&event) {
            Ok(body) => body,
            Err(e) => return Reply::error(400, e.to_string()),
        };
        let from = connection_id(&event).unwrap_or(logic::SERVER_SENDER).to_string();
        (body, Some(event.request_context), from)
    } else {
        (event, None, logic::SERVER_SENDER.to_string())
    };
    tracing::info!(route = "broadcast", from = %from, "websocket event");
    let request = match logic::parse_broadcast(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let Some(endpoint) = management_endpoint(context.as_ref(), config.management_endpoint.as_deref()) else {
        return no_endpoint();
    };
    logic::broadcast(store, poster, &endpoint, &from, &request).await
}
