"""Prometheus metrics (`GET /metrics`).

HTTP traffic is counted in each process by the observing middleware; under
`rightsdesk serve --workers N` every worker writes its counts to PROMETHEUS_MULTIPROC_DIR (set
by `serve` before the workers start) and a scrape of any worker sums them all. The state of the
service (requests by status and type, overdue, the outboxes) is read from the database at
scrape time, so every worker answers the same. Labels carry methods, route templates, statuses
and types: never an id, a reference or personal data.
"""

from __future__ import annotations

import os
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from app.audit.review import unreviewed_months
from app.core.context import AppContext
from app.models import OutboxMessage, Request, ScrubPending, WebhookDelivery
from app.workflow.metrics import forecast_now

HTTP_REQUESTS = Counter(
    "rightsdesk_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "rightsdesk_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# The labelled children, looked up once per (method, route, status): `labels()` takes a lock
# and builds a key on every call, and the set of route templates is small and fixed.
_HTTP_CHILDREN: dict[tuple[str, str, int], tuple] = {}


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered HTTP request and its duration."""
    children = _HTTP_CHILDREN.get((method, route, status))
    if children is None:
        children = _HTTP_CHILDREN[(method, route, status)] = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_LATENCY.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)


_r, _o, _w = Request.__table__, OutboxMessage.__table__, WebhookDelivery.__table__
_s = ScrubPending.__table__


class StateCollector(Collector):
    """The service's state, from the database, at each scrape."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self):
        now: datetime = self.ctx.clock.now()
        with self.ctx.db.engine.connect() as conn:
            by_status = conn.execute(
                select(_r.c.status, _r.c.type, func.count()).group_by(_r.c.status, _r.c.type)
            ).all()
            overdue = conn.execute(
                select(func.count()).where(_r.c.closed_at.is_(None), _r.c.due_at < now)
            ).scalar_one()
            outbox = conn.execute(
                select(_o.c.state, func.count())
                .where(_o.c.state.in_(("pending", "failed")))
                .group_by(_o.c.state)
            ).all()
            oldest = conn.execute(
                select(func.min(_o.c.created_at)).where(_o.c.state == "pending")
            ).scalar_one()
            unreviewed = unreviewed_months(conn, now)
            hooks = conn.execute(
                select(_w.c.status, func.count())
                .where(_w.c.status.in_(("pending", "failed")))
                .group_by(_w.c.status)
            ).all()
            unrewritten = conn.execute(
                select(func.count(), func.coalesce(func.sum(_s.c.destructions), 0))
            ).one()
            ahead = forecast_now(conn, now)
        requests = GaugeMetricFamily(
            "rightsdesk_requests", "Requests by status and type.", labels=["status", "type"]
        )
        for status, kind, n in by_status:
            requests.add_metric([status, kind], n)
        yield requests
        yield GaugeMetricFamily(
            "rightsdesk_requests_overdue", "Open requests past their deadline.", value=overdue
        )
        messages = GaugeMetricFamily(
            "rightsdesk_outbox_messages", "Notices waiting or given up.", labels=["state"]
        )
        counts = dict(outbox)
        for state in ("pending", "failed"):
            messages.add_metric([state], counts.get(state, 0))
        yield messages
        if oldest is not None and oldest.tzinfo is None:  # SQLite keeps no offset
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        yield GaugeMetricFamily(
            "rightsdesk_outbox_oldest_pending_age_seconds",
            "Age of the oldest notice not yet delivered (0 when none waits).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "rightsdesk_audit_months_unreviewed",
            "Past months of the access record not yet reviewed (PIPC standard: monthly).",
            value=unreviewed,
        )
        deliveries = GaugeMetricFamily(
            "rightsdesk_webhook_deliveries",
            "Webhook deliveries waiting or failed for good.",
            labels=["status"],
        )
        counts = dict(hooks)
        for status in ("pending", "failed"):
            deliveries.add_metric([status], counts.get(status, 0))
        yield deliveries
        yield GaugeMetricFamily(
            "rightsdesk_destructions_pending_rewrite",
            "Destruction batches whose freed bytes may still be in PostgreSQL's table files "
            "(until `rightsdesk scrub` rewrites the tables; always 0 on SQLite).",
            value=unrewritten[1],
        )
        # The staff metrics' forecast (GET /v1/staff/metrics `forecast`), by days from today
        # in Korea time (0 today … 13): a label that means the same thing every day.
        due = GaugeMetricFamily(
            "rightsdesk_forecast_due",
            "Open requests whose deadline falls on the Korea-time day `days_ahead` from today.",
            labels=["days_ahead"],
        )
        late = GaugeMetricFamily(
            "rightsdesk_forecast_overdue",
            "Of those, how many would be overdue that day if the open requests were answered "
            "in deadline order at the last 7 days' rate.",
            labels=["days_ahead"],
        )
        for day in ahead.days:
            due.add_metric([str(day.days_ahead)], day.due)
            late.add_metric([str(day.days_ahead)], day.overdue_at_rate)
        yield due
        yield late
        yield GaugeMetricFamily(
            "rightsdesk_closing_rate_per_working_day",
            "Requests answered in the 7 Korea-time days before today, per working day among "
            "them (the forecast's rate).",
            value=ahead.rate_per_working_day,
        )
        yield GaugeMetricFamily(
            "rightsdesk_tables_pending_rewrite",
            "Tables waiting for `rightsdesk scrub` (VACUUM FULL) after a destruction.",
            value=unrewritten[0],
        )


def render(ctx: AppContext) -> bytes:
    """The exposition text: HTTP traffic (summed over the workers) and the service's state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        traffic = CollectorRegistry()
        multiprocess.MultiProcessCollector(traffic)
    else:
        traffic = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(ctx))
    return generate_latest(traffic) + generate_latest(state)
