"""arq on real Redis: job ids carry the attempt, the worker records outcomes in the outbox, and a Redis
flush loses nothing (the sweeper re-queues rows whose job vanished)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from sqlalchemy import func, select, update

from gateway.db import Database
from gateway.db.tables.infra import OutboxRow
from gateway.jobs.dispatch import ArqDispatcher
from gateway.jobs.registry import JobContext, JobRegistry
from gateway.jobs.retry import RetryPolicy
from gateway.jobs.runner import DeliveryRunner
from gateway.jobs.sweeper import Sweeper
from gateway.jobs.worker import arq_probe, build_worker, close_worker
from gateway.settings import JobSettings, Settings
from tests.jobs.harness import WEBHOOK_JOB, Receiver, add_deliveries, webhook_handler

pytestmark = pytest.mark.redis
JOBS = JobSettings(arq_queue="test:deliveries", job_timeout_seconds=5, arq_poll_delay_seconds=0.01)


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    redis = ArqRedis.from_url(redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
async def runner(database: Database, receiver: Receiver, participants: Any) -> AsyncIterator[DeliveryRunner]:
    async with aiohttp.ClientSession() as http:
        context = JobContext(database, http, participants.registry_key, Settings())
        registry = JobRegistry({WEBHOOK_JOB: webhook_handler(receiver.url)})
        yield DeliveryRunner(database, registry, context, policy=RetryPolicy(schedule=(0, 0, 0), jitter=0))


async def run_worker(runner: DeliveryRunner, redis_url: str) -> None:
    worker = build_worker(runner, RedisSettings.from_dsn(redis_url), JOBS, burst=True, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await close_worker(worker)


async def by_status(db: Database) -> dict[str, int]:
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    async with db.session() as session:
        conn = await session.connection()
        return dict((await conn.execute(select(table.c.status, func.count()).group_by(table.c.status))).all())


async def test_dispatched_rows_run_in_the_worker_and_retries_get_new_job_ids(
    database: Database, pool: ArqRedis, runner: DeliveryRunner, receiver: Receiver, redis_url: str
) -> None:
    receiver.script = [503]  # the first attempt of one row fails
    ids = await add_deliveries(database, 5)
    dispatcher = ArqDispatcher(database, pool, queue_name=JOBS.arq_queue)
    await dispatcher.dispatch_once()
    queued = {key.decode() async for key in pool.scan_iter("arq:job:*")}
    assert queued == {f"arq:job:{row_id}:1" for row_id in ids}
    await run_worker(runner, redis_url)
    assert await by_status(database) == {"delivered": 4, "pending": 1}
    await dispatcher.dispatch_once()  # the retry is attempt 2: a fresh id, not blocked by attempt 1's keys
    await run_worker(runner, redis_url)
    assert await by_status(database) == {"delivered": 5}
    assert set(receiver.applied) == set(ids)


async def test_redis_flush_loses_nothing(
    database: Database, pool: ArqRedis, runner: DeliveryRunner, receiver: Receiver, redis_url: str
) -> None:
    ids = await add_deliveries(database, 20)
    dispatcher = ArqDispatcher(database, pool, queue_name=JOBS.arq_queue)
    await dispatcher.dispatch_once()
    assert await by_status(database) == {"in_flight": 20}
    await pool.flushdb()  # Redis loses every queued job
    sweeper = Sweeper(database, stale_after=90, probe=arq_probe(pool), vanished_grace=0)
    assert await sweeper.sweep() == 20
    await dispatcher.dispatch_once()
    await run_worker(runner, redis_url)
    assert await by_status(database) == {"delivered": 20}
    assert set(receiver.applied) == set(ids)


async def test_sweeper_leaves_rows_whose_job_is_still_queued(
    database: Database, pool: ArqRedis, receiver: Receiver
) -> None:
    await add_deliveries(database, 3)
    await ArqDispatcher(database, pool, queue_name=JOBS.arq_queue).dispatch_once()
    sweeper = Sweeper(database, stale_after=90, probe=arq_probe(pool), vanished_grace=0)
    assert await sweeper.sweep() == 0
    assert await by_status(database) == {"in_flight": 3}


async def test_a_refused_enqueue_is_not_a_silent_drop(
    database: Database, pool: ArqRedis, runner: DeliveryRunner, receiver: Receiver, redis_url: str
) -> None:
    [row_id] = await add_deliveries(database, 1)
    dispatcher = ArqDispatcher(database, pool, queue_name=JOBS.arq_queue)
    await dispatcher.dispatch_once()
    # A second claim of the same attempt (as if two dispatchers raced): arq refuses the duplicate id.
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    async with database.transaction() as uow:
        conn = await uow.session.connection()
        await conn.execute(update(table).where(table.c.id == row_id).values(status="pending", attempts=0))
    await dispatcher.dispatch_once()
    assert await pool.zcard(JOBS.arq_queue) == 1
    await run_worker(runner, redis_url)  # the one queued job belongs to the first claim: it skips
    assert await by_status(database) == {"in_flight": 1}
    sweeper = Sweeper(database, stale_after=90, probe=arq_probe(pool), vanished_grace=0)
    assert await sweeper.sweep() == 1  # its job is gone: back in the queue
    await dispatcher.dispatch_once()
    await run_worker(runner, redis_url)
    assert await by_status(database) == {"delivered": 1}
    assert list(receiver.applied) == [row_id]


async def test_a_poll_starts_only_queued_due_jobs_that_nobody_runs(
    pool: ArqRedis, runner: DeliveryRunner, redis_url: str
) -> None:
    """The jobs of a poll are marked in progress together, each as arq's WATCH/MULTI would: a job running
    elsewhere, deferred, or no longer queued is not started, and only a started job gets the in-progress key."""
    now = timestamp_ms()
    await pool.zadd(JOBS.arq_queue, {"due:1": now - 5, "running:1": now - 5, "deferred:1": now + 60_000})
    await pool.set(in_progress_key_prefix + "running:1", b"1")  # another worker's
    worker = build_worker(runner, RedisSettings.from_dsn(redis_url), JOBS, handle_signals=False)
    worker._pool = pool  # what main() sets once connected
    try:
        scores = await worker._mark_in_progress(["due:1", "running:1", "deferred:1", "gone:1"])
        assert scores == [now - 5, None, None, None]
        ttl = await pool.pttl(in_progress_key_prefix + "due:1")
        assert 0 < ttl <= JOBS.recovery_seconds * 1000
        assert not await pool.exists(in_progress_key_prefix + "deferred:1", in_progress_key_prefix + "gone:1")
        assert await pool.pttl(in_progress_key_prefix + "running:1") == -1  # left as it was
        # Started once: a second poll that still sees the job (its run not yet begun) does not start it again.
        assert await worker._mark_in_progress(["due:1"]) == [None]
    finally:
        worker._pool = None
        await pool.delete(JOBS.arq_queue, *(in_progress_key_prefix + j for j in ("due:1", "running:1")))
