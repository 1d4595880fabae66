"""Run one claimed outbox row through its handler and record the outcome in the outbox (never in arq)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pydantic
import structlog

from gateway.db import Database
from gateway.db.outages import is_outage
from gateway.db.outbox import load, mark_dead, mark_delivered, schedule_retry
from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.db.uow import UnitOfWork
from gateway.errors import (
    AwaitingParty,
    ConfigError,
    Conflict,
    InputError,
    PartyError,
    PartyRejected,
    PartyUnavailable,
)
from gateway.jobs.registry import JobContext, JobRegistry
from gateway.jobs.retry import RetryPolicy
from gateway.logging import get_logger
from gateway.metrics import record_delivery

__all__ = ["DeliveryRunner", "Outcome", "Settlement", "Verdict"]

log = get_logger("gateway.jobs")


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    SKIPPED = "skipped"  # a stale job whose row was re-queued or settled meanwhile


@dataclass(frozen=True)
class Verdict:
    """What an attempt comes to: delivered, retry after `delay` seconds, or dead, with the error and status."""

    outcome: Outcome
    error: str = ""
    http_status: int | None = None
    delay: float | None = None
    # Not a failure: a normal wait for the party (AwaitingParty) or a race lost to another process that
    # changed the same case first (Conflict, the optimistic check); logged at info, never as an error.
    routine: bool = False


def _invalid_input(error: Exception) -> str | None:
    """The reason when a job's own input is invalid (a gateway InputError, or a model built from the case
    refusing its data), None for any other error. The input is read from the database, so no retry of the
    same row can change it: such a job is a dead letter at once, with its reason, not a retry loop."""
    if isinstance(error, InputError):
        reasons = [f"{r.field}: {r.reason_en}" for r in error.errors]
        return "; ".join([error.message_en, *reasons])
    if isinstance(error, pydantic.ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or error.title}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
    return None


def _http_status(exc: PartyError) -> int | None:
    return int(exc.party_code) if exc.party_code.isdigit() and len(exc.party_code) == 3 else None


class Settlement:
    """One attempt's outbox row, for a handler that records the party's answer in a transaction of its own:
    `write(uow, error)` settles the row in that transaction — delivered when `error` is None, else exactly as
    the runner would settle it for that error (retry on the schedule, or dead) — so the answer and the row's
    outcome commit together. Once that transaction has committed, the runner only reports the outcome."""

    def __init__(self, runner: DeliveryRunner, row: OutboxRow) -> None:
        self._runner = runner
        self.row = row
        self.verdict: Verdict | None = None  # set when the transaction that settled the row has committed

    async def write(self, uow: UnitOfWork, error: PartyError | None = None) -> Verdict:
        verdict = self._runner.verdict(self.row, error)
        await self._runner.write(uow, self.row, verdict)

        def committed() -> None:
            self.verdict = verdict

        uow.after_commit(committed)
        return verdict


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
        row = await load(self.db, row_id)
        if row is None:
            log.warning("delivery row not found", delivery_id=row_id)
            return Outcome.SKIPPED
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
            verdict = Verdict(Outcome.DEAD, exc.message_en)
            await self.write(self.db, row, verdict)
            return self.report(row, verdict)
        settlement = Settlement(self, row)
        error: Exception | None = None
        try:
            async with asyncio.timeout(self.job_timeout):
                await handler(self.context.for_attempt(row.attempts, settlement), row)
        except Exception as exc:
            error = exc
            expected = (
                isinstance(exc, PartyError | TimeoutError | ConfigError | Conflict)
                or _invalid_input(exc)
                or is_outage(exc)
            )
            if settlement.verdict is None and not expected:
                log.exception("delivery handler failed")
        if settlement.verdict is not None:
            # The handler settled the row in the transaction that recorded the party's answer.
            return self.report(row, settlement.verdict)
        verdict = self.verdict(row, error)
        await self.write(self.db, row, verdict)
        return self.report(row, verdict)

    def verdict(self, row: OutboxRow, error: Exception | None) -> Verdict:
        """What the attempt comes to when the handler returned (`error` None) or raised `error`."""
        if error is None:
            return Verdict(Outcome.DELIVERED)
        if isinstance(error, PartyRejected):
            return Verdict(Outcome.DEAD, f"rejected: {error.message_en}", _http_status(error))
        if isinstance(error, PartyError):
            status = _http_status(error)
            if status == 410:  # Gone: the endpoint is retired; retrying cannot help
                return Verdict(Outcome.DEAD, f"gone: {error.message_en}", status)
            retry_after = error.retry_after if isinstance(error, PartyUnavailable) else None
            verdict = self._retry(row, error.message_en, status, retry_after)
            if isinstance(error, AwaitingParty) and verdict.outcome is Outcome.RETRY:
                return replace(verdict, routine=True)
            return verdict
        if isinstance(error, Conflict):
            verdict = self._retry(row, f"conflict: {error.message_en}", None, None)
            return replace(verdict, routine=verdict.outcome is Outcome.RETRY)
        if isinstance(error, ConfigError):
            # No adapter for the party (or its settings are wrong): no retry can succeed until an operator
            # fixes the configuration, so it is a dead letter now, named, and replayed after the fix.
            return Verdict(Outcome.DEAD, f"not configured: {error.message_en}")
        if (invalid := _invalid_input(error)) is not None:
            return Verdict(Outcome.DEAD, f"invalid input: {invalid}")
        if isinstance(error, TimeoutError):
            return self._retry(row, f"no answer within {self.job_timeout:g} s", None, None)
        return self._retry(row, f"{type(error).__name__}: {error}", None, None)

    def _retry(self, row: OutboxRow, error: str, status: int | None, retry_after: float | None) -> Verdict:
        delay = self.policy.next_delay(row.attempts, retry_after)
        if delay is None:
            return Verdict(Outcome.DEAD, f"gave up after {row.attempts} attempts: {error}", status)
        return Verdict(Outcome.RETRY, error, status, delay)

    async def write(self, target: Database | UnitOfWork, row: OutboxRow, verdict: Verdict) -> None:
        """Settle the row as `verdict` says, alone or in the caller's unit of work."""
        if verdict.outcome is Outcome.DELIVERED:
            await mark_delivered(target, row, http_status=verdict.http_status, now=self._clock())
        elif verdict.outcome is Outcome.RETRY:
            assert verdict.delay is not None
            delay = timedelta(seconds=verdict.delay)
            await schedule_retry(
                target, row, verdict.error, delay, http_status=verdict.http_status, now=self._clock()
            )
        else:
            await mark_dead(target, row, verdict.error, http_status=verdict.http_status)

    def report(self, row: OutboxRow, verdict: Verdict) -> Outcome:
        """The metric and the log line of a settled attempt."""
        record_delivery(row.job, verdict.outcome)
        if verdict.outcome is Outcome.DELIVERED:
            log.info("delivered", attempt=row.attempts)
        elif verdict.outcome is Outcome.RETRY and verdict.routine:
            assert verdict.delay is not None
            log.info(
                "delivery looked at again later", reason=verdict.error, after_seconds=round(verdict.delay, 1)
            )
        elif verdict.outcome is Outcome.RETRY:
            assert verdict.delay is not None
            log.warning(
                "delivery will be retried",
                attempt=row.attempts,
                delay_seconds=round(verdict.delay, 1),
                error=verdict.error,
            )
        else:
            # `alert` marks the line for log-based alerting; the dead-letter counter is the metric to page on.
            log.error(
                "delivery dead-lettered",
                alert=True,
                attempt=row.attempts,
                error=verdict.error,
                target=row.target,
            )
        return verdict.outcome
