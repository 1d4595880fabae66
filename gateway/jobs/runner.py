"""Run one claimed outbox row through its handler and record the outcome in the outbox (never in arq)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import select

from gateway.db import Database
from gateway.db.outbox import mark_dead, mark_delivered, schedule_retry
from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.errors import ConfigError, PartyError, PartyRejected, PartyUnavailable
from gateway.jobs.registry import JobContext, JobRegistry
from gateway.jobs.retry import RetryPolicy
from gateway.logging import get_logger
from gateway.metrics import record_delivery

__all__ = ["DeliveryRunner", "Outcome"]

log = get_logger("gateway.jobs")
_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    SKIPPED = "skipped"  # a stale job whose row was re-queued or settled meanwhile


def _http_status(exc: PartyError) -> int | None:
    return int(exc.party_code) if exc.party_code.isdigit() and len(exc.party_code) == 3 else None


class DeliveryRunner:
    """Executes deliveries for both the in-process dispatcher and the arq worker."""

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        context: JobContext,
        *,
        policy: RetryPolicy | None = None,
        job_timeout: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.context = context
        self.policy = policy or RetryPolicy()
        self.job_timeout = job_timeout
        self._clock = clock or (lambda: datetime.now(UTC))

    async def run_claimed(self, row_id: str, attempt: int, claim: str) -> Outcome:
        """The arq entry point: run the row only if this job still holds its claim (same attempt, claimer)."""
        async with self.db.session() as session:
            conn = await session.connection()
            found = (await conn.execute(select(_OUTBOX).where(_OUTBOX.c.id == row_id))).one_or_none()
        if found is None:
            log.warning("delivery row not found", delivery_id=row_id)
            return Outcome.SKIPPED
        row = OutboxRow(**found._mapping)
        if row.status != OutboxStatus.IN_FLIGHT.value or row.attempts != attempt or row.claimed_by != claim:
            # Re-queued by the sweeper (and perhaps already delivered by a later attempt): not ours to run.
            log.info("stale delivery job skipped", delivery_id=row_id, attempt=attempt, status=row.status)
            return Outcome.SKIPPED
        return await self.run(row)

    async def run(self, row: OutboxRow) -> Outcome:
        """Run a row this process holds the claim of, and settle it: delivered, retry later, or dead."""
        structlog.contextvars.bind_contextvars(delivery_id=row.id, job=row.job, case_id=row.case_id)
        try:
            return await self._run(row)
        finally:
            structlog.contextvars.unbind_contextvars("delivery_id", "job", "case_id")

    async def _run(self, row: OutboxRow) -> Outcome:
        try:
            handler = self.registry.handler(row.job)
        except ConfigError as exc:
            return await self._dead(row, exc.message_en, None)
        try:
            async with asyncio.timeout(self.job_timeout):
                await handler(self.context.for_attempt(row.attempts), row)
        except PartyRejected as exc:
            return await self._dead(row, f"rejected: {exc.message_en}", _http_status(exc))
        except PartyError as exc:
            status = _http_status(exc)
            if status == 410:  # Gone: the endpoint is retired; retrying cannot help
                return await self._dead(row, f"gone: {exc.message_en}", status)
            retry_after = exc.retry_after if isinstance(exc, PartyUnavailable) else None
            return await self._retry(row, exc.message_en, status, retry_after)
        except TimeoutError:
            return await self._retry(row, f"no answer within {self.job_timeout:g} s", None, None)
        except Exception as exc:
            log.exception("delivery handler failed")
            return await self._retry(row, f"{type(exc).__name__}: {exc}", None, None)
        await mark_delivered(self.db, row, now=self._clock())
        record_delivery(row.job, Outcome.DELIVERED)
        log.info("delivered", attempt=row.attempts)
        return Outcome.DELIVERED

    async def _retry(
        self, row: OutboxRow, error: str, status: int | None, retry_after: float | None
    ) -> Outcome:
        delay = self.policy.next_delay(row.attempts, retry_after)
        if delay is None:
            return await self._dead(row, f"gave up after {row.attempts} attempts: {error}", status)
        await schedule_retry(
            self.db, row, error, timedelta(seconds=delay), http_status=status, now=self._clock()
        )
        record_delivery(row.job, Outcome.RETRY)
        log.warning(
            "delivery will be retried", attempt=row.attempts, delay_seconds=round(delay, 1), error=error
        )
        return Outcome.RETRY

    async def _dead(self, row: OutboxRow, error: str, status: int | None) -> Outcome:
        await mark_dead(self.db, row, error, http_status=status)
        record_delivery(row.job, Outcome.DEAD)
        # `alert` marks the line for log-based alerting; the dead-letter counter is the metric to page on.
        log.error("delivery dead-lettered", alert=True, attempt=row.attempts, error=error, target=row.target)
        return Outcome.DEAD
