//! The decisions of the WebSocket functions, over the store and poster
//! traits only.

use common::Reply;
use common::connections::{ConnectionStore, ConnectionTableConfig, Registration};
use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::poster::{PostOutcome, Poster};

/// How many posts are in flight at once during a fan-out.
pub const POST_CONCURRENCY: usize = 16;

/// The `from` of a message broadcast without a sending connection.
pub const SERVER_SENDER: &str = "server";

fn internal_error(err: common::StoreError) -> Reply {
    tracing::error!(error = %err, "connection table operation failed");
    Reply::error(500, "internal server error")
}

/// Rooms of the live relay (`live-<function name>`, runtime/live-protocol.ts): only connections
/// signed with SigV4 join them, so a client of a public API (same handlers, same table) can neither
/// listen to a function's invocations nor push the relay's members out of the table.
pub const LIVE_ROOM_PREFIX: &str = "live-";

/// `$connect`: registers `connection_id` in `room` (already read from the
/// query string; `None` when missing or blank gives 400); a live room only when `signed` (else 403).
pub async fn connect<S: ConnectionStore>(
    store: &S,
    config: &ConnectionTableConfig,
    connection_id: &str,
    room: Option<&str>,
    signed: bool,
    now: i64,
) -> Reply {
    let Some(room) = room else {
        return Reply::error(
            400,
            format!("missing required query string parameter '{}'", config.room_query_param),
        );
    };
    if room.starts_with(LIVE_ROOM_PREFIX) && !signed {
        return Reply::error(
            403,
            format!(
                "rooms named {LIVE_ROOM_PREFIX}* belong to the live relay; connect to the relay's API with a SigV4-signed request"
            ),
        );
    }
    let registration = Registration::new(room, connection_id, now, config.connection_ttl_seconds);
    match store.put(&registration).await {
        Ok(()) => Reply::json(200, json!({ "connected": true })),
        Err(e) => internal_error(e),
    }
}

/// `$disconnect`: removes every registration of the connection.
pub async fn disconnect<S: ConnectionStore>(store: &S, connection_id: &str) -> Reply {
    let rooms = match store.rooms_of(connection_id).await {
        Ok(rooms) => rooms,
        Err(e) => return internal_error(e),
    };
    let mut removed = 0;
    for room in &rooms {
        if let Err(e) = store.delete(room, connection_id).await {
            return internal_error(e);
        }
        removed += 1;
    }
    Reply::json(200, json!({ "disconnected": true, "removed": removed }))
}

/// Counts of a fan-out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fanout {
    pub delivered: usize,
    /// Gone connections deleted from the table.
    pub removed: usize,
    /// Posts that failed for another reason (logged, left in the table).
    pub failed: usize,
}

/// The text sent to every connection of a room.
pub fn message_payload(room: &str, from: &str, message: &Value) -> Vec<u8> {
    json!({ "room": room, "from": from, "message": message }).to_string().into_bytes()
}

/// Posts `data` to every connection of `room`; connections that are gone
/// are deleted from the table.
pub async fn fanout<S: ConnectionStore, P: Poster>(
    store: &S,
    poster: &P,
    endpoint: &str,
    room: &str,
    data: &[u8],
) -> Result<Fanout, common::StoreError> {
    let targets = store.connections_in(room).await?;
    let outcomes: Vec<(String, PostOutcome)> = stream::iter(targets)
        .map(|target| async move {
            let outcome = poster.post(endpoint, &target, data).await;
            (target, outcome)
        })
        .buffer_unordered(POST_CONCURRENCY)
        .collect()
        .await;

    let mut counts = Fanout::default();
    for (target, outcome) in outcomes {
        match outcome {
            PostOutcome::Delivered => counts.delivered += 1,
            PostOutcome::Gone => {
                tracing::info!(connection_id = %target, room, "connection gone, removing");
                match store.delete(room, &target).await {
                    Ok(()) => counts.removed += 1,
                    Err(e) => {
                        tracing::warn!(connection_id = %target, error = %e, "could not remove gone connection")
                    }
                }
            }
            PostOutcome::Failed(error) => {
                tracing::warn!(connection_id = %target, %error, "post_to_connection failed");
                counts.failed += 1;
            }
        }
    }
    Ok(counts)
}

