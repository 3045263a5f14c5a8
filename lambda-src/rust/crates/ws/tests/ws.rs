//! WebSocket functions end to end on an in-memory connection table and a
//! fake management API (no AWS, no network).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use common::Reply;
use common::connections::{ConnectionTableConfig, Registration};
use common::memory::MemoryConnectionStore;
use serde_json::{Value, json};
use ws::event::{connection_id, management_endpoint, room_param};
use ws::logic::{self, BroadcastRequest, Fanout};
use ws::{
    PostOutcome, Poster, WsConfig, handle_broadcast, handle_connect, handle_default, handle_disconnect,
};

/// Records every post; answers with a per-connection outcome (default
/// Delivered).
#[derive(Default)]
struct FakePoster {
    outcomes: HashMap<String, PostOutcome>,
    posts: Mutex<Vec<(String, String, Value)>>,
}

impl FakePoster {
    fn with(outcomes: &[(&str, PostOutcome)]) -> Self {
        Self {
            outcomes: outcomes.iter().map(|(c, o)| (c.to_string(), o.clone())).collect(),
            ..Self::default()
        }
    }

    /// (endpoint, connection id, payload) of every post, sorted by connection.
    fn posts(&self) -> Vec<(String, String, Value)> {
        let mut posts = self.posts.lock().unwrap().clone();
        posts.sort_by(|a, b| a.1.cmp(&b.1));
        posts
    }

    fn targets(&self) -> Vec<String> {
        self.posts().into_iter().map(|p| p.1).collect()
    }
}

impl Poster for FakePoster {
    async fn post(&self, endpoint: &str, connection_id: &str, data: &[u8]) -> PostOutcome {
        let payload: Value = serde_json::from_slice(data).expect("payload is JSON");
        self.posts.lock().unwrap().push((endpoint.to_string(), connection_id.to_string(), payload));
        self.outcomes.get(connection_id).cloned().unwrap_or(PostOutcome::Delivered)
    }
}

fn config() -> WsConfig {
    WsConfig::from_lookup(&[("TABLE_NAME", "connections")]).unwrap()
}

fn event(
    route: &str,
    connection: Option<&str>,
    query: Value,
    body: Option<&str>,
    base64: bool,
) -> ApiGatewayWebsocketProxyRequest {
    let mut context = json!({
        "routeKey": route,
        "eventType": match route { "$connect" => "CONNECT", "$disconnect" => "DISCONNECT", _ => "MESSAGE" },
        "extendedRequestId": "x",
        "requestTime": "01/Jan/2026:00:00:00 +0000",
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": 1767225600000i64,
        "requestTimeEpoch": 1767225600000i64,
        "identity": {"sourceIp": "192.0.2.1"},
        "requestId": "r",
        "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
        "apiId": "abc123"
    });
    if let Some(c) = connection {
        context["connectionId"] = json!(c);
    }
    let raw = json!({
        "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc123.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": query,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64
    });
    serde_json::from_value(raw).expect("event parses")
}

fn message_event(connection: &str, body: &str) -> ApiGatewayWebsocketProxyRequest {
    event("$default", Some(connection), Value::Null, Some(body), false)
}

const ENDPOINT: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod";

// ---------------------------------------------------------------- events

#[test]
fn event_parsing() {
    let e = event("$connect", Some("c1"), json!({"room": "  lobby "}), None, false);
    assert_eq!(connection_id(&e), Some("c1"));
    assert_eq!(room_param(&e, "room"), Some("lobby"));
    assert_eq!(room_param(&e, "channel"), None);
    assert_eq!(management_endpoint(Some(&e.request_context), None).as_deref(), Some(ENDPOINT));
    assert_eq!(
        management_endpoint(Some(&e.request_context), Some("http://localhost:1234")).as_deref(),
        Some("http://localhost:1234")
    );
    assert_eq!(management_endpoint(None, None), None);

    let e = event("$connect", None, Value::Null, None, false);
    assert_eq!(connection_id(&e), None);
    let e = event("$connect", Some(""), json!({"room": "   "}), None, false);
    assert_eq!(connection_id(&e), None);
    assert_eq!(room_param(&e, "room"), None);
}

