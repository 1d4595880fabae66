"""Retention: rows past their window leave the hot tables in small batches, each its own short transaction.

A batch picks at most `batch` rows by their key (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so a row a request
is working on — an idempotency key being completed, an outbox row being settled — is skipped, never
waited for), then deletes (or moves) exactly those rows with the condition repeated, so a row that
changed between the pick and the delete stays. No statement holds a lock for longer than one batch, and
the request path never queues behind the purge. The audit log is never purged (its triggers refuse it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, delete, exists, insert, not_, select, tuple_

from gateway.db.database import Database
from gateway.db.tables import metadata
from gateway.db.tables.infra import OutboxStatus
from gateway.db.tables.utilities import UtilityJobStatus

__all__ = ["archive_delivered_outbox", "delete_in_batches", "outbox_retained_condition"]

_OUTBOX = metadata.tables["outbox"]
_ARCHIVE = metadata.tables["outbox_archive"]
_JOBS = metadata.tables["utility_job"]
_FINAL_JOB = (UtilityJobStatus.DONE.value, UtilityJobStatus.REJECTED.value)


async def delete_in_batches(
    db: Database,
    table: Table,
    condition: ColumnElement[bool],
    *,
    batch: int = 1000,
    max_batches: int = 100,
) -> int:
    """Delete the rows of `table` matching `condition`, `batch` at a time; returns how many went. A pass
    stops after `max_batches` (the next sweep goes on), so one sweep never runs unbounded."""
    keys = list(table.primary_key.columns)
    total = 0
    for _ in range(max_batches):
        async with db.engine.begin() as conn:
            picked = await conn.execute(_pick(db, table, keys, condition, batch))
            found = [tuple(row) for row in picked]
            if found:
                result = await conn.execute(delete(table).where(condition, _among(keys, found)))
                total += result.rowcount
        if len(found) < batch:
            break
    return total


def outbox_retained_condition(cutoff: datetime) -> ColumnElement[bool]:
    """Delivered before `cutoff`, and not a utility job still waiting for its provider's final answer (a
    job answered "later" is delivered but not finished: its acknowledgement still reads its row)."""
    unfinished_job = exists().where(_JOBS.c.id == _OUTBOX.c.id, _JOBS.c.status.not_in(_FINAL_JOB))
    return and_(
        _OUTBOX.c.status == OutboxStatus.DELIVERED.value,
        _OUTBOX.c.delivered_at < cutoff,
        not_(unfinished_job),
    )


async def archive_delivered_outbox(
    db: Database, cutoff: datetime, *, batch: int = 1000, max_batches: int = 100
) -> int:
    """Move delivered outbox rows older than `cutoff` to `outbox_archive` (same columns), batch by batch;
    returns how many moved. The dispatcher's and the providers' indexes stay the size of the recent work;
    a case's utility jobs are still read from both tables (gateway.services.utilities)."""
    condition = outbox_retained_condition(cutoff)
    columns = [c.name for c in _OUTBOX.columns]
    total = 0
    for _ in range(max_batches):
        async with db.engine.begin() as conn:
            picked = await conn.execute(_pick(db, _OUTBOX, [_OUTBOX.c.id], condition, batch))
            ids = [row[0] for row in picked]
            if ids:
                chosen = and_(_OUTBOX.c.id.in_(ids), condition)
                await conn.execute(insert(_ARCHIVE).from_select(columns, select(*_OUTBOX.c).where(chosen)))
                # The rows just copied: the same condition under the same row locks (SQLite: one writer).
                result = await conn.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(ids), condition))
                total += result.rowcount
        if len(ids) < batch:
            break
    return total


def _pick(
    db: Database, table: Table, keys: Sequence[ColumnElement[Any]], condition: ColumnElement[bool], batch: int
) -> Select[Any]:
    query = select(*keys).where(condition).limit(batch)
    if db.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def _among(keys: Sequence[ColumnElement[Any]], found: list[tuple[object, ...]]) -> ColumnElement[bool]:
    if len(keys) == 1:
        return keys[0].in_([row[0] for row in found])
    return tuple_(*keys).in_(found)
