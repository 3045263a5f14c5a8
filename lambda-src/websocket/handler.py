"""AWS Lambda handler for an API Gateway v2 WebSocket chat-room API.

Entry point: ``handler.lambda_handler(event, context)``.

Routes (``event["requestContext"]["routeKey"]``):

* ``$connect``    -- register the connection in the room given by a query
                     string parameter.
* ``$disconnect`` -- remove every registration of the connection.
* anything else   -- (``$default`` and custom routes) broadcast the message to
                     every connection of the sender's room.

DynamoDB layout (table ``TABLE_NAME``):

* primary key: partition key ``ROOM_KEY`` (room id, string) and sort key
  ``connection_id`` (string);
* other attributes: ``connected_at`` (epoch seconds) and the TTL attribute
  ``TTL_ATTRIBUTE`` (epoch seconds), so stale connections expire by themselves;
* a global secondary index ``CONNECTION_INDEX`` with hash key
  ``connection_id`` and KEYS_ONLY projection, used to find a connection's
  room (items read from it carry the table keys).

Environment variables (all read at call time):

==========================  ========================  ==========================
name                        default                   meaning
==========================  ========================  ==========================
``TABLE_NAME``              (required)                DynamoDB table name
``ROOM_KEY``                ``room_id``               partition key attribute
``CONNECTION_INDEX``        ``connection_id-index``   GSI on ``connection_id``
``TTL_ATTRIBUTE``           ``expires_at``            TTL attribute name
``CONNECTION_TTL_SECONDS``  ``7200``                  lifetime of a registration
``ROOM_QUERY_PARAM``        ``room``                  query parameter on connect
``MANAGEMENT_API_ENDPOINT`` (unset)                   overrides the endpoint
                                                      ``https://{domainName}/{stage}``
==========================  ========================  ==========================

Only the standard library and boto3 are needed; aws-lambda-powertools (from the
websocket-deps layer) gives JSON logs when present. Clients are created lazily and
cached per process (see :func:`reset_clients`). Message bodies are never
logged.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import time
from typing import Any, Dict, Iterator, List, Optional

import boto3
from botocore.exceptions import ClientError

try:
    # From the websocket-deps layer: structured JSON logs that carry the request ID.
    from aws_lambda_powertools import Logger

    logger = Logger(service="websocket", level=os.environ.get("LOG_LEVEL", "INFO").upper())
except ImportError:  # without the layer (unit tests, a bare package): standard logging
    logger = logging.getLogger(__name__)
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

DEFAULT_ROOM_KEY = "room_id"
DEFAULT_CONNECTION_INDEX = "connection_id-index"
DEFAULT_TTL_ATTRIBUTE = "expires_at"
DEFAULT_CONNECTION_TTL_SECONDS = 7200
DEFAULT_ROOM_QUERY_PARAM = "room"
# Rooms of the live relay (live-<function name>): only SigV4-signed connections join them, so a
# client of a public API (same handler, same table) cannot listen to a function's invocations.
LIVE_ROOM_PREFIX = "live-"

CONNECTION_ID_ATTRIBUTE = "connection_id"
CONNECTED_AT_ATTRIBUTE = "connected_at"


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


def _table_name() -> str:
    name = os.environ.get("TABLE_NAME")
    if not name:
        raise RuntimeError("environment variable TABLE_NAME is not set")
    return name


def _room_key() -> str:
    return os.environ.get("ROOM_KEY") or DEFAULT_ROOM_KEY


def _connection_index() -> str:
    return os.environ.get("CONNECTION_INDEX") or DEFAULT_CONNECTION_INDEX


def _ttl_attribute() -> str:
    return os.environ.get("TTL_ATTRIBUTE") or DEFAULT_TTL_ATTRIBUTE


def _connection_ttl_seconds() -> int:
    raw = os.environ.get("CONNECTION_TTL_SECONDS")
    return int(raw) if raw else DEFAULT_CONNECTION_TTL_SECONDS


def _room_query_param() -> str:
    return os.environ.get("ROOM_QUERY_PARAM") or DEFAULT_ROOM_QUERY_PARAM


# --------------------------------------------------------------------------
# Clients (lazy, cached per process; tests call reset_clients())
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _dynamodb():
    """The low-level DynamoDB client, created on first use."""
    return boto3.client("dynamodb")


@functools.lru_cache(maxsize=8)
def _management_client(endpoint_url: str):
    """An ``apigatewaymanagementapi`` client for one endpoint, cached."""
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url)


# The original cached factories, kept so reset_clients() still works while a
# test has monkeypatched a factory with a stub.
_CACHED_FACTORIES = (_dynamodb, _management_client)


def reset_clients() -> None:
    """Forget the cached clients (used by tests between mocks)."""
    for factory in _CACHED_FACTORIES:
        factory.cache_clear()


def _management_endpoint(request_context: Dict[str, Any]) -> str:
    override = os.environ.get("MANAGEMENT_API_ENDPOINT")
    if override:
        return override
    return "https://{}/{}".format(
        request_context["domainName"], request_context["stage"]
    )


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _response(status_code: int, body: Any) -> Dict[str, Any]:
    return {"statusCode": status_code, "body": json.dumps(body)}


def _error(status_code: int, message: str) -> Dict[str, Any]:
    return _response(status_code, {"error": message})


def _query_all(**kwargs: Any) -> Iterator[Dict[str, Any]]:
    """Yield every item of a DynamoDB query, following LastEvaluatedKey."""
    client = _dynamodb()
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", []):
            yield item
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        kwargs["ExclusiveStartKey"] = last_key


def _registrations_of(connection_id: str) -> List[Dict[str, Any]]:
    """Items (table keys) of a connection, read from the connection GSI."""
    return list(
        _query_all(
            TableName=_table_name(),
            IndexName=_connection_index(),
            KeyConditionExpression="#c = :c",
            ExpressionAttributeNames={"#c": CONNECTION_ID_ATTRIBUTE},
            ExpressionAttributeValues={":c": {"S": connection_id}},
        )
    )


def _delete_registration(room: str, connection_id: str) -> None:
    _dynamodb().delete_item(
        TableName=_table_name(),
        Key={
            _room_key(): {"S": room},
            CONNECTION_ID_ATTRIBUTE: {"S": connection_id},
        },
    )


def _connections_in(room: str) -> Iterator[str]:
    for item in _query_all(
        TableName=_table_name(),
        KeyConditionExpression="#r = :r",
        ProjectionExpression="#c",
        ExpressionAttributeNames={"#r": _room_key(), "#c": CONNECTION_ID_ATTRIBUTE},
        ExpressionAttributeValues={":r": {"S": room}},
    ):
        yield item[CONNECTION_ID_ATTRIBUTE]["S"]


def _is_gone(error: ClientError) -> bool:
    # The client's exceptions.GoneException is a ClientError subclass whose
    # error code is "GoneException", so this covers both forms.
    return error.response.get("Error", {}).get("Code") == "GoneException"


def _parse_body(event: Dict[str, Any]) -> Any:
    """The JSON value of the event body; raises ValueError when invalid."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise ValueError("request body is empty; expected JSON")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise ValueError("request body is not valid base64") from exc
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("request body is not valid UTF-8") from exc
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError("request body is not valid JSON") from exc


