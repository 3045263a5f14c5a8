import json

import app


def test_summarises_orders_by_status():
    event = {"orders": [
        {"id": "a", "status": "paid", "total": 1200},
        {"id": "b", "status": "paid", "total": 300},
        {"id": "c", "status": "open", "total": 50},
    ]}
    result = app.lambda_handler(event, None)
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert body == {"orders": 3, "byStatus": {"open": {"count": 1, "total": 50}, "paid": {"count": 2, "total": 1500}}}


def test_no_orders_is_an_empty_report():
    assert json.loads(app.lambda_handler({}, None)["body"]) == {"orders": 0, "byStatus": {}}


def test_orders_must_be_a_list():
    assert app.lambda_handler({"orders": "x"}, None)["statusCode"] == 400


def sqs_event(*bodies):
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": b, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "attributes": {}, "messageAttributes": {}} for i, b in enumerate(bodies)]}


def test_a_queue_batch_reports_only_what_is_not_an_order():
    event = sqs_event(json.dumps({"id": "a", "status": "paid", "total": 5}), "not json", json.dumps({"poison": True}))
    assert app.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_a_clean_batch_has_no_failures():
    assert app.lambda_handler(sqs_event(json.dumps({"id": "a"})), None) == {"batchItemFailures": []}
