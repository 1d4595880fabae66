"""Dead letters: list deliveries by status and replay a dead one (an operator's decision, audited)."""

from __future__ import annotations

from sqlalchemy import select, text, update

from gateway.db import Database
from gateway.db.tables.infra import OUTBOX_DELIVERED_SQL, OutboxRow, OutboxStatus
from gateway.db.types import utcnow
from gateway.errors import Conflict, NotFound

__all__ = ["list_deliveries", "replay_dead"]

_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]


async def list_deliveries(
    db: Database, status: OutboxStatus, *, limit: int = 50, offset: int = 0
) -> list[OutboxRow]:
    """Deliveries in `status`, newest first: delivered ones by when they were delivered, the others by when
    they were written."""
    if status is OutboxStatus.DELIVERED:
        # Ten years of deliveries: the newest page is read backwards from the delivered rows' own index (the
        # condition spelled as that partial index's, so even a generic plan uses it), not sorted out of all
        # of them (tests/db/test_growth_plans.py).
        query = select(_OUTBOX).where(text(OUTBOX_DELIVERED_SQL)).order_by(_OUTBOX.c.delivered_at.desc())
    else:  # dead, pending and in flight: the few rows waiting on someone
        query = select(_OUTBOX).where(_OUTBOX.c.status == status.value).order_by(_OUTBOX.c.created_at.desc())
    async with db.session() as session:
        conn = await session.connection()
        rows = await conn.execute(query.order_by(_OUTBOX.c.id).limit(limit).offset(offset))
        return [OutboxRow(**row._mapping) for row in rows]


async def replay_dead(db: Database, row_id: str, *, actor: str) -> OutboxRow:
    """Put a dead delivery back in the queue with a fresh retry schedule; the replay is audited.

    The row keeps its id, so the receiver still dedupes if the effect had in fact happened.
    """
    async with db.transaction() as uow:
        conn = uow.connection
        replayed = (
            await conn.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == row_id, _OUTBOX.c.status == OutboxStatus.DEAD.value)
                .values(
                    status=OutboxStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=utcnow(),
                    claimed_at=None,
                    claimed_by=None,
                )
                .returning(*_OUTBOX.c)
            )
        ).one_or_none()
        if replayed is None:
            exists = (await conn.execute(select(_OUTBOX.c.status).where(_OUTBOX.c.id == row_id))).scalar()
            if exists is None:
                raise NotFound(f"no delivery {row_id}", f"没有投递记录 {row_id}")
            raise Conflict(
                f"delivery {row_id} is {exists}, only dead deliveries can be replayed",
                f"投递记录 {row_id} 的状态为 {exists}，只有失败（dead）的投递可以重放",
            )
        row = OutboxRow(**replayed._mapping)
        uow.audit(
            actor=actor,
            action="delivery.replay",
            subject=f"outbox:{row.id}",
            case_id=row.case_id,
            details={"job": row.job, "target": row.target, "last_error": row.last_error},
        )
    return row