#[test]
fn config_from_env_lookup() {
    let c = WsConfig::from_lookup(&[
        ("TABLE_NAME", "t"),
        ("MANAGEMENT_API_ENDPOINT", "https://example.test/dev"),
        ("ROOM_QUERY_PARAM", "channel"),
    ])
    .unwrap();
    assert_eq!(c.management_endpoint.as_deref(), Some("https://example.test/dev"));
    assert_eq!(c.table.room_query_param, "channel");
    assert_eq!(config().management_endpoint, None);
    assert!(WsConfig::from_lookup(&[("ROOM_KEY", "r")]).is_err());
}

// ---------------------------------------------------------------- connect

#[tokio::test]
async fn connect_registers_with_ttl() {
    let store = MemoryConnectionStore::new();
    let e = event("$connect", Some("c1"), json!({"room": "lobby"}), None, false);
    let r = handle_connect(&store, &config(), &e, 1_000).await;
    assert_eq!(r, Reply::json(200, json!({"connected": true})));
    assert_eq!(
        store.registrations(),
        vec![Registration {
            room: "lobby".into(),
            connection_id: "c1".into(),
            connected_at: 1_000,
            expires_at: 8_200
        }]
    );
}

#[tokio::test]
async fn connect_uses_configured_param_and_ttl() {
    let store = MemoryConnectionStore::new();
    let cfg = WsConfig::from_lookup(&[
        ("TABLE_NAME", "t"),
        ("ROOM_QUERY_PARAM", "channel"),
        ("CONNECTION_TTL_SECONDS", "60"),
    ])
    .unwrap();
    let e = event("$connect", Some("c1"), json!({"channel": "news"}), None, false);
    assert_eq!(handle_connect(&store, &cfg, &e, 10).await.status, 200);
    assert_eq!(store.registrations()[0].expires_at, 70);
    let e = event("$connect", Some("c2"), json!({"room": "news"}), None, false);
    let r = handle_connect(&store, &cfg, &e, 10).await;
    assert_eq!(r, Reply::error(400, "missing required query string parameter 'channel'"));
}

#[tokio::test]
async fn connect_without_room_is_400() {
    let store = MemoryConnectionStore::new();
    for query in [Value::Null, json!({}), json!({"room": ""}), json!({"room": "  "}), json!({"other": "x"})] {
        let e = event("$connect", Some("c1"), query.clone(), None, false);
        let r = handle_connect(&store, &config(), &e, 1).await;
        assert_eq!(r, Reply::error(400, "missing required query string parameter 'room'"), "query {query}");
    }
    assert!(store.registrations().is_empty());
}

#[tokio::test]
async fn live_rooms_take_only_signed_connections() {
    let store = MemoryConnectionStore::new();
    let e = event("$connect", Some("c1"), json!({"room": "live-lambdaship-dev-backend"}), None, false);
    let r = handle_connect(&store, &config(), &e, 1).await;
    assert_eq!(r.status, 403);
    assert!(store.registrations().is_empty());
    // Signed (AWS_IAM on the relay's $connect): API Gateway names the signer.
    let mut signed = e.clone();
    signed.request_context.identity.access_key = Some("AKIAEXAMPLE".into());
    assert_eq!(handle_connect(&store, &config(), &signed, 1).await.status, 200);
    let mut by_arn = e.clone();
    by_arn.request_context.connection_id = Some("c2".into());
    by_arn.request_context.identity.user_arn = Some("arn:aws:sts::1:assumed-role/r/f".into());
    assert_eq!(handle_connect(&store, &config(), &by_arn, 1).await.status, 200);
    assert_eq!(store.registrations().len(), 2);
    // Other rooms stay open to anyone.
    let e = event("$connect", Some("c3"), json!({"room": "lively"}), None, false);
    assert_eq!(handle_connect(&store, &config(), &e, 1).await.status, 200);
}

#[tokio::test]
async fn missing_connection_id_is_400_everywhere() {
    let store = MemoryConnectionStore::with(&[("lobby", "c1")]);
    let poster = FakePoster::default();
    let expected = Reply::error(400, "requestContext.connectionId is missing");
    let e = event("$connect", None, json!({"room": "lobby"}), Some("{}"), false);
    assert_eq!(handle_connect(&store, &config(), &e, 1).await, expected);
    assert_eq!(handle_disconnect(&store, &e).await, expected);
    assert_eq!(handle_default(&store, &poster, &config(), &e).await, expected);
    assert_eq!(store.keys().len(), 1);
}

