"""The unit of work: one transaction in which state, audit records and outbox rows commit together."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import Insert, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Update
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db.audit_chain import with_content_hashes
from gateway.db.batch import Write, combined_statement
from gateway.db.ids import new_outbox_id
from gateway.db.jsoncanon import json_ready
from gateway.db.tables import metadata
from gateway.db.tables.infra import OutboxStatus
from gateway.db.types import utcnow

__all__ = ["UnitOfWork"]

log = logging.getLogger(__name__)
_OUTBOX = metadata.tables["outbox"]
_AUDIT = metadata.tables["audit_log"]


@cache
def _insert(table: Table) -> Insert:
    return insert(table)  # one statement object per table, so its compiled form is cached


@dataclass(frozen=True)
class _Guard:
    statement: Update | Insert
    params: Mapping[str, Any]
    error: Callable[[], Exception]


class UnitOfWork:
    """Handed out by `Database.transaction()`. Use `connection` (Core statements) or `session` (ORM) for your
    own rows; `insert()`, `audit()`, `outbox()` and `update_one()` queue writes that run at commit, in the
    same transaction — on PostgreSQL as one statement (gateway.db.batch), so a use case's writes cost one
    round trip."""

    def __init__(self, connection: AsyncConnection, dialect: Literal["sqlite", "postgresql"]) -> None:
        self.connection = connection
        self._dialect = dialect
        self._session: AsyncSession | None = None
        self._inserts: list[tuple[Table, list[dict[str, Any]]]] = []
        self._audit: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._guard: _Guard | None = None
        self._callbacks: list[Callable[[], Awaitable[None] | None]] = []

    @property
    def session(self) -> AsyncSession:
        """An ORM session in this transaction, made on first use: most use cases never need one, and making,
        committing and closing one cost as much CPU as a statement (the hot paths use `connection`)."""
        if self._session is None:
            # Joins the connection's transaction: its commit and close leave that transaction alone.
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue rows for `table` (all with the same keys), written at commit in the order queued, before the
        outbox and audit rows. Nothing in this transaction can read them back before the commit."""
        if not rows:
            return
        if self._inserts and self._inserts[-1][0] is table:
            self._inserts[-1][1].extend(dict(row) for row in rows)
        else:
            self._inserts.append((table, [dict(row) for row in rows]))

    def update_one(
        self, statement: Update | Insert, params: Mapping[str, Any], error: Callable[[], Exception]
    ) -> None:
        """Queue an UPDATE (or INSERT … ON CONFLICT DO NOTHING) that must change exactly one row, run at
        commit after the queued rows; if it changes none, `error()` is raised there and everything rolls
        back (e.g. an idempotency key that is no longer this request's). One per unit of work."""
        if self._guard is not None:
            raise RuntimeError("a unit of work takes one update_one()")
        self._guard = _Guard(statement, dict(params), error)

    def audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        case_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue an audit record (time = now); it is inserted at commit with its content hash, and chained
        into the log by the sealer once committed (gateway.db.audit_chain).
        `details` may hold Decimal, datetime, date, UUID and enums; they are stored as canonical JSON."""
        self._audit.append(
            {
                "at": utcnow(),
                "actor": actor,
                "action": action,
                "subject": subject,
                "case_id": case_id,
                "details": json_ready(dict(details or {})),
            }
        )

    def outbox(
        self,
        *,
        job: str,
        target: str,
        payload: Mapping[str, Any],
        case_id: str | None = None,
        not_before: datetime | None = None,
        row_id: str | None = None,
    ) -> str:
        """Queue an outbound effect (delivered after commit by the dispatcher); returns its id (new_outbox_id).

        `row_id` from `new_outbox_id()` when the payload must know its row first (ID numbers in it are
        encrypted bound to the row: gateway.privacy)."""
        row_id = row_id or new_outbox_id()
        now = utcnow()
        self._outbox.append(
            {
                "id": row_id,
                "job": job,
                "target": target,
                "payload": json_ready(dict(payload)),
                "case_id": case_id,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": not_before or now,
                "created_at": now,
            }
        )
        return row_id

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Run `callback` once the transaction has committed (never after a rollback), e.g. wake a dispatcher.
        A failing callback is logged, not raised: the transaction is already durable."""
        self._callbacks.append(callback)

    async def _before_commit(self) -> None:
        if self._session is not None:
            await self._session.flush()
        conn = self.connection
        writes: list[Write] = [
            *self._inserts,
            (_OUTBOX, self._outbox),
            (_AUDIT, with_content_hashes(self._audit)),
        ]
        writes = [(table, rows) for table, rows in writes if rows]
        guard = self._guard
        changed = -1  # rows the guard changed
        if self._dialect == "postgresql" and len(writes) + (guard is not None) > 1:
            statement, params = (
                combined_statement(writes, guard.statement, guard.params)
                if guard
                else combined_statement(writes)
            )
            changed = await statement.execute(conn, params)
        else:
            for table, rows in writes:
                await conn.execute(_insert(table), rows)
            if guard is not None:
                changed = (await conn.execute(guard.statement, dict(guard.params))).rowcount
        if guard is not None and changed != 1:
            raise guard.error()

    async def _after_commit_callbacks(self) -> None:
        for callback in self._callbacks:
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("after-commit callback %r failed (the transaction is committed)", callback)
