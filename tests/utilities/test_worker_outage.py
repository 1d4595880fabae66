"""`gateway worker` (the real command, as its own process) under Redis outages: started while Redis is down,
and with Redis killed and restarted under it. It never exits; it logs one warning when Redis goes and one
when it is back; every utility job written before, during and after the outages is delivered once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.db.tables.infra import OutboxStatus
from gateway.seed import INSTITUTIONS
from sandbox.utilities import UtilityProviders
from tests.outages import PrivatePostgres, PrivateRedis
from tests.utilities.harness import BANK, PII_INDEX, PII_KEY, Gateway, running_gateway
from tests.utilities.load import write_jobs
from tests.utilities.support import Registry, eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(240)]
REPO = Path(__file__).resolve().parents[2]
CASES = 5  # 20 jobs per batch
GONE = "redis unavailable: waiting for it; running deliveries go on"
BACK = "redis available again: deliveries resume"


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    if not server.can_stop:
        pytest.skip("needs redis-server to stop and start a Redis of the test's own")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def worker_environment(gateway: Gateway, directory: Path) -> dict[str, str]:
    """What an operator gives `gateway worker`: the same database, Redis, CA, registry key, PII keys and
    parties as the gateway under test, through GW_* variables."""
    directory.mkdir()
    gateway.registry.ca.save(directory / "ca")  # the providers' and banks' certificates are on its list
    (directory / "registry").mkdir()
    (directory / "registry" / "registry.key").write_bytes(gateway.registry.key.to_pem())
    (directory / "registry" / "registry.pem").write_bytes(gateway.registry.certificate.pem)
    settings = gateway.settings
    assert settings.database_url and settings.redis_url
    banks = gateway.banks.adapter_config()["banks"]
    return {
        **os.environ,
        "GW_DATA_DIR": str(directory),
        "GW_DATABASE_URL": settings.database_url,
        "GW_REDIS_URL": settings.redis_url,
        "GW_UTILITIES": json.dumps(gateway.adapter_config, default=str),
        "GW_BANKS": json.dumps(banks, default=str),
        # Every bank with an adapter is an institution too, or the worker refuses to start.
        "GW_INSTITUTIONS": json.dumps(
            {c: {"name": i.name, "credit_code": i.credit_code} for c, i in INSTITUTIONS.items() if c in banks}
        ),
        "GW_PII_KEYS": json.dumps({"k1": PII_KEY.hex()}),
        "GW_PII_CURRENT_KEY_ID": "k1",
        "GW_PII_INDEX_KEY": PII_INDEX.hex(),
        "GW_JOBS__POLL_INTERVAL_SECONDS": "0.1",
        "GW_JOBS__SWEEP_INTERVAL_SECONDS": "0.5",
        "GW_LOG_JSON": "true",
        "GW_LOG_LEVEL": "INFO",
    }


def events(log: Path) -> list[str]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(str(json.loads(line).get("event")))
            except ValueError:
                continue
    return found


async def delivered(gateway: Gateway) -> int:
    rows = await gateway.outbox()
    return sum(r.status == OutboxStatus.DELIVERED.value for r in rows)


async def test_gateway_worker_rides_out_redis_outages_and_delivers_every_job(
    registry: Registry, providers: UtilityProviders, pg_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    async with running_gateway(
        registry, providers, pg_url, tmp_path, dispatch=False, redis_url=private_redis.url
    ) as gateway:
        env = worker_environment(gateway, tmp_path / "worker")
        log = tmp_path / "worker.log"
        await private_redis.stop()  # the worker starts while Redis is down
        with log.open("ab") as out:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.cli", "worker", cwd=REPO, env=env, stdout=out, stderr=out
            )
        try:

            async def logged(event: str, count: int) -> bool:
                if worker.returncode is not None:
                    raise AssertionError(
                        f"gateway worker exited {worker.returncode}: {log.read_text()[-3000:]}"
                    )
                return events(log).count(event) >= count

            async def all_delivered(count: int) -> bool:
                if worker.returncode is not None:
                    raise AssertionError(
                        f"gateway worker exited {worker.returncode}: {log.read_text()[-3000:]}"
                    )
                return await delivered(gateway) == count

            await eventually(lambda: logged(GONE, 1), within=60)
            await write_jobs(gateway.services, providers, CASES, bank=BANK, start=0)
            await asyncio.sleep(8)  # arq's worker gave up after ~6 s of retries and exited
            assert worker.returncode is None, log.read_text()[-3000:]
            await private_redis.start()
            await eventually(lambda: logged(BACK, 1), within=30)
            await eventually(lambda: all_delivered(4 * CASES), within=60)

            # Redis killed under the running worker, with jobs written before, during and after the outage.
            await write_jobs(gateway.services, providers, CASES, bank=BANK, start=CASES)
            await private_redis.stop()
            await eventually(
                lambda: logged(GONE, 2), within=30
            )  # an idle worker exited 0.3 s after Redis went
            await write_jobs(gateway.services, providers, CASES, bank=BANK, start=2 * CASES)
            await asyncio.sleep(3)
            assert worker.returncode is None, log.read_text()[-3000:]
            await private_redis.start()  # empty: every queued job and in-progress key is gone
            await write_jobs(gateway.services, providers, CASES, bank=BANK, start=3 * CASES)
            await eventually(lambda: all_delivered(16 * CASES), within=90)
            await eventually(lambda: logged(BACK, 2), within=10)
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
                await asyncio.wait_for(worker.wait(), 60)

    assert worker.returncode == 0, log.read_text()[-3000:]  # SIGTERM: a clean stop
    seen = events(log)
    assert seen.count(GONE) == 2 and seen.count(BACK) == 2, [e for e in seen if "redis" in e]
    rows = await gateway.outbox()
    assert len(rows) == 16 * CASES and all(r.status == OutboxStatus.DELIVERED.value for r in rows)
    for code, provider in providers.all.items():
        own = {r.id for r in rows if r.target == code}
        assert set(provider.book.applied) == own, code
        assert set(provider.book.applied.values()) == {1}, code  # none applied twice


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        await server.initialise()
        await server.start()
        yield server
    finally:
        await server.close()


async def test_gateway_worker_rides_out_a_postgres_restart(
    registry: Registry,
    providers: UtilityProviders,
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    tmp_path: Path,
) -> None:
    """PostgreSQL stopped and started under a running `gateway worker` with deliveries under way: it stays
    up, pauses with one warning per loop instead of a traceback a second, and delivers every job once."""
    async with running_gateway(
        registry, providers, private_postgres.url, tmp_path, dispatch=False, redis_url=private_redis.url
    ) as gateway:
        env = worker_environment(gateway, tmp_path / "worker")
        log = tmp_path / "worker.log"
        with log.open("ab") as out:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.cli", "worker", cwd=REPO, env=env, stdout=out, stderr=out
            )
        try:

            async def some_delivered() -> bool:
                # Pushed by the worker (the network provider's pulls are settled by the gateway's API).
                if worker.returncode is not None:
                    raise AssertionError(f"gateway worker exited: {log.read_text()[-3000:]}")
                return len(providers.water.book.applied) >= 2

            async def all_delivered() -> bool:
                if worker.returncode is not None:
                    raise AssertionError(f"gateway worker exited: {log.read_text()[-3000:]}")
                return await delivered(gateway) == 8 * CASES

            await write_jobs(gateway.services, providers, CASES, bank=BANK, start=0)
            await eventually(some_delivered, within=60)
            await private_postgres.stop("fast")
            await asyncio.sleep(3)
            assert worker.returncode is None, log.read_text()[-3000:]
            await private_postgres.start()
            await write_jobs(gateway.services, providers, CASES, bank=BANK, start=CASES)
            await eventually(all_delivered, within=120)
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
                await asyncio.wait_for(worker.wait(), 60)

    assert worker.returncode == 0, log.read_text()[-3000:]
    seen = events(log)
    assert seen.count("dispatch paused: database or Redis unavailable") >= 1, seen[-20:]
    assert "dispatch pass failed" not in seen and "audit sealing pass failed" not in seen
    rows = await gateway.outbox()
    assert len(rows) == 8 * CASES
    for code, provider in providers.all.items():
        own = {r.id for r in rows if r.target == code}
        assert set(provider.book.applied) == own, code
        assert set(provider.book.applied.values()) == {1}, code  # none applied twice
