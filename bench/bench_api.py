"""Signed, idempotent submissions per second and p50/p99 latency on PostgreSQL, beside plain aiohttp.

Run: .venv/bin/python bench/bench_api.py [--workers 2] [--seconds 10] [--rate 300]
                                         [--routes module:ROUTE_TABLE --route /api/v1/... --body body.json]

Three kinds of process, all on loopback: the gateway (`create_app` with the route under test, N processes
sharing the port with SO_REUSEPORT), a bare aiohttp app answering JSON (the baseline, measured in the same
run), and the load generator (its own process; requests are signed before the clock starts). The default
route is a signed, idempotent POST that writes a row, an audit record and an outbox row in one transaction,
and stores its response under the Idempotency-Key in that same transaction. Targets on the 2-core machine:
at least 500 signed submissions/s, p99 under 100 ms at 300/s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import certs  # noqa: E402
from gateway.api import BANK_API, CONTAINER, IDEMPOTENCY, PARTICIPANT, endpoint, json_response  # noqa: E402
from gateway.bootstrap import build_container, load_or_create_keys  # noqa: E402
from gateway.db import Database  # noqa: E402
from gateway.db.types import utcnow  # noqa: E402
from gateway.settings import Settings  # noqa: E402

ADMIN_DSN = os.environ.get("GW_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BANK = "icbc-dg"
DEFAULT_ROUTE = BANK_API + "bench/submissions"
# The same without the audit record and outbox row: separates the framework's cost from the audit chain's.
ROW_ONLY_ROUTE = BANK_API + "bench/rows"
BENCH_TABLE = Table(
    "bench_submission",
    MetaData(),
    Column("id", String(32), primary_key=True),
    Column("party", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- the route under test (default) -----------------------------------------------------------------

ROUTES = web.RouteTableDef()


@ROUTES.post(DEFAULT_ROUTE)
@endpoint("Bench: one row, one audit record, one outbox row, the stored response", status=201)
async def submit(request: web.Request) -> web.Response:
    body = await request.read()
    party = request[PARTICIPANT].code
    row_id = uuid.uuid4().hex
    async with request.app[CONTAINER].database.transaction() as uow:
        conn = await uow.session.connection()
        await conn.execute(
            insert(BENCH_TABLE).values(id=row_id, party=party, body=body.decode(), created_at=utcnow())
        )
        uow.audit(actor=f"party:{party}", action="bench.submit", subject=f"bench:{row_id}")
        uow.outbox(job="bench.notify", target=party, payload={"id": row_id})
        response = json_response({"id": row_id, "status": "received"}, status=201)
        assert isinstance(response.body, bytes)
        await request[IDEMPOTENCY].complete(uow, 201, response.body, response.headers["Content-Type"])
    return response


@ROUTES.post(ROW_ONLY_ROUTE)
@endpoint("Bench: one row and the stored response (no audit record, no outbox row)", status=201)
async def submit_row_only(request: web.Request) -> web.Response:
    body = await request.read()
    party = request[PARTICIPANT].code
    row_id = uuid.uuid4().hex
    async with request.app[CONTAINER].database.transaction() as uow:
        conn = await uow.session.connection()
        await conn.execute(
            insert(BENCH_TABLE).values(id=row_id, party=party, body=body.decode(), created_at=utcnow())
        )
        response = json_response({"id": row_id, "status": "received"}, status=201)
        assert isinstance(response.body, bytes)
        await request[IDEMPOTENCY].complete(uow, 201, response.body, response.headers["Content-Type"])
    return response


# --- processes ----------------------------------------------------------------------------------------


async def _serve_gateway(args: argparse.Namespace) -> None:
    from gateway.logging import configure_logging

    configure_logging("INFO", json=True)  # every request logs a JSON line, as in production (to /dev/null)
    settings = Settings(data_dir=args.data_dir, database_url=args.database, redis_url=args.redis or None)
    module, _, attr = args.routes.partition(":")
    routes = getattr(importlib.import_module(module), attr) if module != "__main__" else ROUTES
    app = await _gateway_app(settings, routes)
    await _run_until_signal(app, args.port)


async def _gateway_app(settings: Settings, routes: Any) -> web.Application:
    from gateway.api import create_app

    return create_app(
        build_container(settings), routes=routes, dispatch=False
    )  # deliveries are another process's work


async def _serve_plain(args: argparse.Namespace) -> None:
    async def plain(request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"ok": True, "fields": len(data)})

    app = web.Application()
    app.router.add_post("/plain", plain)
    await _run_until_signal(app, args.port)


async def _run_until_signal(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    print("ready", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def _payload(n: int) -> bytes:
    # About 1 KiB, like a submission without its materials.
    return json.dumps(
        {"n": n, "kind": "mortgage_registration", "note": "抵押权首次登记" * 30}, ensure_ascii=False
    ).encode()


def _load(args: argparse.Namespace) -> None:
    """The load generator: pre-signed requests, a saturation run and a fixed-rate run; prints JSON."""
    key = certs.SM2PrivateKey.from_pem(Path(args.bank_key).read_bytes())
    total = int(args.seconds * max(args.rate, 900)) * 2 + 500
    body_template = Path(args.body).read_bytes() if args.body else None
    prepared = []
    for n in range(total):
        body = body_template or _payload(n)
        headers = {"Content-Type": "application/json"}
        if args.signed:  # signed before the clock starts: the generator's CPU goes to sending only
            headers |= certs.sign_request(key, BANK, "POST", args.route, body)
            headers["Idempotency-Key"] = uuid.uuid4().hex
        prepared.append((body, headers))
    print(json.dumps(asyncio.run(_drive(args, args.route if args.signed else "/plain", prepared))))


async def _drive(args: argparse.Namespace, path: str, prepared: list[Any]) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{args.port}", connector=connector) as http:
        return {
            "saturation": await _closed_loop(http, path, prepared, args.seconds, args.concurrency),
            "fixed_rate": await _open_loop(http, path, prepared, args.seconds, args.rate),
        }


async def _send(
    http: aiohttp.ClientSession, path: str, item: tuple[bytes, dict[str, str]]
) -> tuple[float, int]:
    started = time.perf_counter()
    async with http.post(path, data=item[0], headers=item[1]) as response:
        await response.read()
        return time.perf_counter() - started, response.status


def _summary(latencies: list[float], statuses: list[int], elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_second": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "errors": sum(1 for s in statuses if s >= 400),
    }


async def _closed_loop(
    http: aiohttp.ClientSession, path: str, items: list[Any], seconds: float, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: list[int] = []
    feed = iter(items[: len(items) // 2])
    deadline = time.perf_counter() + seconds

    async def user() -> None:
        for item in feed:
            if time.perf_counter() > deadline:
                return
            latency, status = await _send(http, path, item)
            latencies.append(latency)
            statuses.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return _summary(latencies, statuses, time.perf_counter() - started)


async def _open_loop(
    http: aiohttp.ClientSession, path: str, items: list[Any], seconds: float, rate: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: list[int] = []
    feed = items[len(items) // 2 :]
    count = min(int(seconds * rate), len(feed))
    started = time.perf_counter()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        latency, status = await _send(http, path, feed[i])
        latencies.append(latency)
        statuses.append(status)

    await asyncio.gather(*(one(i) for i in range(count)))
    return _summary(latencies, statuses, time.perf_counter() - started)


# --- orchestration ------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(*argv: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, __file__, *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        raise SystemExit(f"a bench server failed to start: {argv[0]}")
    return process


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


async def _prepare_database(name: str, data_dir: Path) -> str:
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    db = Database(url)
    await db.migrate()
    async with db.engine.begin() as conn:
        await conn.run_sync(BENCH_TABLE.metadata.create_all)
    await db.dispose()
    # Participants: the gateway CA (with the registry key) and one bank whose certificate it issued.
    ca, _key, _cert = load_or_create_keys(data_dir, create=True)
    bank_key = certs.SM2PrivateKey.generate()
    ca.issue(bank_key.public_key, BANK, "bank")
    ca.save(data_dir / "ca")
    (data_dir / "bank.key").write_bytes(bank_key.to_pem())
    return url


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def _run_load(
    port: int, signed: bool, args: argparse.Namespace, data_dir: Path, route: str
) -> dict[str, Any]:
    """One load-generator process against `route` (or /plain); its JSON summary."""
    argv = [sys.executable, __file__, "load", "--port", str(port), "--route", route]
    argv += ["--seconds", str(args.seconds), "--rate", str(args.rate), "--concurrency", str(args.concurrency)]
    argv += ["--bank-key", str(data_dir / "bank.key")]
    argv += (["--signed"] if signed else []) + (["--body", args.body] if args.body else [])
    out = subprocess.run(argv, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _orchestrate(args: argparse.Namespace) -> int:
    name = f"gwbench_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        url = asyncio.run(_prepare_database(name, data_dir))
        gateway_port, plain_port = _free_port(), _free_port()
        common = ["--database", url, "--data-dir", str(data_dir), "--routes", args.routes]
        common += ["--redis", args.redis] if args.redis else []
        try:
            plain = [_spawn("serve-plain", "--port", str(plain_port))]
            baseline = _run_load(plain_port, False, args, data_dir, args.route)
            _stop(plain)
            servers = [
                _spawn("serve-gateway", "--port", str(gateway_port), *common) for _ in range(args.workers)
            ]
            try:
                signed = _run_load(gateway_port, True, args, data_dir, args.route)
                row_only = (
                    _run_load(gateway_port, True, args, data_dir, ROW_ONLY_ROUTE)
                    if args.route == DEFAULT_ROUTE
                    else None
                )
            finally:
                _stop(servers)
        finally:
            asyncio.run(_drop_database(name))
    print(f"gateway processes: {args.workers}; load generator: 1 process; {args.seconds:g} s per run")
    print(f"route under test: POST {args.route}; nonces in {'Redis' if args.redis else 'PostgreSQL'}\n")
    print(f"{'':38}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    rows = [
        ("plain aiohttp, saturation", baseline["saturation"]),
        (f"plain aiohttp, {args.rate:g}/s", baseline["fixed_rate"]),
        ("signed submission, saturation", signed["saturation"]),
        (f"signed submission, {args.rate:g}/s", signed["fixed_rate"]),
    ]
    if row_only is not None:
        rows += [
            ("  same, no audit/outbox, saturation", row_only["saturation"]),
            (f"  same, no audit/outbox, {args.rate:g}/s", row_only["fixed_rate"]),
        ]
    for label, result in rows:
        print(
            f"{label:34}{result['per_second']:>9}{result['p50_ms']:>9}{result['p99_ms']:>9}{result['errors']:>8}"
        )
    ratio = signed["saturation"]["per_second"] / baseline["saturation"]["per_second"]
    print(f"\nsigned/plain throughput ratio: {ratio:.2f}")
    ok = (
        signed["saturation"]["per_second"] >= 500
        and signed["fixed_rate"]["p99_ms"] < 100
        and signed["saturation"]["errors"] == signed["fixed_rate"]["errors"] == 0
    )
    print("targets (≥ 500/s; p99 < 100 ms at 300/s; no errors):", "met" if ok else "NOT met")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mode", nargs="?", default="run", choices=["run", "serve-gateway", "serve-plain", "load"]
    )
    parser.add_argument("--workers", type=int, default=2, help="gateway processes sharing the port")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0, help="requests/s of the fixed-rate run")
    parser.add_argument("--concurrency", type=int, default=32, help="connections of the saturation run")
    parser.add_argument("--routes", default="__main__:ROUTES", help="module:RouteTableDef holding the route")
    parser.add_argument("--route", default=DEFAULT_ROUTE, help="path of the signed POST under test")
    parser.add_argument("--body", help="a JSON file sent as every request's body (default: ~1 KiB)")
    parser.add_argument(
        "--redis", default=None, help="redis:// URL for nonces (default: nonces in PostgreSQL)"
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--database")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--bank-key")
    parser.add_argument("--signed", action="store_true")
    args = parser.parse_args()
    if args.mode == "serve-gateway":
        asyncio.run(_serve_gateway(args))
    elif args.mode == "serve-plain":
        asyncio.run(_serve_plain(args))
    elif args.mode == "load":
        _load(args)
    else:
        return _orchestrate(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
