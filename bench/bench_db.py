"""Unit-of-work commits (with and without the audit chain), chain verification and outbox claims per second,
on SQLite and (when it runs) PostgreSQL. About 30 s.

The baseline is measured in the same run: a commit writing one outbox row, then the same commit plus one
audit record (lock, head read, SM3, insert), so the ratio shows what the chain costs.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway.audit import verify_chain
from gateway.db import Database
from gateway.db.outbox import claim_due

COMMITS = 400
CONCURRENCY = 8
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def commits_per_second(db: Database, *, with_audit: bool, concurrency: int) -> tuple[float, float]:
    """(commits per second, median commit latency in ms) for COMMITS commits over `concurrency` tasks."""
    latencies: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        async with db.transaction() as uow:
            uow.outbox(job="utility.transfer", target="dg-water", payload={"i": i}, case_id=f"c{i}")
            if with_audit:
                uow.audit(actor="bench", action="case.registered", subject=f"case:c{i}", case_id=f"c{i}")
        latencies.append((time.perf_counter() - started) * 1000)

    async def worker(offset: int) -> None:
        for i in range(offset, COMMITS, concurrency):
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return COMMITS / (time.perf_counter() - started), statistics.median(latencies)


async def timed(label: str, n: int, action: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await action()
    print(f"  {label:<38} {n / (time.perf_counter() - started):>9,.0f} rows/s")


async def run(name: str, url: str) -> None:
    db = Database(url, pool_size=CONCURRENCY)
    await db.migrate()
    print(f"{name}:")
    for concurrency in (1, CONCURRENCY):
        base, base_ms = await commits_per_second(db, with_audit=False, concurrency=concurrency)
        full, full_ms = await commits_per_second(db, with_audit=True, concurrency=concurrency)
        print(
            f"  commits, {concurrency} task(s): outbox only {base:6.0f}/s (p50 {base_ms:5.1f} ms), "
            f"+ audit {full:6.0f}/s (p50 {full_ms:5.1f} ms), ratio {full / base:4.2f}"
        )
    audited = 2 * COMMITS
    report = await verify_chain(db)
    assert report.ok and report.rows_checked == audited, report
    await timed("verify_chain", audited, lambda: verify_chain(db))
    pending = 4 * COMMITS

    async def claim_all() -> None:
        while await claim_due(db, "bench", limit=100):
            pass

    await timed("claim_due (batches of 100)", pending, claim_all)
    await db.dispose()


def postgres_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        await run("SQLite (WAL, BEGIN IMMEDIATE)", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
    if not postgres_running():
        print("PostgreSQL: not running on 127.0.0.1:5432, skipped")
        return 0
    import asyncpg

    name = f"gwbench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run("PostgreSQL (asyncpg)", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
