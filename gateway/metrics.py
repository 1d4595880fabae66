"""Prometheus metrics: HTTP requests, case stage durations, outbox backlog, deliveries by outcome.

Several processes (`gateway serve --workers N`, and `gateway worker` alongside): prometheus-client's
multiprocess mode. With PROMETHEUS_MULTIPROC_DIR set (to an empty directory, before start-up), every process
writes its values there and `/metrics` of any process shows the sum over all of them. `serve --workers N`
makes such a directory for its processes when the variable is not set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select

from gateway.db import Database
from gateway.db.tables.infra import OutboxRow, OutboxStatus

__all__ = [
    "CONTENT_TYPE_LATEST",
    "observe_case_stage",
    "observe_time_to_certificate",
    "record_delivery",
    "record_request",
    "refresh_outbox_gauges",
    "render",
]

# Metric objects are process-wide (prometheus-client's registry); creating them performs no I/O.
HTTP_REQUESTS = Counter(
    "gateway_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
AUTH_FAILURES = Counter("gateway_auth_failures_total", "Refused signed requests by reason code", ["code"])
CASE_STAGE = Histogram(
    "gateway_case_stage_duration_seconds",
    "Time a case spent in a stage (受理→登簿→发证…)",
    ["kind", "stage"],
    buckets=(1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400),
)
TIME_TO_CERTIFICATE = Histogram(
    "gateway_case_time_to_certificate_seconds",
    "受理→出证: from a case's receipt to its certificates, by kind (targets: 1 hour, 1 working day)",
    ["kind"],
    buckets=(60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400),
)
DELIVERIES = Counter(
    "gateway_deliveries_total", "Delivery attempts by job and outcome", ["job", "outcome"]
)  # outcome: delivered, retry, dead
DEAD_LETTERS = Counter(
    "gateway_delivery_dead_letters_total", "Deliveries given up (alert on increase)", ["job"]
)
# Read from the database at each scrape: with several processes, the most recent reading is the answer.
OUTBOX_BACKLOG = Gauge(
    "gateway_outbox_backlog",
    "Outbox rows not yet delivered, by status",
    ["status"],
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_PENDING = Gauge(
    "gateway_outbox_oldest_pending_age_seconds",
    "Age of the oldest undelivered outbox row (0 when none)",
    multiprocess_mode="mostrecent",
)


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_LATENCY.labels(route, method).observe(seconds)


def observe_case_stage(kind: str, stage: str, seconds: float) -> None:
    """Services call this when a case leaves a stage, e.g. `observe_case_stage("transfer", "review", 812.0)`."""
    CASE_STAGE.labels(kind, stage).observe(seconds)


def observe_time_to_certificate(kind: str, seconds: float) -> None:
    TIME_TO_CERTIFICATE.labels(kind).observe(seconds)


def record_delivery(job: str, outcome: str) -> None:
    DELIVERIES.labels(job, outcome).inc()
    if outcome == "dead":
        DEAD_LETTERS.labels(job).inc()


async def refresh_outbox_gauges(db: Database, now: datetime | None = None) -> None:
    """Read the backlog from the outbox (the source of truth) just before a scrape."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    waiting = (OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value, OutboxStatus.DEAD.value)
    async with db.session() as session:
        conn = await session.connection()
        counts: dict[str, int] = dict(
            (
                await conn.execute(
                    select(table.c.status, func.count())
                    .where(table.c.status.in_(waiting))
                    .group_by(table.c.status)
                )
            ).all()
        )
        oldest = (
            await conn.execute(
                select(func.min(table.c.created_at)).where(
                    table.c.status.in_((OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value))
                )
            )
        ).scalar()
    for status in waiting:
        OUTBOX_BACKLOG.labels(status).set(counts.get(status, 0))
    if isinstance(oldest, str):  # SQLite hands back aggregate timestamps as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - oldest).total_seconds() if oldest else 0.0
    OUTBOX_OLDEST_PENDING.set(max(age, 0.0))


def render() -> bytes:
    """The exposition text: this process's metrics, or all processes' in multiprocess mode."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def process_exited(pid: int) -> None:
    """A process of a multiprocess set ended: its live gauges stop counting (its counters stay summed)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
