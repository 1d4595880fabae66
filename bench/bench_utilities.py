"""Utility jobs delivered per second to the four simulated providers, beside arq running no-op jobs.

Run: .venv/bin/python bench/bench_utilities.py [--cases 400] [--workers 1]

On PostgreSQL (a scratch database) and a private redis-server (or the shared Redis, database 12): `cases`
registered transfers with one job per provider — water (signed webhook), power (SOAP, Hy then Gh), gas
(signed webhook, result by callback on the gateway API) and network (pulled by the provider over the
gateway API) — are written, then the clock starts with the dispatcher: arq worker processes deliver, the
gateway process dispatches and serves the providers' pulls and callbacks, the simulators answer. The clock
stops when every job is done (and each provider applied each job exactly once). The baseline, measured in
the same run on the same Redis: an arq worker running no-op jobs. Target: at least 300 jobs/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from arq import Worker, create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.api.keys import CONTAINER  # noqa: E402
from gateway.db.tables.utilities import UtilityJobRow  # noqa: E402
from gateway.jobs.retry import RetryPolicy  # noqa: E402
from gateway.logging import configure_logging  # noqa: E402
from gateway.settings import JobSettings  # noqa: E402
from sandbox.utilities import start_utilities  # noqa: E402
from tests.utilities.harness import BANK, Gateway, running_gateway, worker_config  # noqa: E402
from tests.utilities.load import write_jobs  # noqa: E402
from tests.utilities.support import Registry, eventually  # noqa: E402

ADMIN_DSN = os.environ.get("GW_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
JOBS = JobSettings(poll_interval_seconds=0.05, arq_max_jobs=100, arq_poll_delay_seconds=0.02)


# --- infrastructure -------------------------------------------------------------------------------------


async def scratch_database() -> tuple[str, str]:
    name = f"gwbench_utilities_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def start_redis(directory: Path) -> tuple[str, asyncio.subprocess.Process | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        return "redis://127.0.0.1:6379/12", None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        stdout=asyncio.subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            pool = await create_pool(RedisSettings.from_dsn(url))
            await pool.aclose()
            break
        except Exception:  # not listening yet
            await asyncio.sleep(0.05)
    return url, process


# --- the baseline: arq with no-op jobs ------------------------------------------------------------------


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def arq_noop_rate(redis_url: str, jobs: int) -> float:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    queue = "bench:noop"
    await asyncio.gather(*(pool.enqueue_job("noop", _queue_name=queue) for _ in range(jobs)))
    worker = Worker(
        functions=[noop],
        queue_name=queue,
        redis_settings=RedisSettings.from_dsn(redis_url),
        burst=True,
        max_jobs=JOBS.arq_max_jobs,
        poll_delay=JOBS.arq_poll_delay_seconds,
        keep_result=0,
        handle_signals=False,
    )
    started = time.perf_counter()
    await worker.main()
    elapsed = time.perf_counter() - started
    await worker.close()
    await pool.aclose()
    return jobs / elapsed


# --- the utility pipeline -------------------------------------------------------------------------------


async def exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def done_count(gateway: Gateway) -> int:
    async with gateway.services.db.session() as session:
        stmt = select(func.count()).select_from(UtilityJobRow).where(UtilityJobRow.status == "done")  # type: ignore[arg-type]
        return int((await session.execute(stmt)).scalar_one())


async def utilities_rate(
    args: argparse.Namespace, url: str, redis_url: str, directory: Path
) -> dict[str, Any]:
    registry = Registry.create()
    providers = await start_utilities(
        registry.ca, registry.certificate, gas_process_delay=0.0, poll_interval=0.05
    )
    policy = RetryPolicy(schedule=(0, 1, 2, 5, 10), jitter=0.1)
    try:
        async with running_gateway(
            registry,
            providers,
            url,
            directory,
            dispatch=False,
            redis_url=redis_url,
            jobs=JOBS,
            retry_policy=policy,
        ) as gateway:
            await write_jobs(gateway.services, providers, args.cases, bank=BANK, batch=100)
            total = 4 * args.cases
            config = worker_config(gateway, directory, policy.schedule)
            workers = []
            for n in range(args.workers):
                ready = directory / f"worker-{n}.ready"
                cfg = config.with_name(f"worker-{n}.json")
                cfg.write_text(config.read_text().replace(str(directory / "worker.ready"), str(ready)))
                with (directory / f"worker-{n}.log").open("ab") as log:
                    workers.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "tests.utilities.worker_process",
                            str(cfg),
                            cwd=REPO,
                            stdout=log,
                            stderr=log,
                        )
                    )
                await eventually(lambda ready=ready: exists(ready), within=30)
            container = gateway.client.app[CONTAINER]
            assert container.dispatcher is not None
            started = time.perf_counter()
            main_cpu_start = time.process_time()
            worker_cpu_start = sum(cpu_seconds(w.pid) for w in workers)
            await container.dispatcher.start()
            deadline = started + args.timeout
            done = 0
            while done < total and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
                done = await done_count(gateway)
            elapsed = time.perf_counter() - started
            main_cpu = time.process_time() - main_cpu_start
            worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - worker_cpu_start
            for worker in workers:
                worker.terminate()
                await worker.wait()
            if args.logs:
                for n in range(args.workers):
                    shutil.copy(directory / f"worker-{n}.log", Path(args.logs) / f"worker-{n}.log")
            applied = {code: p.book.applied for code, p in providers.all.items()}
            return {
                "jobs": total,
                "done": done,
                "seconds": elapsed,
                "rate": done / elapsed,
                "applied_once": all(
                    set(a.values()) == {1} and len(a) == args.cases for a in applied.values()
                ),
                "gas_callbacks": len(providers.gas.callbacks_sent),
                "network_polls": providers.network.polls,
                "main_cpu_ms_per_job": 1000 * main_cpu / max(done, 1),
                "worker_cpu_ms_per_job": 1000 * worker_cpu / max(done, 1),
            }
    finally:
        await providers.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=400, help="registered transfers, four jobs each")
    parser.add_argument("--workers", type=int, default=1, help="arq worker processes delivering")
    parser.add_argument("--noop-jobs", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=45.0)
    parser.add_argument("--logs", help="copy the worker processes' logs into this directory")
    args = parser.parse_args()
    configure_logging("WARNING", json=True)  # the gateway process; the workers log INFO like production
    with tempfile.TemporaryDirectory(prefix="bench-utilities-") as scratch:
        directory = Path(scratch)
        name, url = await scratch_database()
        redis_url, redis_process = await start_redis(directory)
        try:
            baseline = await arq_noop_rate(redis_url, args.noop_jobs)
            result = await utilities_rate(args, url, redis_url, directory)
        finally:
            if redis_process is not None:
                redis_process.kill()
                await redis_process.wait()
            await drop_database(name)
    print(f"arq no-op jobs:            {baseline:8.0f} jobs/s  ({args.noop_jobs} jobs, 1 in-process worker)")
    print(
        f"utility jobs delivered:    {result['rate']:8.0f} jobs/s  ({result['done']}/{result['jobs']} done in "
        f"{result['seconds']:.1f} s, {args.workers} worker process(es); water webhook, power SOAP ×2, gas "
        f"webhook + callback, network pull)"
    )
    print(f"ratio to arq no-op:        {result['rate'] / baseline:8.2f}")
    print(
        f"CPU per job:               gateway + simulators process {result['main_cpu_ms_per_job']:.2f} ms, "
        f"worker process(es) {result['worker_cpu_ms_per_job']:.2f} ms"
    )
    print(
        f"each job applied once:     {result['applied_once']}  (gas callbacks {result['gas_callbacks']}, "
        f"network polls {result['network_polls']})"
    )
    target = 300
    ok = result["done"] == result["jobs"] and result["applied_once"] and result["rate"] >= target
    print(f"target ≥ {target} jobs/s:          {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
