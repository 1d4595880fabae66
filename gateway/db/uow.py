"""The unit of work: one transaction in which state, audit records and outbox rows commit together."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db.audit_chain import insert_audit_records
from gateway.db.jsoncanon import json_ready
from gateway.db.tables import metadata
from gateway.db.tables.infra import OutboxStatus
from gateway.db.types import utcnow

__all__ = ["UnitOfWork"]

log = logging.getLogger(__name__)
_OUTBOX = metadata.tables["outbox"]


class UnitOfWork:
    """Handed out by `Database.transaction()`. Use `session` for your own rows; `audit()` and `outbox()` queue
    rows that are written at commit, in the same transaction."""

    def __init__(self, session: AsyncSession, dialect: Literal["sqlite", "postgresql"]) -> None:
        self.session = session
        self._dialect = dialect
        self._audit: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._callbacks: list[Callable[[], Awaitable[None] | None]] = []

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
    ) -> str:
        """Queue an outbound effect (delivered after commit by the dispatcher); returns its id (uuid4 hex)."""
        row_id = uuid.uuid4().hex
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
        await self.session.flush()
        conn = await self.session.connection()
        if self._outbox:
            await conn.execute(insert(_OUTBOX), self._outbox)
        await insert_audit_records(conn, self._audit)

    async def _after_commit_callbacks(self) -> None:
        for callback in self._callbacks:
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("after-commit callback %r failed (the transaction is committed)", callback)
