"""Unit tests for lambda-src/websocket/handler.py (moto, in-process)."""

import base64
import json
import logging
import time

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError


class FakeManagementApi:
    """Records post_to_connection calls; chosen ids raise GoneException."""

    def __init__(self, gone=(), failing=()):
        self.gone = set(gone)
        self.failing = set(failing)
        self.calls = []

    def post_to_connection(self, ConnectionId, Data):
        self.calls.append((ConnectionId, json.loads(Data)))
        if ConnectionId in self.gone:
            raise ClientError(
                {"Error": {"Code": "GoneException", "Message": "gone"},
                 "ResponseMetadata": {"HTTPStatusCode": 410}},
                "PostToConnection",
            )
        if ConnectionId in self.failing:
            raise ClientError(
                {"Error": {"Code": "LimitExceededException", "Message": "slow down"},
                 "ResponseMetadata": {"HTTPStatusCode": 429}},
                "PostToConnection",
            )
        return {}


@pytest.fixture
def fake_api(handler, monkeypatch):
    """Install a FakeManagementApi in place of the real client factory."""
    api = FakeManagementApi()
    api.endpoints = []

    def factory(endpoint_url):
        api.endpoints.append(endpoint_url)
        return api

    monkeypatch.setattr(handler, "_management_client", factory)
    return api


def event(route, connection_id, body=None, query=None, **extra):
    ev = {
        "requestContext": {
            "routeKey": route,
            "connectionId": connection_id,
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "stage": "prod",
            "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(
                route, "MESSAGE"
            ),
        },
        "isBase64Encoded": False,
    }
    if query is not None:
        ev["queryStringParameters"] = query
    if body is not None:
        ev["body"] = body
    ev.update(extra)
    return ev


def connect(handler, connection_id, room):
    resp = handler.lambda_handler(event("$connect", connection_id, query={"room": room}), None)
    assert resp["statusCode"] == 200, resp
    return resp


def items(table):
    return sorted(table.scan()["Items"], key=lambda i: (i["room_id"], i["connection_id"]))


def room_members(table, room):
    resp = table.query(KeyConditionExpression=Key("room_id").eq(room))
    return sorted(i["connection_id"] for i in resp["Items"])


# ------------------------------------------------------------------ $connect


def test_connect_stores_item_with_ttl(handler, table):
    before = int(time.time())
    connect(handler, "conn-1", "lobby")
    after = int(time.time())

    [item] = items(table)
    assert item["room_id"] == "lobby"
    assert item["connection_id"] == "conn-1"
    assert before <= int(item["connected_at"]) <= after
    assert int(item["expires_at"]) == int(item["connected_at"]) + 7200


def test_connect_honours_ttl_and_param_env(handler, table, monkeypatch):
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "60")
    monkeypatch.setenv("ROOM_QUERY_PARAM", "channel")
    resp = handler.lambda_handler(
        event("$connect", "conn-1", query={"channel": "ops"}), None
    )
    assert resp["statusCode"] == 200
    [item] = items(table)
    assert item["room_id"] == "ops"
    assert int(item["expires_at"]) - int(item["connected_at"]) == 60


@pytest.mark.parametrize("query", [None, {}, {"room": ""}, {"other": "x"}])
def test_connect_without_room_is_400_and_stores_nothing(handler, table, query):
    resp = handler.lambda_handler(event("$connect", "conn-1", query=query), None)
    assert resp["statusCode"] == 400
    assert "room" in json.loads(resp["body"])["error"]
    assert items(table) == []


def test_live_rooms_take_only_signed_connections(handler, table):
    resp = handler.lambda_handler(event("$connect", "conn-1", query={"room": "live-fn"}), None)
    assert resp["statusCode"] == 403
    assert "live relay" in json.loads(resp["body"])["error"]
    assert items(table) == []
    signed = event("$connect", "conn-1", query={"room": "live-fn"})
    signed["requestContext"]["identity"] = {"accessKey": "AKIAEXAMPLE", "sourceIp": "192.0.2.1"}
    assert handler.lambda_handler(signed, None)["statusCode"] == 200
    connect(handler, "conn-2", "lively")
    assert room_members(table, "live-fn") == ["conn-1"]


# --------------------------------------------------------------- $disconnect


def test_disconnect_removes_item(handler, table):
    connect(handler, "conn-1", "lobby")
    connect(handler, "conn-2", "lobby")

    resp = handler.lambda_handler(event("$disconnect", "conn-1"), None)

    assert resp["statusCode"] == 200
    assert room_members(table, "lobby") == ["conn-2"]


def test_disconnect_unknown_connection_is_200(handler, table):
    connect(handler, "conn-1", "lobby")
    resp = handler.lambda_handler(event("$disconnect", "nobody"), None)
    assert resp["statusCode"] == 200
    assert room_members(table, "lobby") == ["conn-1"]


# ------------------------------------------------------------------ $default


