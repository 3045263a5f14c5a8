"""A scheduled report: counts and totals of the orders in the event, by status.

The event is what a schedule or a caller sends: {"orders": [{"id": ..., "status": ..., "total": ...}]}.
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


def lambda_handler(event, context):
    orders = _ORDERS.search(event or {}) or []
    if not isinstance(orders, list):
        return {"statusCode": 400, "body": json.dumps({"error": "orders must be a list"})}
    report = summarise(orders)
    logger.info("report of %d orders: %s", len(orders), json.dumps(report))
    return {"statusCode": 200, "body": json.dumps({"orders": len(orders), "byStatus": report})}
