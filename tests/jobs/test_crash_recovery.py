"""500 deliveries in flight, the worker process SIGKILLed and restarted: every delivery completes, none is
lost, and the receiver (deduping on the delivery id) applies each exactly once. arq on real Redis, and the
in-process runner; both on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db import Database
from gateway.db.tables.infra import OutboxRow
from gateway.settings import JobSettings
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
    database: str,
    receiver: Receiver,
    participants: Any,
    tmp_path: Path,
    redis: str | None,
    jobs: JobSettings | None = None,
) -> list[str]:
    argv = [sys.executable, "-m", "tests.jobs.harness", "--database", database, "--receiver", receiver.url]
    argv += ["--key", participants.registry_key.to_pem().decode(), "--data-dir", str(tmp_path)]
    argv += ["--jobs", jobs.model_dump_json()] if jobs else []
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


@pytest.mark.redis
async def test_a_killed_workers_job_runs_again_on_another_worker_within_the_recovery_time(
    pg: Database, pg_url: str, redis_url: str, receiver: Receiver, participants: Any, tmp_path: Path
) -> None:
    """SIGKILL mid-request with the default settings: the second worker starts the job when the first one's
    in-progress lock lapses (GW_JOBS__CRASH_RECOVERY_SECONDS, 12 s by default; arq's own rule made it ~41 s),
    and the receiver applies it once. The job never ran on both at once: the second attempt reached the
    receiver only after the first worker was dead."""
    jobs = JobSettings(sweep_interval_seconds=1, poll_interval_seconds=0.2)  # timeouts and locks: defaults
    assert jobs.recovery_seconds == JobSettings().recovery_seconds < 15
    receiver.hold_first = 120  # the first worker's request is in flight, unanswered, when it is killed
    first = WorkerProcess(
        harness_argv(pg_url, receiver, participants, tmp_path, redis_url, jobs), tmp_path / "first.log"
    )
    second = WorkerProcess(
        harness_argv(pg_url, receiver, participants, tmp_path, redis_url, jobs), tmp_path / "second.log"
    )
    try:
        [row_id] = await add_deliveries(pg, 1)
        await first.start()

        async def mid_request() -> bool:
            return receiver.attempts[row_id] == 1

        await until(mid_request, 60, "the first worker's request")
        await second.start()

        async def second_ready() -> bool:
            return "ready" in (tmp_path / "second.log").read_text(errors="replace")

        await until(second_ready, 60, "the second worker")
        await asyncio.sleep(0.5)  # its arq loop polling
        await first.kill()
        killed_at = time.monotonic()

        async def applied() -> bool:
            return row_id in receiver.applied

        await until(applied, 60, "the delivery on the second worker")
        waited = receiver.applied_at[row_id] - killed_at
        print(f"delivered {waited:.1f} s after the kill (recovery setting {jobs.recovery_seconds:g} s)")
        assert waited <= jobs.recovery_seconds + 4, waited  # + the poll, the delivery and a busy machine
    finally:
        await first.stop()
        await second.stop()
    assert receiver.attempts[row_id] == 2  # once on each worker, the second after the first had died
    assert list(receiver.applied) == [row_id]  # applied once
    assert await statuses(pg) == {"delivered": 1}


@pytest.mark.redis
async def test_a_slow_attempt_is_never_started_again_by_another_worker_while_it_runs(
    pg: Database, pg_url: str, redis_url: str, receiver: Receiver, participants: Any, tmp_path: Path
) -> None:
    """Two live workers and a receiver slower than the job timeout: every attempt ends (times out) before
    the next one of that delivery reaches the receiver, whichever worker runs it; the in-progress lock
    never lapses under a running attempt."""
    jobs = JobSettings(job_timeout_seconds=2, sweep_interval_seconds=1, poll_interval_seconds=0.2)
    receiver.delay = 3  # longer than the job timeout: each attempt times out
    workers = [
        WorkerProcess(
            harness_argv(pg_url, receiver, participants, tmp_path, redis_url, jobs), tmp_path / f"w{n}.log"
        )
        for n in range(2)
    ]
    try:
        for worker in workers:
            await worker.start()
        [row_id] = await add_deliveries(pg, 1)

        async def several_attempts() -> bool:
            return receiver.attempts[row_id] >= 4

        await until(several_attempts, 60, "four attempts")
    finally:
        for worker in workers:
            await worker.stop()
    times = [t for t, delivery in receiver.arrivals if delivery == row_id]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= jobs.job_timeout_seconds - 0.1, gaps  # never two attempts at once