fn fanout_reply(result: Result<Fanout, common::StoreError>) -> Reply {
    match result {
        Ok(c) => Reply::json(200, json!({ "delivered": c.delivered, "removed": c.removed })),
        Err(e) => internal_error(e),
    }
}

/// The message of a `$default` body: its `message` member when the body is
/// an object that has one, else the whole body (as the Python handler).
pub fn default_message(body: Value) -> Value {
    match body {
        Value::Object(mut map) if map.contains_key("message") => map.remove("message").unwrap_or(Value::Null),
        other => other,
    }
}

/// The room a connection is registered in; the reply to give when none (404) or the table fails.
async fn own_room<S: ConnectionStore>(
    store: &S,
    config: &ConnectionTableConfig,
    connection_id: &str,
) -> Result<String, Reply> {
    let rooms = store.rooms_of(connection_id).await.map_err(internal_error)?;
    rooms.into_iter().next().ok_or_else(|| {
        Reply::error(
            404,
            format!("connection is not in a room; reconnect with ?{}=<room>", config.room_query_param),
        )
    })
}

/// Whether a `$default` body asks who is in the sender's room: `{"action": "who"}`
/// (a route selection value with no route of its own lands on `$default`).
pub fn is_who(body: &Value) -> bool {
    body.get("action").and_then(Value::as_str) == Some("who")
}

/// `who`: tells the sender only who is in its room, as
/// `{"room": ..., "members": [connection ids], "you": ...}`.
pub async fn who<S: ConnectionStore, P: Poster>(
    store: &S,
    poster: &P,
    config: &ConnectionTableConfig,
    endpoint: &str,
    connection_id: &str,
) -> Reply {
    let room = match own_room(store, config, connection_id).await {
        Ok(room) => room,
        Err(reply) => return reply,
    };
    let mut members = match store.connections_in(&room).await {
        Ok(m) => m,
        Err(e) => return internal_error(e),
    };
    members.sort();
    let data = json!({ "room": room, "members": members, "you": connection_id }).to_string().into_bytes();
    match poster.post(endpoint, connection_id, &data).await {
        PostOutcome::Delivered => Reply::json(200, json!({ "members": members.len() })),
        PostOutcome::Gone => Reply::json(410, json!({ "message": "the asking connection is gone" })),
        PostOutcome::Failed(error) => {
            tracing::warn!(connection_id, %error, "post_to_connection failed");
            Reply::error(502, "could not answer the connection")
        }
    }
}

/// `$default`: sends `message` to every connection of the sender's room.
pub async fn send_to_own_room<S: ConnectionStore, P: Poster>(
    store: &S,
    poster: &P,
    config: &ConnectionTableConfig,
    endpoint: &str,
    connection_id: &str,
    message: &Value,
) -> Reply {
    let room = match own_room(store, config, connection_id).await {
        Ok(room) => room,
        Err(reply) => return reply,
    };
    let data = message_payload(&room, connection_id, message);
    fanout_reply(fanout(store, poster, endpoint, &room, &data).await)
}

/// A validated broadcast request.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastRequest {
    pub room: String,
    pub message: Value,
}

/// Reads `{"room": "...", "message": ...}`; 400 reply when malformed.
pub fn parse_broadcast(body: Value) -> Result<BroadcastRequest, Reply> {
    let Value::Object(mut map) = body else {
        return Err(Reply::error(400, "body must be a JSON object with \"room\" and \"message\""));
    };
    let room = match map.get("room") {
        Some(Value::String(r)) if !r.trim().is_empty() => r.trim().to_string(),
        Some(Value::String(_)) | None => return Err(Reply::error(400, "missing \"room\"")),
        Some(_) => return Err(Reply::error(400, "\"room\" must be a string")),
    };
    let Some(message) = map.remove("message") else {
        return Err(Reply::error(400, "missing \"message\""));
    };
    Ok(BroadcastRequest { room, message })
}

/// Broadcast: sends the message to every connection of the named room.
pub async fn broadcast<S: ConnectionStore, P: Poster>(
    store: &S,
    poster: &P,
    endpoint: &str,
    from: &str,
    request: &BroadcastRequest,
) -> Reply {
    let data = message_payload(&request.room, from, &request.message);
    fanout_reply(fanout(store, poster, endpoint, &request.room, &data).await)
}
