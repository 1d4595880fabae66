"""Utility jobs delivered per second to the four simulated providers, beside arq running no-op jobs.

Run: .venv/bin/python bench/bench_utilities.py [--cases 300] [--workers 1] [--logs DIR]

On PostgreSQL (a scratch database) and a private redis-server (or the shared Redis, database 12), `cases`
registered transfers with one job per provider are written — water (signed webhook), power (SOAP: Hy then
Gh), gas (signed webhook, result by callback on the gateway API) and network (pulled by the provider over
the gateway API) — and the clock starts with the dispatcher. Processes: the gateway (API for pulls and
callbacks, the dispatcher), arq worker process(es) that deliver, and the simulators (all four, another
process, as the providers' own systems would be). The clock stops when every job is done; each provider
must have applied each job exactly once. The baseline, on the same Redis in the same run: an arq worker
running no-op jobs. Target (issue 18): at least 400 jobs/s. CPU per job is reported per process, with the
load average, because the machine's 2 cores are shared: the gateway, the workers, the simulators, this
run's PostgreSQL backends (looked at every 0.1 s, so that a connection a pool opened and closed meanwhile
counts too; the shared background processes, such as the WAL writer, are not) and the private Redis;
their sum gives the rate the 2 cores could carry ("2-core ceiling"), steadier than jobs/s on a busy machine, and the sum the target needs (2 cores / 400 jobs/s = 5 ms). The SM2 share of it
is estimated from the signed exchanges the simulators counted (each: the caller signs, the receiver
verifies, the receiver signs its answer, the caller verifies it) at the sign and verify cost measured in
this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from submissions.cpu import sm2_costs  # noqa: E402  (bench/ is this script's own directory)

import certs  # noqa: E402
from gateway import runtime  # noqa: E402
from gateway.api.keys import CONTAINER  # noqa: E402
from gateway.db.tables.utilities import UtilityJobRow  # noqa: E402
from gateway.jobs.retry import RetryPolicy  # noqa: E402
from gateway.logging import configure_logging  # noqa: E402
from gateway.settings import JobSettings  # noqa: E402
from sandbox.utilities import start_utilities  # noqa: E402
from tests.utilities.harness import BANK, Gateway, running_gateway, worker_config  # noqa: E402
from tests.utilities.load import open_accounts, write_jobs  # noqa: E402
from tests.utilities.support import Registry, eventually  # noqa: E402

ADMIN_DSN = os.environ.get("GW_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
JOBS = JobSettings(poll_interval_seconds=0.05, arq_max_jobs=100, arq_poll_delay_seconds=0.02)
POLICY = RetryPolicy(schedule=(0, 1, 2, 5, 10), jitter=0.1)
TARGET = 400  # jobs/s (issue 18)


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
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = await asyncio.create_subprocess_exec(
        binary, *args, "--dir", str(directory), stdout=asyncio.subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"

    async def listening() -> bool:
        client = Redis.from_url(url)
        try:
            return bool(await client.ping())
        except (OSError, RedisConnectionError):  # not yet
            return False
        finally:
            await client.aclose()

    await eventually(listening, within=10)
    return url, process


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(database: str) -> dict[int, float]:
    """CPU so far of each PostgreSQL backend connected to `database` (its command line names the database;
    the shared background processes, such as the WAL writer, are not counted)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if cmdline.startswith("postgres: ") and f" {database} " in cmdline:
                found[int(entry.name)] = cpu_seconds(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return found


async def pg_sessions(database: str) -> int:
    """Connections opened to `database` so far (PostgreSQL's statistics, which lag up to a second)."""
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        count = await admin.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = $1", database)
    finally:
        await admin.close()
    return int(count or 0)


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


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


# --- the simulators, in a process of their own ------------------------------------------------------------


async def run_simulators(spec_path: str) -> None:
    """`--simulators SPEC`: start the four providers, write their configuration, obey stdin commands."""
    configure_logging("WARNING", json=True)
    spec = json.loads(await asyncio.to_thread(Path(spec_path).read_text))
    ca = certs.CertificateAuthority.load(Path(spec["ca_dir"]))
    registry = certs.Certificate.from_pem(spec["registry_certificate"].encode())
    providers = await start_utilities(ca, registry, gas_process_delay=0.0, poll_interval=0.05)
    open_accounts(providers, spec["cases"])
    answer = {
        "adapter_config": providers.adapter_config(),
        "certificates": {code: c.pem.decode() for code, c in providers.certificates().items()},
    }
    print("@ready " + json.dumps(answer), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "attach":
            await providers.attach_gateway(argument)
        elif command == "detach":
            await providers.detach()
        elif command == "stats":
            books = {code: provider.book for code, provider in providers.all.items()}
            stats = {
                "applied": {code: sorted(set(b.applied.values())) for code, b in books.items()},
                "jobs": {code: len(b.applied) for code, b in books.items()},
                "repeats": sum(b.repeats for b in books.values()),
                "gas_callbacks": len(providers.gas.callbacks_sent),
                "network_polls": providers.network.polls,
                # Every signed HTTP exchange: pushes and SOAP calls received, and the calls made to the gateway.
                "exchanges": sum(server.requests_received for server in providers.servers)
                + providers.gas.gateway.requests_sent
                + providers.network.gateway.requests_sent,
            }
            print("@stats " + json.dumps(stats), flush=True)
        elif command == "stop":
            break
        print(f"@ok {command}", flush=True)
    await providers.stop()


async def reply(process: asyncio.subprocess.Process, prefix: str) -> str:
    """The simulators' next answer line with `prefix` (other output, such as warnings, is skipped)."""
    assert process.stdout is not None
    while True:
        line = (await process.stdout.readline()).decode()
        if not line:
            raise RuntimeError("the simulators process ended")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()


class RemoteProviders:
    """The simulators process, as `running_gateway` uses a provider set."""

    def __init__(self, process: asyncio.subprocess.Process, ready: dict[str, Any]) -> None:
        self.process = process
        self._config: dict[str, dict[str, Any]] = ready["adapter_config"]
        self._certificates = {
            code: certs.Certificate.from_pem(p.encode()) for code, p in ready["certificates"].items()
        }

    @classmethod
    async def start(cls, registry: Registry, directory: Path, cases: int) -> RemoteProviders:
        registry.ca.save(directory / "ca")
        spec = directory / "simulators.json"
        spec.write_text(
            json.dumps(
                {
                    "ca_dir": str(directory / "ca"),
                    "registry_certificate": registry.certificate.pem.decode(),
                    "cases": cases,
                }
            )
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--simulators", str(spec),
            cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process, json.loads(await reply(process, "@ready")))

    async def command(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        command = line.partition(" ")[0]
        if command == "stats":
            return await reply(self.process, "@stats")
        return await reply(self.process, f"@ok {command}")

    def certificates(self) -> dict[str, certs.Certificate]:
        return self._certificates

    def adapter_config(self, *, pull: Any = None, **overrides: Any) -> dict[str, dict[str, Any]]:
        return {
            code: {**entry, **(overrides if "url" in entry or "endpoint" in entry else {})}
            for code, entry in self._config.items()
        }

    async def attach_gateway(self, base_url: str) -> None:
        await self.command(f"attach {base_url}")

    async def detach(self) -> None:
        await self.command("detach")

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"stop\n")
        await self.process.stdin.drain()
        await self.process.wait()


# --- the run --------------------------------------------------------------------------------------------


async def done_count(gateway: Gateway) -> int:
    async with gateway.services.db.session() as session:
        conn = await session.connection()
        stmt = select(func.count()).select_from(UtilityJobRow).where(UtilityJobRow.status == "done")  # type: ignore[arg-type]
        return int((await conn.execute(stmt)).scalar_one())


async def start_workers(directory: Path, config: Path, count: int) -> list[asyncio.subprocess.Process]:
    workers = []
    for n in range(count):
        ready = directory / f"worker-{n}.ready"
        own = config.with_name(f"worker-{n}.json")
        text = await asyncio.to_thread(config.read_text)
        await asyncio.to_thread(own.write_text, text.replace(str(directory / "worker.ready"), str(ready)))
        with (directory / f"worker-{n}.log").open("ab") as log:
            workers.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.utilities.worker_process",
                    str(own),
                    cwd=REPO,
                    stdout=log,
                    stderr=log,
                )
            )

        async def started(ready: Path = ready) -> bool:
            return await asyncio.to_thread(ready.exists)

        await eventually(started, within=30)
    return workers


