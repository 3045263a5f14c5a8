"""A scheduled report: counts and totals of the orders in the event, by status.

The event is what a schedule or a caller sends: {"orders": [{"id": ..., "status": ..., "total": ...}]},
or a batch from its SQS queue, each message one order (JSON): the batch is reported, and a message
that is not an order is returned in batchItemFailures (it comes back, and after the queue's
maxReceiveCount goes to the dead-letter queue) while the others are deleted.
jmespath (pinned in requirements.txt) selects the fields, as a report over a larger document would.
"""

import json
import logging
import os

import jmespath

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

_ORDERS = jmespath.compile("orders")
_TOTALS = jmespath.compile("[].total")


def summarise(orders):
    """Per status: how many orders, and the sum of their totals (cents)."""
    statuses = sorted({o.get("status", "unknown") for o in orders})
    report = {}
    for status in statuses:
        group = [o for o in orders if o.get("status", "unknown") == status]
        totals = _TOTALS.search(group) or []
        report[status] = {"count": len(group), "total": sum(totals)}
    return report


def parse_order(body):
    """An order from a queue message's body, or None when it is not one."""
    try:
        order = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(order, dict) or not isinstance(order.get("id"), str) or not isinstance(order.get("total", 0), int):
        return None
    return order


def sqs_batch(records):
    orders, failures = [], []
    for record in records:
        order = parse_order(record.get("body"))
        if order is None:
            logger.warning("message %s is not an order; it goes back to the queue", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
        else:
            orders.append(order)
    logger.info("queue batch: %d orders: %s", len(orders), json.dumps(summarise(orders)))
    return {"batchItemFailures": failures}


def lambda_handler(event, context):
    records = (event or {}).get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:sqs":
        return sqs_batch(records)
    orders = _ORDERS.search(event or {}) or []
    if not isinstance(orders, list):
        return {"statusCode": 400, "body": json.dumps({"error": "orders must be a list"})}
    report = summarise(orders)
    logger.info("report of %d orders: %s", len(orders), json.dumps(report))
    return {"statusCode": 200, "body": json.dumps({"orders": len(orders), "byStatus": report})}