#[tokio::test]
async fn connect_store_failure_is_500() {
    let store = MemoryConnectionStore::new();
    store.set_failing(true);
    let e = event("$connect", Some("c1"), json!({"room": "lobby"}), None, false);
    assert_eq!(handle_connect(&store, &config(), &e, 1).await, Reply::error(500, "internal server error"));
}

// ---------------------------------------------------------------- disconnect

#[tokio::test]
async fn disconnect_removes_every_registration() {
    let store = MemoryConnectionStore::with(&[("a", "c1"), ("b", "c1"), ("a", "c2")]);
    let e = event("$disconnect", Some("c1"), Value::Null, None, false);
    let r = handle_disconnect(&store, &e).await;
    assert_eq!(r, Reply::json(200, json!({"disconnected": true, "removed": 2})));
    assert_eq!(store.keys(), vec![("a".to_string(), "c2".to_string())]);

    // Unknown connection: nothing to remove.
    let r = handle_disconnect(&store, &e).await;
    assert_eq!(r, Reply::json(200, json!({"disconnected": true, "removed": 0})));
}

#[tokio::test]
async fn disconnect_store_failure_is_500() {
    let store = MemoryConnectionStore::with(&[("a", "c1")]);
    store.set_failing(true);
    let e = event("$disconnect", Some("c1"), Value::Null, None, false);
    assert_eq!(handle_disconnect(&store, &e).await.status, 500);
}

// ---------------------------------------------------------------- default

