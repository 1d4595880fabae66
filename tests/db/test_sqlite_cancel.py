"""Work cancelled twice while it holds a SQLite connection never leaves the event loop unable to stop.

The dispatcher's stop cancels deliveries mid-transaction, and a delivery's own timeout or the loop's teardown
may cancel the same task again. With aiosqlite's plain connections the connection's close then waited for
ever, and so did asyncio's teardown of the loop (gateway.db.sqlite_driver says why). Each round here runs in
a loop of its own on a daemon thread, so a hang fails this test instead of holding the whole run.
"""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path

from sqlalchemy import text

from gateway.db import Database

ROUNDS = 10  # with the old connections, round 1 (the second) hung in each of 4 runs here
# Seconds: a round takes under one, or ~10 when a cancelled statement waits out busy_timeout.
ROUND_BOUND = 20.0


async def _writes_for_ever(db: Database) -> None:
    while True:
        async with db.transaction() as uow:
            await uow.connection.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": random.random()})
            await asyncio.sleep(0)
            await uow.connection.execute(text("SELECT count(*) FROM t"))
        async with db.session() as session:
            await session.execute(text("SELECT count(*) FROM t"))


async def _cancel_twice_then_stop(path: Path, rng: random.Random) -> int:
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.transaction() as uow:
        await uow.connection.execute(text("CREATE TABLE IF NOT EXISTS t (v REAL)"))
    writers = [asyncio.create_task(_writes_for_ever(db)) for _ in range(6)]
    await asyncio.sleep(rng.uniform(0.005, 0.08))
    for writer in writers:
        writer.cancel()
    for _ in range(rng.randint(0, 3)):  # the second cancel lands at a different point each round
        await asyncio.sleep(0)
    for writer in writers:
        writer.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
    await db.dispose()
    reader = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with reader.session() as session:
            return int((await session.execute(text("SELECT count(*) FROM t"))).scalar_one())
    finally:
        await reader.dispose()


def _run_round(path: Path, rng: random.Random, outcome: list[int | BaseException]) -> None:
    try:
        with asyncio.Runner() as runner:  # its close() cancels what is left and waits for it
            outcome.append(runner.run(_cancel_twice_then_stop(path, rng)))
    except BaseException as exc:  # reported by the test
        outcome.append(exc)


def test_a_loop_whose_sqlite_work_was_cancelled_twice_still_stops(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    for round_ in range(ROUNDS):
        outcome: list[int | BaseException] = []
        args = (tmp_path / f"round{round_}.db", rng, outcome)
        worker = threading.Thread(target=_run_round, args=args, daemon=True, name=f"round {round_}")
        worker.start()
        worker.join(ROUND_BOUND)
        assert not worker.is_alive(), f"round {round_}: the loop did not stop within {ROUND_BOUND} s"
        assert outcome and isinstance(outcome[0], int), outcome  # the committed rows are still readable
