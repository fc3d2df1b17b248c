"""``/metrics``: aggregate counts for Prometheus, without a login.

Only counts leave here — never an account, event, id or body — so it can be scraped without a
session (``PUBLIC_ENDPOINTS``). Put it behind the network's own access rules all the same.
"""
from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from connectors import dead_letters

from .db import get_db

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    """A registry per scrape, filled from the database: the database is the source of truth,
    and several admin processes (gunicorn workers) then all answer the same."""
    registry = CollectorRegistry()
    gauge = Gauge("connectors_dead_letters", "Dead letters not yet replayed or dropped, by original queue",
                  ["queue"], registry=registry)
    total = Gauge("connectors_dead_letters_open", "Dead letters not yet replayed or dropped, in all (0 included: "
                  "a series to alert on even before the first one)", registry=registry)
    counts = dead_letters.count_open(get_db())
    for queue, count in counts.items():
        gauge.labels(queue=queue).set(count)
    total.set(sum(counts.values()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