# --------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------


def _is_signed(event: Dict[str, Any]) -> bool:
    """Whether $connect was signed (AWS_IAM authorization): API Gateway then names the signer."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return bool(identity.get("accessKey") or identity.get("userArn"))


def _on_connect(event: Dict[str, Any], connection_id: str) -> Dict[str, Any]:
    param = _room_query_param()
    params = event.get("queryStringParameters") or {}
    room = params.get(param)
    room = room.strip() if isinstance(room, str) else ""
    if not room:
        return _error(400, "missing required query string parameter '{}'".format(param))
    if room.startswith(LIVE_ROOM_PREFIX) and not _is_signed(event):
        return _error(
            403,
            "rooms named {}* belong to the live relay; connect to the relay's API "
            "with a SigV4-signed request".format(LIVE_ROOM_PREFIX),
        )

    now = int(time.time())
    _dynamodb().put_item(
        TableName=_table_name(),
        Item={
            _room_key(): {"S": room},
            CONNECTION_ID_ATTRIBUTE: {"S": connection_id},
            CONNECTED_AT_ATTRIBUTE: {"N": str(now)},
            _ttl_attribute(): {"N": str(now + _connection_ttl_seconds())},
        },
    )
    return _response(200, {"connected": True})


def _on_disconnect(connection_id: str) -> Dict[str, Any]:
    room_key = _room_key()
    removed = 0
    for item in _registrations_of(connection_id):
        room_attr = item.get(room_key)
        if not room_attr:
            continue
        _delete_registration(room_attr["S"], connection_id)
        removed += 1
    return _response(200, {"disconnected": True, "removed": removed})


def _on_message(event: Dict[str, Any], connection_id: str) -> Dict[str, Any]:
    try:
        body = _parse_body(event)
    except ValueError as exc:
        return _error(400, str(exc))
    who = isinstance(body, dict) and body.get("action") == "who"
    message = body.get("message", body) if isinstance(body, dict) else body

    room_key = _room_key()
    rooms = [
        item[room_key]["S"]
        for item in _registrations_of(connection_id)
        if room_key in item
    ]
    if not rooms:
        return _error(404, "connection is not in a room; reconnect with ?{}=<room>".format(
            _room_query_param()))
    room = rooms[0]
    client = _management_client(_management_endpoint(event["requestContext"]))

    if who:
        # {"action": "who"}: the sender alone is told who is in its room.
        members = sorted(_connections_in(room))
        answer = {"room": room, "members": members, "you": connection_id}
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(answer).encode("utf-8"))
        except ClientError as exc:
            if _is_gone(exc):
                return _response(410, {"message": "the asking connection is gone"})
            return _error(502, "could not answer the connection")
        return _response(200, {"members": len(members)})

    data = json.dumps(
        {"room": room, "from": connection_id, "message": message}
    ).encode("utf-8")

    delivered = 0
    removed = 0
    for target in list(_connections_in(room)):
        try:
            client.post_to_connection(ConnectionId=target, Data=data)
        except ClientError as exc:
            if _is_gone(exc):
                logger.info("connection gone, removing connection_id=%s room=%s", target, room)
                _delete_registration(room, target)
                removed += 1
                continue
            code = exc.response.get("Error", {}).get("Code", "unknown")
            logger.warning(
                "post_to_connection failed connection_id=%s code=%s", target, code
            )
            continue
        delivered += 1
    return _response(200, {"delivered": delivered, "removed": removed})


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def lambda_handler(event: Dict[str, Any], context: Optional[Any] = None) -> Dict[str, Any]:
    request_context = event.get("requestContext") or {}
    route = request_context.get("routeKey", "$default")
    connection_id = request_context.get("connectionId", "")
    logger.info("websocket event route=%s connection_id=%s", route, connection_id)

    if not connection_id:
        return _error(400, "requestContext.connectionId is missing")
    if route == "$connect":
        return _on_connect(event, connection_id)
    if route == "$disconnect":
        return _on_disconnect(connection_id)
    return _on_message(event, connection_id)