def test_default_broadcasts_to_room_only(handler, table, fake_api):
    connect(handler, "a1", "red")
    connect(handler, "a2", "red")
    connect(handler, "a3", "red")
    connect(handler, "b1", "blue")

    resp = handler.lambda_handler(
        event("$default", "a1", body=json.dumps({"message": "hello"})), None
    )

    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"delivered": 3, "removed": 0}
    assert sorted(cid for cid, _ in fake_api.calls) == ["a1", "a2", "a3"]
    for _, data in fake_api.calls:
        assert data == {"room": "red", "from": "a1", "message": "hello"}
    assert fake_api.endpoints == ["https://abc123.execute-api.us-east-1.amazonaws.com/prod"]


def test_who_answers_the_sender_only_with_its_rooms_members(handler, table, fake_api):
    connect(handler, "a2", "red")
    connect(handler, "a1", "red")
    connect(handler, "b1", "blue")

    resp = handler.lambda_handler(event("$default", "a1", body=json.dumps({"action": "who"})), None)

    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"members": 2}
    assert fake_api.calls == [("a1", {"room": "red", "members": ["a1", "a2"], "you": "a1"})]


def test_default_removes_gone_connection(handler, table, fake_api):
    connect(handler, "a1", "red")
    connect(handler, "a2", "red")
    connect(handler, "a3", "red")
    fake_api.gone.add("a2")

    resp = handler.lambda_handler(
        event("$default", "a1", body=json.dumps({"message": "hi"})), None
    )

    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"delivered": 2, "removed": 1}
    assert room_members(table, "red") == ["a1", "a3"]


def test_default_other_errors_do_not_stop_broadcast(handler, table, fake_api):
    connect(handler, "a1", "red")
    connect(handler, "a2", "red")
    fake_api.failing.add("a1")

    resp = handler.lambda_handler(
        event("$default", "a2", body=json.dumps({"message": "hi"})), None
    )

    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"delivered": 1, "removed": 0}
    assert room_members(table, "red") == ["a1", "a2"]


def test_default_whole_body_is_message_without_message_key(handler, table, fake_api):
    connect(handler, "a1", "red")
    handler.lambda_handler(event("sendmessage", "a1", body=json.dumps({"text": "x"})), None)
    [(_, data)] = fake_api.calls
    assert data["message"] == {"text": "x"}


def test_default_accepts_base64_body(handler, table, fake_api):
    connect(handler, "a1", "red")
    raw = base64.b64encode(json.dumps({"message": "b64"}).encode()).decode()
    resp = handler.lambda_handler(
        event("$default", "a1", body=raw, isBase64Encoded=True), None
    )
    assert resp["statusCode"] == 200
    assert fake_api.calls[0][1]["message"] == "b64"


def test_default_uses_management_endpoint_override(handler, table, fake_api, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_API_ENDPOINT", "http://localhost:4566")
    connect(handler, "a1", "red")
    handler.lambda_handler(event("$default", "a1", body='{"message": 1}'), None)
    assert fake_api.endpoints == ["http://localhost:4566"]


def test_default_many_connections(handler, table, fake_api):
    ids = ["c{:03d}".format(i) for i in range(40)]
    for cid in ids:
        connect(handler, cid, "big")
    resp = handler.lambda_handler(event("$default", "c000", body='{"message": "x"}'), None)
    assert json.loads(resp["body"]) == {"delivered": 40, "removed": 0}
    assert sorted(cid for cid, _ in fake_api.calls) == ids


@pytest.mark.parametrize("body", ["{not json", "", None])
def test_default_invalid_json_is_400(handler, table, fake_api, body):
    connect(handler, "a1", "red")
    resp = handler.lambda_handler(event("$default", "a1", body=body), None)
    assert resp["statusCode"] == 400
    assert "JSON" in json.loads(resp["body"])["error"]
    assert fake_api.calls == []


def test_default_sender_not_in_room_is_404(handler, table, fake_api):
    connect(handler, "a1", "red")
    resp = handler.lambda_handler(event("$default", "stranger", body='{"message": "x"}'), None)
    assert resp["statusCode"] == 404
    assert "not in a room" in json.loads(resp["body"])["error"]
    assert fake_api.calls == []


# ------------------------------------------------------------- misc / infra


def test_logging_has_route_and_connection_but_not_body(handler, table, fake_api, caplog):
    connect(handler, "a1", "red")
    with caplog.at_level(logging.INFO):
        handler.lambda_handler(
            event("$default", "a1", body=json.dumps({"message": "top-secret"})), None
        )
    text = caplog.text
    assert "route=$default" in text
    assert "connection_id=a1" in text
    assert "top-secret" not in text


def test_clients_are_cached_and_resettable(handler):
    first = handler._dynamodb()
    assert handler._dynamodb() is first
    mgmt = handler._management_client("https://example.invalid/prod")
    assert mgmt.meta.endpoint_url == "https://example.invalid/prod"
    assert handler._management_client("https://example.invalid/prod") is mgmt
    handler.reset_clients()
    assert handler._dynamodb() is not first
