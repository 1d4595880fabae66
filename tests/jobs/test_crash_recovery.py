"""500 deliveries in flight, the worker process SIGKILLed and restarted: every delivery completes, none is
lost, and the receiver (deduping on the delivery id) applies each exactly once. arq on real Redis, and the
in-process runner; both on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db import Database
from gateway.db.tables.infra import OutboxRow
from tests.api.support import create_schema
from tests.jobs.harness import Receiver, add_deliveries

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[2]
COUNT = 500


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url, pool_size=4)
    await create_schema(db)
    try:
        yield db
    finally:
        await db.dispose()


class WorkerProcess:
    """`python -m tests.jobs.harness`: a real worker process with the production dispatcher and runner."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(*self.argv, cwd=REPO, stdout=out, stderr=out)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


async def statuses(db: Database) -> dict[str, int]:
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    async with db.session() as session:
        conn = await session.connection()
        rows = await conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
        return {status: count for status, count in rows}


async def until(check: Any, within: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


async def crash_and_recover(db: Database, receiver: Receiver, worker: WorkerProcess) -> None:
    ids = await add_deliveries(db, COUNT)
    await worker.start()

    async def some_applied() -> bool:
        return len(receiver.applied) >= COUNT // 4

    await until(some_applied, 30, "the first deliveries")
    await worker.kill()
    applied_at_kill = len(receiver.applied)
    assert applied_at_kill < COUNT, "the kill came too late to interrupt anything"
    in_flight = (await statuses(db)).get("in_flight", 0)
    await worker.start()

    async def all_delivered() -> bool:
        return (await statuses(db)).get("delivered", 0) == COUNT

    await until(all_delivered, 45, "every delivery after the restart")
    await worker.stop()
    assert await statuses(db) == {"delivered": COUNT}
    assert set(receiver.applied) == set(ids)  # none lost
    assert sorted(receiver.applied.values()) == list(range(COUNT))  # each effect once, with its payload
    # Deliveries repeated after the crash were absorbed by the receiver's dedupe, never applied twice.
    repeated = sum(n - 1 for n in receiver.attempts.values())
    assert repeated <= in_flight + worker_concurrency()
    print(f"killed after {applied_at_kill} applied, {in_flight} in flight; {repeated} repeated attempts")


def worker_concurrency() -> int:
    from tests.jobs.harness import FAST_JOBS

    return FAST_JOBS.arq_max_jobs + FAST_JOBS.concurrency


def harness_argv(
    database: str, receiver: Receiver, participants: Any, tmp_path: Path, redis: str | None
) -> list[str]:
    argv = [sys.executable, "-m", "tests.jobs.harness", "--database", database, "--receiver", receiver.url]
    argv += ["--key", participants.registry_key.to_pem().decode(), "--data-dir", str(tmp_path)]
    return argv + (["--redis", redis] if redis else [])


@pytest.mark.redis
async def test_arq_worker_killed_mid_run_loses_and_repeats_nothing(
    pg: Database, pg_url: str, redis_url: str, receiver: Receiver, participants: Any, tmp_path: Path
) -> None:
    receiver.delay = 0.01
    worker = WorkerProcess(
        harness_argv(pg_url, receiver, participants, tmp_path, redis_url), tmp_path / "worker.log"
    )
    try:
        await crash_and_recover(pg, receiver, worker)
    finally:
        await worker.stop()


async def test_in_process_runner_killed_mid_run_loses_and_repeats_nothing(
    pg: Database, pg_url: str, receiver: Receiver, participants: Any, tmp_path: Path
) -> None:
    receiver.delay = 0.01
    worker = WorkerProcess(
        harness_argv(pg_url, receiver, participants, tmp_path, None), tmp_path / "worker.log"
    )
    try:
        await crash_and_recover(pg, receiver, worker)
    finally:
        await worker.stop()
