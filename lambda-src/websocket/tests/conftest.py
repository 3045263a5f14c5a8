"""Fixtures for the WebSocket handler tests: fake AWS env + moto table."""

import importlib.util
import pathlib
import sys

import boto3
import pytest
from moto import mock_aws

HANDLER_PATH = pathlib.Path(__file__).resolve().parent.parent / "handler.py"
MODULE_NAME = "websocket_handler"

TABLE_NAME = "ws-connections-test"
REGION = "us-east-1"


def _load_handler():
    # Loaded under a unique module name so it cannot clash with other
    # lambdas' handler.py files collected in the same pytest run.
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, HANDLER_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and region, so nothing can reach real AWS."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
        "MANAGEMENT_API_ENDPOINT",
        "ROOM_KEY",
        "CONNECTION_INDEX",
        "TTL_ATTRIBUTE",
        "CONNECTION_TTL_SECONDS",
        "ROOM_QUERY_PARAM",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)


@pytest.fixture
def handler(aws_env):
    """The handler module with fresh (uncached) clients."""
    module = _load_handler()
    module.reset_clients()
    yield module
    module.reset_clients()


@pytest.fixture
def table(handler):
    """A moto DynamoDB table shaped like the real one (keys + GSI)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE_NAME,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "room_id", "AttributeType": "S"},
                {"AttributeName": "connection_id", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "room_id", "KeyType": "HASH"},
                {"AttributeName": "connection_id", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "connection_id-index",
                    "KeySchema": [
                        {"AttributeName": "connection_id", "KeyType": "HASH"}
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        yield boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME)