async def utilities_rate(
    args: argparse.Namespace,
    url: str,
    redis_url: str,
    directory: Path,
    database: str,
    redis_pid: int | None,
) -> dict[str, Any]:
    registry = Registry.create()
    simulators = await RemoteProviders.start(registry, directory, args.cases)
    try:
        async with running_gateway(
            registry,
            simulators,  # type: ignore[arg-type]
            url,
            directory,
            dispatch=False,
            redis_url=redis_url,
            jobs=JOBS,
            retry_policy=POLICY,
        ) as gateway:
            await write_jobs(gateway.services, None, args.cases, bank=BANK, batch=100)
            total = 4 * args.cases
            config = worker_config(gateway, directory, POLICY.schedule)
            workers = await start_workers(directory, config, args.workers)
            container = gateway.client.app[CONTAINER]
            assert container.dispatcher is not None
            pids = {"gateway": os.getpid(), "simulators": simulators.process.pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            before["workers"] = sum(cpu_seconds(w.pid) for w in workers)
            if redis_pid is not None:
                pids["redis"] = redis_pid
                before["redis"] = cpu_seconds(redis_pid)
            backends = backend_cpu(database)
            sessions = await pg_sessions(database)
            # Backends are looked at as the run goes, so that one a pool opened and closed again meanwhile
            # (an overflow connection) is counted too; this process's CPU for looking is not the gateway's.
            seen, watching = dict(backends), 0.0
            started = time.perf_counter()
            await container.dispatcher.start()
            done = 0
            while done < total and time.perf_counter() < started + args.timeout:
                await asyncio.sleep(0.1)
                done = await done_count(gateway)
                looking = time.process_time()
                seen.update(backend_cpu(database))
                watching += time.process_time() - looking
            elapsed = time.perf_counter() - started
            cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            cpu["gateway"] -= watching
            cpu["workers"] = sum(cpu_seconds(w.pid) for w in workers) - before["workers"]
            seen.update(backend_cpu(database))
            cpu["postgres"] = cpu_since(backends, seen)
            opened = await pg_sessions(database) - sessions
            load = os.getloadavg()[0]
            stats = json.loads(await simulators.command("stats"))
            for worker in workers:
                worker.terminate()
                await worker.wait()
            if args.logs:
                for n in range(args.workers):
                    shutil.copy(directory / f"worker-{n}.log", Path(args.logs) / f"worker-{n}.log")
    finally:
        await simulators.stop()
    once = all(counts == [1] for counts in stats["applied"].values()) and all(
        n == args.cases for n in stats["jobs"].values()
    )
    return {
        "total": total,
        "done": done,
        "seconds": elapsed,
        "cpu": cpu,
        "load": load,
        "once": once,
        "connections": opened,
        **stats,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="registered transfers, four jobs each")
    parser.add_argument("--workers", type=int, default=1, help="arq worker processes delivering")
    parser.add_argument("--noop-jobs", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=40.0, help="give up waiting after this many seconds")
    parser.add_argument("--logs", help="copy the worker processes' logs into this directory")
    parser.add_argument("--simulators", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.simulators:
        await run_simulators(args.simulators)
        return 0
    configure_logging("WARNING", json=True)  # the gateway process; the workers log INFO like production
    with tempfile.TemporaryDirectory(prefix="bench-utilities-") as scratch:
        directory = Path(scratch)
        name, url = await scratch_database()
        redis_url, redis_process = await start_redis(directory)
        try:
            baseline = await arq_noop_rate(redis_url, args.noop_jobs)
            redis_pid = None if redis_process is None else redis_process.pid
            result = await utilities_rate(args, url, redis_url, directory, name, redis_pid)
        finally:
            if redis_process is not None:
                redis_process.kill()
                await redis_process.wait()
            await drop_database(name)
    rate = result["done"] / result["seconds"]
    per_job = {name: 1000 * seconds / max(result["done"], 1) for name, seconds in result["cpu"].items()}
    gateway_side = per_job["gateway"] + per_job["workers"]
    print(f"arq no-op jobs:          {baseline:7.0f} jobs/s   ({args.noop_jobs} jobs, one worker)")
    print(
        f"utility jobs delivered:  {rate:7.0f} jobs/s   ({result['done']}/{result['total']} done in "
        f"{result['seconds']:.1f} s; {args.workers} worker process(es))"
    )
    print(f"ratio to arq no-op:      {rate / baseline:7.2f}")
    total = sum(per_job.values())
    print(f"CPU per job:             all counted {total:.2f} ms (load average {result['load']:.1f})")
    parts = {
        "gateway": "the API (gas callbacks, network pulls) and the dispatcher",
        "workers": "the arq worker process(es) delivering",
        "simulators": "the four providers' own systems",
        "postgres": f"this run's backends ({result['connections']} connections opened during the run)",
        "redis": "the private redis-server",
    }
    for name, what in parts.items():
        if name in per_job:
            print(
                f"  {name:11s}            {per_job[name]:5.2f} ms  {100 * per_job[name] / total:3.0f} %   {what}"
            )
    if "redis" not in per_job:
        print("  redis                  shared: not counted")
    sign_ms, verify_ms = sm2_costs(
        b"POST\n/api/v1/utilities/jobs/x/ack\n" + bytes(200)
    )  # signed lines are short
    exchanges = result["exchanges"] / max(result["done"], 1)
    sm2 = 2 * exchanges * (sign_ms + verify_ms)
    print(
        f"  of which SM2 (est.)    {sm2:5.2f} ms  {100 * sm2 / total:3.0f} %   {exchanges:.2f} signed exchanges per job, "
        f"each 2 signatures ({sign_ms:.2f} ms) + 2 verifications ({verify_ms:.2f} ms)"
    )
    need = 2000 / TARGET
    print(
        f"for ≥ {TARGET} jobs/s:        all counted ≤ {need:.2f} ms per job "
        + (f"({total - need:.2f} ms over)" if total > need else "(within)")
    )
    print(
        f"gateway-side ceiling:    {1000 / gateway_side:7.0f} jobs/s per free core (gateway + workers "
        f"{gateway_side:.2f} ms; PostgreSQL's CPU not counted)"
    )
    print(f"2-core ceiling:          {2000 / total:7.0f} jobs/s   (2 cores / all the CPU counted per job)")
    print(
        f"each job applied once:   {result['once']}   (redeliveries answered from the providers' records: "
        f"{result['repeats']}; gas callbacks {result['gas_callbacks']}; network polls {result['network_polls']})"
    )
    met = result["done"] == result["total"] and result["once"] and rate >= TARGET
    print(f"target ≥ {TARGET} jobs/s:      {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(runtime.run(main()))  # the loop `gateway serve` and `worker` use
