"""Outbox rows for the dispatcher: claim due rows without two workers taking the same one, then settle them.

The dispatcher (API task) runs `claim_due` → delivers → `mark_delivered` / `schedule_retry` / `mark_dead`.
Settling functions take a `Database` (own short transaction) or a `UnitOfWork` (join the caller's, e.g. to
write an audit record with the outcome).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.db.database import Database
from gateway.db.tables import metadata
from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.db.types import utcnow
from gateway.db.uow import UnitOfWork

__all__ = ["claim_due", "mark_dead", "mark_delivered", "requeue_stale", "schedule_retry"]

_OUTBOX = metadata.tables["outbox"]
_MAX_ERROR_CHARS = 2000


@asynccontextmanager
async def _connection(target: Database | UnitOfWork) -> AsyncIterator[AsyncConnection]:
    if isinstance(target, UnitOfWork):
        yield await target.session.connection()
    else:
        async with target.transaction() as uow:
            yield await uow.session.connection()


async def claim_due(
    db: Database, worker_id: str, limit: int = 100, *, now: datetime | None = None
) -> list[OutboxRow]:
    """Mark up to `limit` due pending rows in flight for `worker_id` (attempts + 1) and return them, oldest
    due first. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers take disjoint rows without
    waiting. SQLite: the same UPDATE … RETURNING under BEGIN IMMEDIATE (claimers take turns)."""
    now = now or utcnow()
    # A CTE, not `id IN (subquery)`: PostgreSQL may run an IN-subquery once per candidate row, and then the
    # LIMIT no longer limits. A locking CTE is evaluated exactly once.
    due = (
        select(_OUTBOX.c.id)
        .where(_OUTBOX.c.status == OutboxStatus.PENDING.value, _OUTBOX.c.next_attempt_at <= now)
        .order_by(_OUTBOX.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only; SQLite has no row locks
        .cte("due")
    )
    claim = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id == due.c.id)
        .values(
            status=OutboxStatus.IN_FLIGHT.value,
            claimed_at=now,
            claimed_by=worker_id,
            attempts=_OUTBOX.c.attempts + 1,
        )
        .returning(*_OUTBOX.c)
    )
    async with _connection(db) as conn:
        rows = [OutboxRow(**row._mapping) for row in await conn.execute(claim)]
    return sorted(rows, key=lambda r: (r.next_attempt_at, r.created_at))


async def mark_delivered(
    db: Database | UnitOfWork, row: OutboxRow, *, http_status: int | None = None, now: datetime | None = None
) -> None:
    """The receiver acknowledged: delivered, whoever holds the claim now (the effect has happened)."""
    await _settle(
        db,
        row,
        only_own_claim=False,
        status=OutboxStatus.DELIVERED.value,
        delivered_at=now or utcnow(),
        last_http_status=http_status,
    )


async def schedule_retry(
    db: Database | UnitOfWork,
    row: OutboxRow,
    error: str,
    delay: timedelta,
    *,
    http_status: int | None = None,
    now: datetime | None = None,
) -> None:
    """Back to pending, due after `delay`; ignored if this worker no longer holds the claim (a sweeper
    re-queued the row and another worker took it)."""
    await _settle(
        db,
        row,
        only_own_claim=True,
        status=OutboxStatus.PENDING.value,
        next_attempt_at=(now or utcnow()) + delay,
        claimed_at=None,
        claimed_by=None,
        last_error=error[:_MAX_ERROR_CHARS],
        last_http_status=http_status,
    )


async def mark_dead(
    db: Database | UnitOfWork, row: OutboxRow, error: str, *, http_status: int | None = None
) -> None:
    """Given up (410, retries exhausted): dead-lettered for an operator to replay; same claim rule as retry."""
    await _settle(
        db,
        row,
        only_own_claim=True,
        status=OutboxStatus.DEAD.value,
        last_error=error[:_MAX_ERROR_CHARS],
        last_http_status=http_status,
    )


async def requeue_stale(db: Database | UnitOfWork, *, claimed_before: datetime) -> int:
    """The sweeper: rows in flight since before `claimed_before` (their worker died) become pending and due
    now. Returns how many were re-queued."""
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.status == OutboxStatus.IN_FLIGHT.value, _OUTBOX.c.claimed_at < claimed_before)
        .values(status=OutboxStatus.PENDING.value, next_attempt_at=utcnow(), claimed_at=None, claimed_by=None)
        .returning(_OUTBOX.c.id)
    )
    async with _connection(db) as conn:
        return len((await conn.execute(stmt)).all())


async def _settle(db: Database | UnitOfWork, row: OutboxRow, *, only_own_claim: bool, **values: Any) -> None:
    conditions = [_OUTBOX.c.id == row.id, _OUTBOX.c.status != OutboxStatus.DELIVERED.value]
    if only_own_claim:
        conditions += [
            _OUTBOX.c.status == OutboxStatus.IN_FLIGHT.value,
            _OUTBOX.c.claimed_by == row.claimed_by,
        ]
    async with _connection(db) as conn:
        await conn.execute(update(_OUTBOX).where(*conditions).values(**values))
