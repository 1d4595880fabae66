"""The audit log as the back office reads it: the trail of a case or of a user, and the chain's status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, or_, select

from gateway.db.tables.infra import AuditCheckpoint, AuditRecord
from gateway.services.context import ServiceContext

__all__ = ["ChainStatus", "chain_status", "trail"]

AUDIT = cast(Table, AuditRecord.__table__)  # type: ignore[attr-defined]
CHECKPOINT = cast(Table, AuditCheckpoint.__table__)  # type: ignore[attr-defined]


async def trail(
    ctx: ServiceContext, *, case_id: str | None = None, username: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Newest first: the records of a case, or everything a user did (and every failed sign-in as them)."""
    a = AUDIT.c
    stmt = select(a.seq, a.at, a.actor, a.action, a.subject, a.case_id, a.details).order_by(
        a.at.desc(), a.id.desc()
    )
    async with ctx.reading() as store:
        if case_id:
            stmt = stmt.where(a.case_id == case_id)
        if username:
            member = await store.staff_member(username)
            spellings = [f"user:{username}"] + ([member.id] if member else [])
            stmt = stmt.where(or_(a.actor.in_(spellings), a.subject == f"username:{username}"))
        rows = await store.session.execute(stmt.limit(limit))
    return [dict(r._mapping) for r in rows]


@dataclass(frozen=True)
class ChainStatus:
    last_sealed_seq: int | None
    last_sealed_at: datetime | None
    last_sealed_hash: str | None
    unsealed: int
    checkpoint_seq: int | None
    checkpoint_at: datetime | None


async def chain_status(ctx: ServiceContext) -> ChainStatus:
    """Where the hash chain ends (last sealed row), rows waiting to be sealed, the last signed checkpoint."""
    a, c = AUDIT.c, CHECKPOINT.c
    async with ctx.db.session() as session:
        head = (
            await session.execute(
                select(a.seq, a.at, a.row_hash).where(a.seq.is_not(None)).order_by(a.seq.desc()).limit(1)
            )
        ).one_or_none()
        unsealed = (
            await session.execute(select(func.count()).select_from(AUDIT).where(a.seq.is_(None)))
        ).scalar_one()
        checkpoint = (await session.execute(select(c.seq, c.at).order_by(c.id.desc()).limit(1))).one_or_none()
    return ChainStatus(
        last_sealed_seq=head.seq if head else None,
        last_sealed_at=head.at if head else None,
        last_sealed_hash=head.row_hash if head else None,
        unsealed=int(unsealed),
        checkpoint_seq=checkpoint.seq if checkpoint else None,
        checkpoint_at=checkpoint.at if checkpoint else None,
    )
