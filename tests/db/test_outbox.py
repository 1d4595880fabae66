"""Outbox rows: claiming due rows (never one row twice, also with concurrent claimers), retry, dead, sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from gateway.db import Database
from gateway.db.outbox import claim_due, mark_dead, mark_delivered, requeue_stale, schedule_retry
from gateway.db.tables.infra import OutboxRow
from gateway.db.types import utcnow


async def add_rows(db: Database, n: int, **kwargs: object) -> list[str]:
    async with db.transaction() as uow:
        return [
            uow.outbox(job="utility.transfer", target=f"t{i}", payload={"i": i}, case_id="c1", **kwargs)  # type: ignore[arg-type]
            for i in range(n)
        ]


async def get(db: Database, row_id: str) -> OutboxRow:
    async with db.session() as session:
        row = await session.get(OutboxRow, row_id)
    assert row is not None
    return row


async def test_claim_takes_due_rows_once_and_marks_them_in_flight(db: Database) -> None:
    ids = await add_rows(db, 3)
    later = await add_rows(db, 1, not_before=utcnow() + timedelta(hours=1))
    claimed = await claim_due(db, "worker-a", limit=10)
    assert sorted(r.id for r in claimed) == sorted(ids)
    assert {(r.status, r.claimed_by, r.attempts) for r in claimed} == {("in_flight", "worker-a", 1)}
    assert await claim_due(db, "worker-b", limit=10) == []  # nothing due is left; the later row waits
    assert [r.id for r in await claim_due(db, "worker-b", now=utcnow() + timedelta(hours=2))] == later


async def test_concurrent_claimers_never_get_the_same_row(db: Database) -> None:
    ids = set(await add_rows(db, 120))
    taken: dict[str, list[str]] = {}
    batch_sizes: list[int] = []

    async def claimer(name: str) -> None:
        mine = taken.setdefault(name, [])
        while batch := await claim_due(db, name, limit=7):
            batch_sizes.append(len(batch))
            mine.extend(r.id for r in batch)
            # A real pause between batches (not just a yield): on a loaded machine a claimer that only
            # yields could take every batch while the others wait for SQLite's write lock.
            await asyncio.sleep(0.01)

    await asyncio.gather(*(claimer(f"worker-{i}") for i in range(4)))
    all_taken = [row_id for rows in taken.values() for row_id in rows]
    assert len(all_taken) == len(set(all_taken)) == 120
    assert set(all_taken) == ids
    assert max(batch_sizes) == 7  # the limit holds under concurrency (an IN-subquery plan broke it)
    assert sum(1 for rows in taken.values() if rows) >= 2  # the work really was shared


async def test_retry_returns_the_row_later_with_the_error_and_counts_attempts(db: Database) -> None:
    (row_id,) = await add_rows(db, 1)
    (row,) = await claim_due(db, "worker-a")
    await schedule_retry(db, row, "HTTP 503 from dg-water", timedelta(minutes=5), http_status=503)
    stored = await get(db, row_id)
    assert (stored.status, stored.last_error, stored.last_http_status, stored.claimed_by) == (
        "pending",
        "HTTP 503 from dg-water",
        503,
        None,
    )
    assert await claim_due(db, "worker-a") == []
    (again,) = await claim_due(db, "worker-a", now=utcnow() + timedelta(minutes=6))
    assert again.attempts == 2


async def test_delivered_and_dead_rows_are_never_claimed_again(db: Database) -> None:
    ok_id, gone_id = await add_rows(db, 2)
    rows = {r.id: r for r in await claim_due(db, "worker-a")}
    async with db.transaction() as uow:  # settling inside the caller's transaction, with its audit record
        await mark_delivered(uow, rows[ok_id], http_status=200)
        uow.audit(actor="dispatcher", action="outbox.delivered", subject=f"outbox:{ok_id}")
    await mark_dead(db, rows[gone_id], "HTTP 410: endpoint gone", http_status=410)
    delivered, dead = await get(db, ok_id), await get(db, gone_id)
    assert (delivered.status, delivered.last_http_status) == ("delivered", 200)
    assert delivered.delivered_at is not None
    assert (dead.status, dead.last_http_status) == ("dead", 410)
    assert await claim_due(db, "worker-b", now=utcnow() + timedelta(days=30)) == []


async def test_a_worker_that_lost_its_claim_cannot_reschedule_the_row(db: Database) -> None:
    (row_id,) = await add_rows(db, 1)
    (stale,) = await claim_due(db, "worker-a")
    assert await requeue_stale(db, claimed_before=utcnow() + timedelta(seconds=1)) == 1  # worker-a "died"
    (fresh,) = await claim_due(db, "worker-b")
    await schedule_retry(db, stale, "late failure report", timedelta(hours=1))  # ignored: not its claim
    assert (await get(db, row_id)).claimed_by == "worker-b"
    await mark_delivered(db, fresh)
    assert (await get(db, row_id)).status == "delivered"


async def test_the_sweeper_leaves_recent_claims_alone(db: Database) -> None:
    await add_rows(db, 2)
    await claim_due(db, "worker-a")
    assert await requeue_stale(db, claimed_before=utcnow() - timedelta(minutes=5)) == 0
