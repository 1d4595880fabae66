"""The sweeper: re-queue deliveries whose worker died or whose arq job vanished; retention of keys and rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from gateway.db import Database
from gateway.db.outbox import requeue_stale
from gateway.db.retention import archive_delivered_outbox
from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.logging import get_logger
from gateway.security.idempotency import IdempotencyStore
from gateway.security.nonces import DatabaseNonceStore
from gateway.security.users import UserDirectory

__all__ = ["JobProbe", "Sweeper"]

log = get_logger("gateway.jobs.sweeper")
_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]

# Answers "does the queue still know this job?" for an in-flight row (arq: job or in-progress key exists).
JobProbe = Callable[[OutboxRow], Awaitable[bool]]


class Sweeper:
    """Runs periodically beside the dispatcher (embedded) or the arq worker."""

    def __init__(
        self,
        db: Database,
        *,
        stale_after: float,
        probe: JobProbe | None = None,
        vanished_grace: float = 5.0,
        housekeeping: tuple[IdempotencyStore | DatabaseNonceStore | UserDirectory, ...] = (),
        outbox_retention: timedelta | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.stale_after = timedelta(seconds=stale_after)
        self.probe = probe
        self.vanished_grace = timedelta(seconds=vanished_grace)
        self.housekeeping = housekeeping
        # None: delivered rows stay in the outbox (tests that look at them; bootstrap passes the setting).
        self.outbox_retention = outbox_retention
        self._clock = clock or (lambda: datetime.now(UTC))

    async def sweep(self) -> int:
        """One pass; returns how many deliveries were re-queued."""
        now = self._clock()
        requeued = await requeue_stale(self.db, claimed_before=now - self.stale_after)
        if requeued:
            log.warning("re-queued deliveries whose worker stopped", count=requeued)
        if self.probe is not None:
            vanished = await self._requeue_vanished(now)
            if vanished:
                log.warning("re-queued deliveries whose queued job vanished", count=vanished)
            requeued += vanished
        for store in self.housekeeping:
            if isinstance(store, UserDirectory):
                await store.purge_expired_tokens()
            else:
                await store.purge_expired()
        if self.outbox_retention is not None:
            archived = await archive_delivered_outbox(self.db, now - self.outbox_retention)
            if archived:
                log.info("archived delivered outbox rows past the retention", count=archived)
        return requeued

    async def _requeue_vanished(self, now: datetime) -> int:
        assert self.probe is not None
        async with self.db.session() as session:
            conn = await session.connection()
            rows = [
                OutboxRow(**r._mapping)
                for r in await conn.execute(
                    select(_OUTBOX)
                    .where(_OUTBOX.c.status == OutboxStatus.IN_FLIGHT.value)
                    .where(_OUTBOX.c.claimed_at < now - self.vanished_grace)
                    .limit(1000)
                )
            ]
        lost = [row for row in rows if not await self.probe(row)]
        count = 0
        for row in lost:
            # Conditional on the claim we looked at: a row settled or re-claimed meanwhile is left alone.
            async with self.db.transaction() as uow:
                conn = uow.connection
                result = await conn.execute(
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id == row.id, _OUTBOX.c.status == OutboxStatus.IN_FLIGHT.value)
                    .where(_OUTBOX.c.claimed_by == row.claimed_by, _OUTBOX.c.attempts == row.attempts)
                    .values(
                        status=OutboxStatus.PENDING.value,
                        next_attempt_at=now,
                        claimed_at=None,
                        claimed_by=None,
                    )
                )
            count += result.rowcount
        return count