#[tokio::test]
async fn default_fans_out_to_the_senders_room() {
    let store =
        MemoryConnectionStore::with(&[("lobby", "c1"), ("lobby", "c2"), ("lobby", "c3"), ("other", "c9")]);
    let poster = FakePoster::default();
    let r = handle_default(&store, &poster, &config(), &message_event("c1", r#"{"message": "hi"}"#)).await;
    assert_eq!(r, Reply::json(200, json!({"delivered": 3, "removed": 0})));
    let posts = poster.posts();
    assert_eq!(poster.targets(), vec!["c1", "c2", "c3"]);
    for (endpoint, _, payload) in posts {
        assert_eq!(endpoint, ENDPOINT);
        assert_eq!(payload, json!({"room": "lobby", "from": "c1", "message": "hi"}));
    }
}

#[tokio::test]
async fn who_answers_the_sender_only_with_its_rooms_members() {
    let store = MemoryConnectionStore::with(&[("lobby", "c2"), ("lobby", "c1"), ("other", "c9")]);
    let poster = FakePoster::default();
    let r = handle_default(&store, &poster, &config(), &message_event("c1", r#"{"action": "who"}"#)).await;
    assert_eq!(r, Reply::json(200, json!({"members": 2})));
    assert_eq!(
        poster.posts(),
        vec![(
            ENDPOINT.to_string(),
            "c1".to_string(),
            json!({"room": "lobby", "members": ["c1", "c2"], "you": "c1"})
        )]
    );
    let lonely =
        handle_default(&store, &poster, &config(), &message_event("c7", r#"{"action": "who"}"#)).await;
    assert_eq!(lonely.status, 404);
}

#[tokio::test]
async fn default_removes_gone_connections_and_skips_failures() {
    let store = MemoryConnectionStore::with(&[
        ("lobby", "c1"),
        ("lobby", "gone1"),
        ("lobby", "gone2"),
        ("lobby", "flaky"),
    ]);
    let poster = FakePoster::with(&[
        ("gone1", PostOutcome::Gone),
        ("gone2", PostOutcome::Gone),
        ("flaky", PostOutcome::Failed("throttled".into())),
    ]);
    let r =
        handle_default(&store, &poster, &config(), &message_event("c1", r#"{"message": {"n": 1}}"#)).await;
    assert_eq!(r, Reply::json(200, json!({"delivered": 1, "removed": 2})));
    assert_eq!(
        store.keys(),
        vec![("lobby".to_string(), "c1".to_string()), ("lobby".to_string(), "flaky".to_string())]
    );
}

#[tokio::test]
async fn default_message_falls_back_to_the_whole_body() {
    assert_eq!(logic::default_message(json!({"message": 5, "x": 1})), json!(5));
    assert_eq!(logic::default_message(json!({"text": "t"})), json!({"text": "t"}));
    assert_eq!(logic::default_message(json!([1, 2])), json!([1, 2]));
    assert_eq!(logic::default_message(json!({"message": null})), Value::Null);

    let store = MemoryConnectionStore::with(&[("lobby", "c1")]);
    let poster = FakePoster::default();
    handle_default(&store, &poster, &config(), &message_event("c1", r#""plain""#)).await;
    assert_eq!(poster.posts()[0].2["message"], json!("plain"));
}

#[tokio::test]
async fn default_accepts_base64_bodies() {
    let store = MemoryConnectionStore::with(&[("lobby", "c1")]);
    let poster = FakePoster::default();
    // {"message":"hi"}
    let e = event("$default", Some("c1"), Value::Null, Some("eyJtZXNzYWdlIjoiaGkifQ=="), true);
    assert_eq!(handle_default(&store, &poster, &config(), &e).await.status, 200);
    assert_eq!(poster.posts()[0].2["message"], json!("hi"));
}

#[tokio::test]
async fn default_bad_bodies_are_400() {
    let store = MemoryConnectionStore::with(&[("lobby", "c1")]);
    let poster = FakePoster::default();
    let cases = [
        (event("$default", Some("c1"), Value::Null, None, false), "request body is empty; expected JSON"),
        (message_event("c1", "not json"), "request body is not valid JSON"),
        (event("$default", Some("c1"), Value::Null, Some("%%%"), true), "request body is not valid base64"),
    ];
    for (e, msg) in cases {
        assert_eq!(handle_default(&store, &poster, &config(), &e).await, Reply::error(400, msg));
    }
    assert!(poster.posts().is_empty());
}

#[tokio::test]
async fn default_from_a_connection_without_room_is_404() {
    let store = MemoryConnectionStore::with(&[("lobby", "c2")]);
    let poster = FakePoster::default();
    let r = handle_default(&store, &poster, &config(), &message_event("c1", r#"{"message": "hi"}"#)).await;
    assert_eq!(r, Reply::error(404, "connection is not in a room; reconnect with ?room=<room>"));
    assert!(poster.posts().is_empty());
}

#[tokio::test]
async fn default_uses_the_endpoint_override() {
    let store = MemoryConnectionStore::with(&[("lobby", "c1")]);
    let poster = FakePoster::default();
    let cfg =
        WsConfig::from_lookup(&[("TABLE_NAME", "t"), ("MANAGEMENT_API_ENDPOINT", "https://ws.example.test")])
            .unwrap();
    handle_default(&store, &poster, &cfg, &message_event("c1", r#"{"message": 1}"#)).await;
    assert_eq!(poster.posts()[0].0, "https://ws.example.test");
}

#[tokio::test]
async fn default_store_failure_is_500() {
    let store = MemoryConnectionStore::with(&[("lobby", "c1")]);
    store.set_failing(true);
    let poster = FakePoster::default();
    let r = handle_default(&store, &poster, &config(), &message_event("c1", r#"{"message": 1}"#)).await;
    assert_eq!(r, Reply::error(500, "internal server error"));
}

// ---------------------------------------------------------------- fan-out

#[tokio::test]
async fn fanout_of_an_empty_room() {
    let store = MemoryConnectionStore::new();
    let poster = FakePoster::default();
    let c = logic::fanout(&store, &poster, ENDPOINT, "empty", b"{}").await.unwrap();
    assert_eq!(c, Fanout::default());
}

#[tokio::test]
async fn fanout_of_many_connections() {
    let rows: Vec<(String, String)> = (0..50).map(|i| ("big".to_string(), format!("c{i:02}"))).collect();
    let refs: Vec<(&str, &str)> = rows.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
    let store = MemoryConnectionStore::with(&refs);
    let poster = FakePoster::with(&[("c07", PostOutcome::Gone)]);
    let c = logic::fanout(&store, &poster, ENDPOINT, "big", b"{}").await.unwrap();
    assert_eq!(c, Fanout { delivered: 49, removed: 1, failed: 0 });
    assert_eq!(store.keys().len(), 49);
}

// ---------------------------------------------------------------- broadcast

#[test]
fn broadcast_request_parsing() {
    assert_eq!(
        logic::parse_broadcast(json!({"room": " news ", "message": {"a": 1}})),
        Ok(BroadcastRequest { room: "news".into(), message: json!({"a": 1}) })
    );
    let err = |v: Value| logic::parse_broadcast(v).unwrap_err();
    assert_eq!(err(json!({"message": 1})), Reply::error(400, "missing \"room\""));
    assert_eq!(err(json!({"room": "", "message": 1})), Reply::error(400, "missing \"room\""));
    assert_eq!(err(json!({"room": 7, "message": 1})), Reply::error(400, "\"room\" must be a string"));
    assert_eq!(err(json!({"room": "news"})), Reply::error(400, "missing \"message\""));
    assert_eq!(err(json!("hi")).status, 400);
}

#[tokio::test]
async fn broadcast_from_a_websocket_route_reaches_any_room() {
    let store = MemoryConnectionStore::with(&[("news", "n1"), ("news", "n2"), ("lobby", "admin")]);
    let poster = FakePoster::with(&[("n2", PostOutcome::Gone)]);
    let e = event(
        "broadcast",
        Some("admin"),
        Value::Null,
        Some(r#"{"room": "news", "message": "hello"}"#),
        false,
    );
    let r = handle_broadcast(&store, &poster, &config(), serde_json::to_value(&e).unwrap()).await;
    assert_eq!(r, Reply::json(200, json!({"delivered": 1, "removed": 1})));
    assert_eq!(poster.targets(), vec!["n1", "n2"]);
    assert_eq!(
        poster.posts()[0],
        (
            ENDPOINT.to_string(),
            "n1".to_string(),
            json!({"room": "news", "from": "admin", "message": "hello"})
        )
    );
    assert_eq!(store.keys().len(), 2);
}

#[tokio::test]
async fn broadcast_invoked_directly_needs_the_endpoint_override() {
    let store = MemoryConnectionStore::with(&[("news", "n1")]);
    let poster = FakePoster::default();
    let direct = json!({"room": "news", "message": {"alert": true}});

    let r = handle_broadcast(&store, &poster, &config(), direct.clone()).await;
    assert_eq!(r, Reply::error(500, "management API endpoint is unknown"));
    assert!(poster.posts().is_empty());

    let cfg = WsConfig::from_lookup(&[
        ("TABLE_NAME", "t"),
        ("MANAGEMENT_API_ENDPOINT", "https://ws.example.test/prod"),
    ])
    .unwrap();
    let r = handle_broadcast(&store, &poster, &cfg, direct).await;
    assert_eq!(r, Reply::json(200, json!({"delivered": 1, "removed": 0})));
    assert_eq!(
        poster.posts()[0],
        (
            "https://ws.example.test/prod".to_string(),
            "n1".to_string(),
            json!({"room": "news", "from": "server", "message": {"alert": true}})
        )
    );
}

#[tokio::test]
async fn broadcast_rejects_bad_requests() {
    let store = MemoryConnectionStore::with(&[("news", "n1")]);
    let poster = FakePoster::default();
    let cases = [
        (serde_json::to_value(message_event("c1", "nope")).unwrap(), 400),
        (serde_json::to_value(message_event("c1", r#"{"message": 1}"#)).unwrap(), 400),
        (json!({"message": 1}), 400),
        (json!({"requestContext": {"stage": "prod"}}), 400), // malformed API Gateway event
        (json!([1, 2, 3]), 400),
    ];
    for (e, status) in cases {
        assert_eq!(handle_broadcast(&store, &poster, &config(), e.clone()).await.status, status, "event {e}");
    }
    assert!(poster.posts().is_empty());
}

#[tokio::test]
async fn broadcast_to_an_empty_room_delivers_nothing() {
    let store = MemoryConnectionStore::new();
    let poster = FakePoster::default();
    let cfg = WsConfig {
        management_endpoint: Some("https://x.test/p".into()),
        table: ConnectionTableConfig::with_table("t"),
    };
    let r = handle_broadcast(&store, &poster, &cfg, json!({"room": "nobody", "message": 1})).await;
    assert_eq!(r, Reply::json(200, json!({"delivered": 0, "removed": 0})));
}

// ---------------------------------------------------------------- responses

#[tokio::test]
async fn replies_become_apigw_responses() {
    let store = MemoryConnectionStore::new();
    let e = event("$connect", Some("c1"), Value::Null, None, false);
    let resp = handle_connect(&store, &config(), &e, 1).await.into_apigw();
    let out = serde_json::to_value(&resp).unwrap();
    assert_eq!(out["statusCode"], json!(400));
    assert_eq!(out["body"], json!(r#"{"error":"missing required query string parameter 'room'"}"#));
    assert_eq!(out["headers"]["content-type"], json!("application/json"));
}
