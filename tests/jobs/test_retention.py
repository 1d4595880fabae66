"""Retention under load: the sweeper purges expired keys and nonces and archives old deliveries in batches while
submissions with Idempotency-Keys and deliveries go on; nothing still inside its window is lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from gateway.db import Database
from gateway.db.outbox import claim_due, mark_delivered
from gateway.db.tables import metadata
from gateway.jobs.sweeper import Sweeper
from gateway.security.idempotency import IdempotencyStore, StoredResponse
from gateway.security.nonces import DatabaseNonceStore
from tests.api.demo_routes import routes
from tests.api.support import SignedClient

THINGS = "/api/v1/demo/things"
OUTBOX = metadata.tables["outbox"]
ARCHIVE = metadata.tables["outbox_archive"]
KEYS = metadata.tables["idempotency_key"]
NONCES = metadata.tables["request_nonce"]
JOBS = metadata.tables["utility_job"]
OLD_DELIVERED = 2500  # more than two batches of 1000


def _outbox(
    status: str, *, created: datetime, delivered: datetime | None, job: str = "demo.notify"
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "job": job,
        "target": "icbc-dg",
        "payload": {"n": 1},
        "case_id": "c" * 32,
        "status": status,
        "attempts": 1,
        "next_attempt_at": created,
        "created_at": created,
        "delivered_at": delivered,
    }


def _key(key: str, *, created: datetime, completed: datetime | None, lease: datetime) -> dict[str, Any]:
    return {
        "party": "icbc-dg",
        "key": key,
        "fingerprint": "f" * 64,
        "state": "completed" if completed else "in_flight",
        "owner": "o" * 32,
        "lease_until": lease,
        "created_at": created,
        "completed_at": completed,
        "status_code": 201 if completed else None,
        "content_type": "application/json" if completed else None,
        "response_body": b'{"old":1}' if completed else None,
    }


async def _count(db: Database, table: Any, *where: Any) -> int:
    async with db.session() as session:
        conn = await session.connection()
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def test_purge_under_load_loses_nothing_still_needed(serve: Any, bank: Any, database: Database) -> None:
    now = datetime.now(UTC)
    month_ago = now - timedelta(days=31)
    old_delivered = [
        _outbox("delivered", created=month_ago, delivered=month_ago) for _ in range(OLD_DELIVERED)
    ]
    kept = [
        _outbox("delivered", created=now - timedelta(days=29), delivered=now - timedelta(days=29)),
        _outbox("dead", created=month_ago, delivered=None),
        _outbox("pending", created=month_ago, delivered=None),
        _outbox("in_flight", created=month_ago, delivered=None),
    ]
    # A utility job answered "later" a month ago: delivered, but its provider's final answer still reads it.
    waiting = _outbox("delivered", created=month_ago, delivered=month_ago, job="utility.transfer")
    kept.append(waiting)
    async with database.engine.begin() as conn:
        await conn.execute(insert(OUTBOX), old_delivered + kept)
        await conn.execute(
            insert(JOBS),
            [
                {
                    "id": waiting["id"],
                    "case_id": "c" * 32,
                    "provider": "icbc-dg",
                    "service": "water",
                    "unit_code": "4" * 28,
                    "account_no": "1",
                    "status": "accepted",
                    "message": "",
                    "created_at": month_ago,
                    "updated_at": month_ago,
                }
            ],
        )
        await conn.execute(
            insert(KEYS),
            [
                _key(
                    f"old-{i}",
                    created=now - timedelta(hours=25),
                    completed=now - timedelta(hours=25),
                    lease=now - timedelta(hours=25),
                )
                for i in range(1500)
            ]
            + [
                # Inside the window: created 23 h ago.
                _key(
                    "recent",
                    created=now - timedelta(hours=23),
                    completed=now - timedelta(hours=23),
                    lease=now - timedelta(hours=23),
                ),
                # Created 25 h ago but completed (after a late take-over) an hour ago: replayed for 24 h more.
                _key(
                    "late",
                    created=now - timedelta(hours=25),
                    completed=now - timedelta(hours=1),
                    lease=now - timedelta(hours=1),
                ),
            ],
        )
        await conn.execute(
            insert(NONCES),
            [
                {"party": "icbc-dg", "nonce": f"old-nonce-{i:06d}", "expires_at": now - timedelta(seconds=1)}
                for i in range(1200)
            ]
            + [
                {
                    "party": "icbc-dg",
                    "nonce": "fresh-nonce-000001",
                    "expires_at": now + timedelta(seconds=300),
                }
            ],
        )

    signed: SignedClient = bank(await serve(routes))
    sweeper = Sweeper(
        database,
        stale_after=10**6,  # the seeded in-flight row is not re-queued: only retention is under test
        housekeeping=(IdempotencyStore(database), DatabaseNonceStore(database)),
        outbox_retention=timedelta(days=30),
    )
    first: dict[str, bytes] = {}
    settled: list[str] = []

    async def submit(i: int) -> None:
        reply = await signed.post(THINGS, {"name": f"n{i}"}, idempotency_key=f"load-{i:04d}")
        assert reply.status == 201
        first[f"load-{i:04d}"] = reply.body

    submitted = asyncio.Event()

    async def submit_all() -> None:
        await asyncio.gather(*(submit(i) for i in range(40)))
        submitted.set()

    async def deliver() -> None:
        # The dispatcher settling fresh rows while the sweeper archives old ones, until the load has been
        # submitted and nothing is due (a fixed number of rounds could end before the first commit on a
        # busy machine, settling nothing).
        while True:
            rows = await claim_due(database, "worker-test", 10)
            for row in rows:
                if row.job == "demo.notify":
                    await mark_delivered(database, row, http_status=200)
                    settled.append(row.id)
            if submitted.is_set() and not rows:
                return
            await asyncio.sleep(0.01)

    await asyncio.gather(sweeper.sweep(), deliver(), submit_all())
    await sweeper.sweep()  # and once more, after the load

    # Every key inside its window replays its stored response; the old keys are gone.
    for key, body in first.items():
        again = await signed.post(THINGS, {"name": f"n{int(key[5:])}"}, idempotency_key=key)
        assert again.status == 201 and again.body == body
        assert again.headers["Idempotent-Replayed"] == "true"
    store = IdempotencyStore(database)
    for key in ("recent", "late"):
        assert await store.claim("icbc-dg", key, "f" * 64) == StoredResponse(
            201, b'{"old":1}', "application/json"
        )
    assert await _count(database, KEYS, KEYS.c.key.like("old-%")) == 0
    # Used nonces: the expired ones went, the one inside the 300 s window stays.
    assert await _count(database, NONCES, NONCES.c.nonce.like("old-nonce-%")) == 0
    assert await _count(database, NONCES, NONCES.c.nonce == "fresh-nonce-000001") == 1
    # Outbox: the month-old deliveries moved to the archive, every other row stays where it was.
    assert await _count(database, ARCHIVE) == OLD_DELIVERED
    remaining = {row["id"] for row in kept} | set(settled)
    assert await _count(database, OUTBOX, OUTBOX.c.id.in_(remaining)) == len(remaining)
    assert await _count(database, OUTBOX, OUTBOX.c.id.in_([r["id"] for r in old_delivered])) == 0
    assert await _count(database, OUTBOX) + await _count(database, ARCHIVE) == OLD_DELIVERED + len(kept) + 40
    assert settled  # deliveries really ran during the purge
