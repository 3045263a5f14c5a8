//! Routing, status codes and event parsing of the REST backend, on an
//! in-memory store (no AWS, no network).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use backend::routes::{MAX_BODY_BYTES, percent_decode};
use backend::{ItemStore, Op, StoredItem, handle, handle_request, resolve};
use common::{Reply, StoreError};
use lambda_http::http::Method;
use serde_json::{Value, json};

#[derive(Default)]
struct MemoryItemStore {
    items: Mutex<HashMap<String, StoredItem>>,
    failing: AtomicBool,
}

impl MemoryItemStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) { Err(StoreError::new("boom")) } else { Ok(()) }
    }
}

impl ItemStore for MemoryItemStore {
    async fn get(&self, id: &str) -> Result<Option<StoredItem>, StoreError> {
        self.check()?;
        Ok(self.items.lock().unwrap().get(id).cloned())
    }
    async fn put(&self, item: &StoredItem) -> Result<(), StoreError> {
        self.check()?;
        self.items.lock().unwrap().insert(item.id.clone(), item.clone());
        Ok(())
    }
    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.items.lock().unwrap().remove(id);
        Ok(())
    }
}

fn error_of(reply: &Reply) -> String {
    reply
        .body
        .as_ref()
        .and_then(|b| b.get("error"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected an error body, got {reply:?}"))
        .to_string()
}

// ---------------------------------------------------------------- routing

#[test]
fn resolves_known_routes() {
    assert_eq!(resolve(&Method::GET, "/health"), Ok(Op::Health));
    assert_eq!(resolve(&Method::GET, "/health/"), Ok(Op::Health));
    assert_eq!(resolve(&Method::GET, "/items/a1"), Ok(Op::GetItem("a1".into())));
    assert_eq!(resolve(&Method::PUT, "/items/a1"), Ok(Op::PutItem("a1".into())));
    assert_eq!(resolve(&Method::DELETE, "/items/a1/"), Ok(Op::DeleteItem("a1".into())));
}

#[test]
fn unknown_routes_are_404() {
    for path in ["/", "", "/nope", "/items", "/items/", "/items/a/b", "/health/x", "/healthz"] {
        let err = resolve(&Method::GET, path).unwrap_err();
        assert_eq!(err.status, 404, "path {path:?}");
        assert!(error_of(&err).contains("no route"));
    }
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let err = resolve(&Method::POST, "/health").unwrap_err();
    assert_eq!(err.status, 405);
    assert_eq!(err.header("Allow"), Some("GET"));
    for m in [Method::POST, Method::PATCH, Method::HEAD, Method::OPTIONS] {
        let err = resolve(&m, "/items/x").unwrap_err();
        assert_eq!(err.status, 405, "method {m}");
        assert_eq!(err.header("allow"), Some("GET, PUT, DELETE"));
        assert!(error_of(&err).contains("not allowed"));
    }
}

#[test]
fn item_ids_are_percent_decoded_and_checked() {
    assert_eq!(resolve(&Method::GET, "/items/a%20b"), Ok(Op::GetItem("a b".into())));
    assert_eq!(resolve(&Method::GET, "/items/%E2%9C%93"), Ok(Op::GetItem("✓".into())));
    assert_eq!(resolve(&Method::GET, "/items/%zz").unwrap_err().status, 400);
    assert_eq!(resolve(&Method::GET, "/items/%ff").unwrap_err().status, 400);
    let long = format!("/items/{}", "x".repeat(1025));
    assert_eq!(resolve(&Method::GET, &long).unwrap_err().status, 400);
    assert_eq!(percent_decode("100%"), None);
}

// ---------------------------------------------------------------- handling

#[tokio::test]
async fn health_is_ok() {
    let store = MemoryItemStore::default();
    let r = handle(&store, &Method::GET, "/health", b"", 1).await;
    assert_eq!(r, Reply::json(200, json!({"status": "ok"})));
}

#[tokio::test]
async fn put_get_delete_round_trip() {
    let store = MemoryItemStore::default();
    let put =
        handle(&store, &Method::PUT, "/items/k1", br#"{"name": "x", "n": [1, 2]}"#, 1_700_000_000).await;
    assert_eq!(put.status, 200);
    let expected = json!({"id": "k1", "body": {"name": "x", "n": [1, 2]}, "updated_at": 1_700_000_000});
    assert_eq!(put.body, Some(expected.clone()));

    let stored = store.items.lock().unwrap().get("k1").cloned().unwrap();
    assert_eq!(stored.body, r#"{"n":[1,2],"name":"x"}"#, "body stored as compact JSON text");
    assert_eq!(stored.updated_at, 1_700_000_000);

    let get = handle(&store, &Method::GET, "/items/k1", b"", 5).await;
    assert_eq!(get, Reply::json(200, expected));

    let del = handle(&store, &Method::DELETE, "/items/k1", b"", 5).await;
    assert_eq!(del, Reply::empty(204));
    assert_eq!(handle(&store, &Method::GET, "/items/k1", b"", 5).await.status, 404);
    // Deleting again is still 204.
    assert_eq!(handle(&store, &Method::DELETE, "/items/k1", b"", 5).await.status, 204);
}

#[tokio::test]
async fn put_replaces_existing_items_and_accepts_any_json() {
    let store = MemoryItemStore::default();
    handle(&store, &Method::PUT, "/items/k", b"1", 1).await;
    let r = handle(&store, &Method::PUT, "/items/k", br#""text""#, 2).await;
    assert_eq!(r.body, Some(json!({"id": "k", "body": "text", "updated_at": 2})));
    assert_eq!(store.items.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn missing_item_is_404() {
    let store = MemoryItemStore::default();
    let r = handle(&store, &Method::GET, "/items/none", b"", 1).await;
    assert_eq!(r, Reply::error(404, "item not found"));
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let store = MemoryItemStore::default();
    for (body, msg) in [
        (&b"{not json"[..], "request body is not valid JSON"),
        (&b""[..], "request body is empty; expected JSON"),
        (&b"\xff\xfe"[..], "request body is not valid UTF-8"),
    ] {
        let r = handle(&store, &Method::PUT, "/items/k", body, 1).await;
        assert_eq!(r, Reply::error(400, msg));
    }
    assert!(store.items.lock().unwrap().is_empty());
}

#[tokio::test]
async fn oversized_body_is_413() {
    let store = MemoryItemStore::default();
    let big = format!("\"{}\"", "a".repeat(MAX_BODY_BYTES));
    let r = handle(&store, &Method::PUT, "/items/k", big.as_bytes(), 1).await;
    assert_eq!(r.status, 413);
    error_of(&r);
}

#[tokio::test]
async fn store_failures_are_500_without_details() {
    let store = MemoryItemStore::default();
    store.failing.store(true, Ordering::SeqCst);
    for (m, body) in [(Method::GET, &b""[..]), (Method::PUT, &b"{}"[..]), (Method::DELETE, &b""[..])] {
        let r = handle(&store, &m, "/items/k", body, 1).await;
        assert_eq!(r, Reply::error(500, "internal server error"), "method {m}");
    }
    // Health does not touch the store.
    assert_eq!(handle(&store, &Method::GET, "/health", b"", 1).await.status, 200);
}

// ------------------------------------------------------- lambda_http events

fn http_api_event(method: &str, raw_path: &str, body: Option<&str>, base64: bool) -> String {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000u64
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}

async fn call(store: &MemoryItemStore, event: &str) -> (u16, Option<String>, Value) {
    let req = lambda_http::request::from_str(event).expect("event parses");
    let resp = handle_request(store, &req, 42).await;
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    let body: &[u8] = resp.body().as_ref();
    let json = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap() };
    (resp.status().as_u16(), ct, json)
}

#[tokio::test]
async fn http_api_v2_events() {
    let store = MemoryItemStore::default();
    let (status, ct, body) = call(&store, &http_api_event("GET", "/health", None, false)).await;
    assert_eq!((status, ct.as_deref(), body), (200, Some("application/json"), json!({"status": "ok"})));

    let (status, _, body) =
        call(&store, &http_api_event("PUT", "/items/e1", Some(r#"{"v":1}"#), false)).await;
    assert_eq!((status, body["body"].clone(), body["updated_at"].clone()), (200, json!({"v": 1}), json!(42)));

    // base64 body ({"v":2}) as API Gateway sends binary payloads
    let (status, _, _) = call(&store, &http_api_event("PUT", "/items/e1", Some("eyJ2IjoyfQ=="), true)).await;
    assert_eq!(status, 200);
    let (status, _, body) = call(&store, &http_api_event("GET", "/items/e1", None, false)).await;
    assert_eq!((status, body["body"].clone()), (200, json!({"v": 2})));

    let (status, ct, body) = call(&store, &http_api_event("DELETE", "/items/e1", None, false)).await;
    assert_eq!((status, ct, body), (204, None, Value::Null));

    let (status, _, body) = call(&store, &http_api_event("PUT", "/items/e1", Some("nope"), false)).await;
    assert_eq!((status, body), (400, json!({"error": "request body is not valid JSON"})));

    let (status, _, _) = call(&store, &http_api_event("GET", "/other", None, false)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn rest_api_v1_event_with_stage_prefix() {
    // REST API events carry the stage ("prod") outside the path;
    // lambda_http puts it in the URI, raw_http_path() drops it again.
    let event = json!({
        "resource": "/{proxy+}",
        "path": "/items/r1",
        "httpMethod": "PATCH",
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": "items/r1"},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "resourceId": "x",
            "stage": "prod", "requestId": "r", "path": "/prod/items/r1",
            "resourcePath": "/{proxy+}", "httpMethod": "PATCH",
            "identity": {"sourceIp": "192.0.2.1"}
        },
        "body": null,
        "isBase64Encoded": false
    })
    .to_string();
    let store = MemoryItemStore::default();
    let req = lambda_http::request::from_str(&event).unwrap();
    assert_eq!(backend::request_path(&req), "/items/r1");
    let resp = handle_request(&store, &req, 1).await;
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers().get("allow").unwrap(), "GET, PUT, DELETE");
}
