//! Routing and request handling, independent of Lambda and AWS.

use common::Reply;
use common::body::parse_json_bytes;
use lambda_http::http::Method;
use serde_json::{Value, json};

use crate::store::{ItemStore, StoredItem};

/// Largest accepted PUT body. DynamoDB items are limited to 400 KB
/// including attribute names and the other attributes.
pub const MAX_BODY_BYTES: usize = 350 * 1024;
/// Largest item id in bytes (DynamoDB allows 2048 for a partition key).
pub const MAX_ID_BYTES: usize = 1024;

/// A resolved request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Health,
    GetItem(String),
    PutItem(String),
    DeleteItem(String),
}

enum Resource {
    Health,
    Item(String),
}

fn match_path(path: &str) -> Result<Option<Resource>, Reply> {
    let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    let resource = match (segments.next(), segments.next(), segments.next()) {
        (Some("health"), None, _) => Resource::Health,
        (Some("items"), Some(raw_id), None) if !raw_id.is_empty() => {
            let id = percent_decode(raw_id)
                .ok_or_else(|| Reply::error(400, "item id is not valid percent-encoded UTF-8"))?;
            if id.is_empty() || id.len() > MAX_ID_BYTES {
                return Err(Reply::error(400, format!("item id must be 1 to {MAX_ID_BYTES} bytes long")));
            }
            Resource::Item(id)
        }
        _ => return Ok(None),
    };
    Ok(Some(resource))
}

/// Maps method and path to an operation, or to the error reply: 404 for an
/// unknown path, 405 (with `Allow`) for a method the path does not support,
/// 400 for a malformed item id.
pub fn resolve(method: &Method, path: &str) -> Result<Op, Reply> {
    let Some(resource) = match_path(path)? else {
        return Err(Reply::error(404, format!("no route for {path}")));
    };
    match (resource, method) {
        (Resource::Health, &Method::GET) => Ok(Op::Health),
        (Resource::Health, _) => Err(method_not_allowed(method, "GET")),
        (Resource::Item(id), &Method::GET) => Ok(Op::GetItem(id)),
        (Resource::Item(id), &Method::PUT) => Ok(Op::PutItem(id)),
        (Resource::Item(id), &Method::DELETE) => Ok(Op::DeleteItem(id)),
        (Resource::Item(_), _) => Err(method_not_allowed(method, "GET, PUT, DELETE")),
    }
}

fn method_not_allowed(method: &Method, allow: &'static str) -> Reply {
    Reply::error(405, format!("method {method} not allowed; allowed: {allow}")).with_header("allow", allow)
}

fn internal_error(err: common::StoreError) -> Reply {
    tracing::error!(error = %err, "store operation failed");
    Reply::error(500, "internal server error")
}

fn item_json(item: &StoredItem) -> Value {
    // The body was validated as JSON when stored; fall back to the raw text
    // should the attribute have been written by something else.
    let body = serde_json::from_str::<Value>(&item.body).unwrap_or_else(|_| Value::String(item.body.clone()));
    json!({ "id": item.id, "body": body, "updated_at": item.updated_at })
}

/// Handles one request. `now` is the current time (epoch seconds), used as
/// `updated_at` on writes.
pub async fn handle<S: ItemStore>(store: &S, method: &Method, path: &str, body: &[u8], now: i64) -> Reply {
    let op = match resolve(method, path) {
        Ok(op) => op,
        Err(reply) => return reply,
    };
    match op {
        Op::Health => Reply::json(200, json!({ "status": "ok" })),
        Op::GetItem(id) => match store.get(&id).await {
            Ok(Some(item)) => Reply::json(200, item_json(&item)),
            Ok(None) => Reply::error(404, "item not found"),
            Err(e) => internal_error(e),
        },
        Op::PutItem(id) => {
            if body.len() > MAX_BODY_BYTES {
                return Reply::error(413, format!("request body exceeds {MAX_BODY_BYTES} bytes"));
            }
            let value = match parse_json_bytes(body) {
                Ok(v) => v,
                Err(e) => return Reply::error(400, e.to_string()),
            };
            let item = StoredItem { id, body: value.to_string(), updated_at: now };
            match store.put(&item).await {
                Ok(()) => Reply::json(200, item_json(&item)),
                Err(e) => internal_error(e),
            }
        }
        Op::DeleteItem(id) => match store.delete(&id).await {
            Ok(()) => Reply::empty(204),
            Err(e) => internal_error(e),
        },
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8 result.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
