"""Faults on real PostgreSQL and Redis: the worker SIGKILLed mid-delivery, Redis restarted, providers down
or answering 429 with Retry-After, duplicate acknowledgements. Every job ends done, none is lost, no
provider applies one twice, and the bank is told once per case."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.db.tables.infra import OutboxStatus
from gateway.db.tables.utilities import UtilityJobRow
from gateway.jobs.retry import RetryPolicy
from gateway.ports.banks import CaseEvent
from gateway.settings import JobSettings
from sandbox.utilities import UtilityProviders
from tests.outages import PrivateRedis
from tests.utilities.harness import BANK, Gateway, running_gateway, worker_config
from tests.utilities.load import write_jobs
from tests.utilities.support import Registry, eventually

REPO = Path(__file__).resolve().parents[2]
CASES = 25  # 100 jobs
RETRY_AFTER = 3  # seconds the gas company asks for; longer than the adapter waits in-call (2 s)
# The time a worker needs to read an answer and write its retry: a 429 answered closer than this to the
# worker's SIGKILL may not have been heard.
HEARD_BY = 0.25
SCHEDULE = (0, 0.5, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2)  # about 20 s of retries before a dead letter
JOBS = JobSettings(
    poll_interval_seconds=0.05,
    sweep_interval_seconds=0.5,
    stale_after_seconds=7,  # > crash recovery (job_timeout + 2 s): a slow attempt never runs twice at once
    job_timeout_seconds=4,
    arq_max_jobs=20,
    arq_poll_delay_seconds=0.05,
    arq_queue="utilities:deliveries",
)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def start_worker(config: Path, log: Path) -> asyncio.subprocess.Process:
    """A worker process; returns once it is consuming the queue (it writes its ready file then)."""
    ready = config.with_name("worker.ready")
    ready.unlink(missing_ok=True)
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.utilities.worker_process",
            str(config),
            cwd=REPO,
            stdout=output,
            stderr=output,
        )

    async def started() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"the worker exited: {tail(log)}")
        return ready.exists()

    await eventually(started, within=30)
    return process


async def stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    if process.returncode is None:
        process.send_signal(sig)
        await process.wait()


async def counts(gateway: Gateway) -> dict[str, int]:
    """Utility jobs by status ('final': done or rejected) and outbox rows in flight."""
    async with gateway.services.db.session() as session:
        done = (
            await session.execute(
                select(func.count()).select_from(UtilityJobRow).where(UtilityJobRow.status == "done")  # type: ignore[arg-type]
            )
        ).scalar_one()
    rows = await gateway.outbox()
    return {
        "done": done,
        "in_flight": sum(r.status == OutboxStatus.IN_FLIGHT.value for r in rows),
        "settled": sum(r.status in (OutboxStatus.DELIVERED.value, OutboxStatus.DEAD.value) for r in rows),
    }


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
async def test_every_job_ends_done_once_through_kill_restart_outages_and_duplicates(
    registry: Registry, providers: UtilityProviders, pg_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    policy = RetryPolicy(schedule=SCHEDULE, jitter=0.1)
    async with running_gateway(
        registry,
        providers,
        pg_url,
        tmp_path,
        redis_url=private_redis.url,
        jobs=JOBS,
        retry_policy=policy,
        timeout_seconds=3,
    ) as gateway:
        await providers.power.stop()  # the power company is down for the first part of the run
        providers.gas.faults.rate_limit(times=8, retry_after=RETRY_AFTER)
        providers.water.faults.fail(times=6, status=503)
        providers.gas.faults.duplicate_callbacks = True
        providers.network.faults.duplicate_acks = True
        for server in providers.servers:
            server.faults.latency = 0.3  # so that the kill finds requests mid-flight at the providers
        case_ids = await write_jobs(gateway.services, providers, CASES, bank=BANK)
        config = worker_config(gateway, tmp_path, SCHEDULE)
        log = tmp_path / "worker.log"

        workers = [await start_worker(config, log)]
        try:

            async def busy() -> bool:
                # The worker is well into the pushes (the network provider pulls without it).
                return len(providers.water.arrivals) + len(providers.gas.arrivals) >= 24

            async def all_settled() -> bool:
                return (await counts(gateway))["settled"] == 4 * CASES

            async def told() -> bool:
                return len(gateway.notices(CaseEvent.UTILITIES_DONE.value)) >= CASES

            await eventually(busy, within=30)
            killed_at = time.monotonic()
            await stop(
                workers[0], signal.SIGKILL
            )  # mid-delivery: rows in flight, arq jobs queued and running
            await private_redis.restart()  # the queue and every in-progress key are lost
            await providers.power.start()  # and the power company is back
            workers.append(await start_worker(config, log))
            await eventually(all_settled, within=60)
            await eventually(told, within=20)  # the bank's notices go through the same worker
        finally:
            for worker in workers:
                await stop(worker)

        rows = await gateway.outbox()
        assert len(rows) == 4 * CASES
        dead = [(r.target, r.last_error) for r in rows if r.status == OutboxStatus.DEAD.value]
        assert dead == [], dead  # none given up: every job was delivered within its schedule
        assert (await counts(gateway))["done"] == 4 * CASES  # none lost

        for code, provider in providers.all.items():
            own = {r.id for r in rows if r.target == code}
            assert set(provider.book.applied) == own, code
            assert set(provider.book.applied.values()) == {1}, code  # no effect applied twice
        assert sum(p.book.repeats for p in providers.servers) > 0  # redeliveries did reach the providers

        # 429 + Retry-After: the same delivery never came back sooner than the provider asked, once the
        # gateway had heard it ask. A 429 answered within HEARD_BY of the kill (the provider records its answer
        # after its latency, so requests in flight at the kill are answered to a dead worker) never reached the
        # gateway: that row is in flight with no queued job, and the sweeper re-queues it as vanished, as it
        # must. Every 429'd delivery still came back.
        arrivals = providers.gas.arrivals
        limited = [(t, d) for t, d, status in arrivals if status == 429]
        assert len(limited) == 8
        heard = [(t, d) for t, d in limited if t < killed_at - HEARD_BY]
        assert heard, (killed_at, limited)  # the kill waits for 24 pushes: the first 429s come well before it
        for at, delivery_id in limited:
            later = [t for t, d, _ in arrivals if d == delivery_id and t > at]
            assert later, delivery_id
            if (at, delivery_id) in heard:
                assert min(later) - at >= RETRY_AFTER - 0.3, (at, delivery_id, min(later))

        # Duplicate acknowledgements changed nothing: one record per job, one notice per case.
        assert len(providers.gas.callbacks_sent) == 2 * CASES
        assert len(providers.network.acks_sent) == 3 * CASES
        notices = gateway.notices(CaseEvent.UTILITIES_DONE.value)
        assert sorted(n.data["case_id"] for n in notices) == sorted(case_ids)
