"""Ten years of a city: how each cost users feel grows with the register, beside the empty database's.

Run: .venv/bin/python bench/bench_growth.py [--sizes 0,100000,1000000] [--seconds 10] [--rate 300]
     (GW_BENCH_GROWTH_SIZES works too; while developing on a shared machine use e.g. --sizes 0,10000)

For each size a fresh PostgreSQL database is migrated and filled with COPY (bench/growth/fill.py): that many
cases with four transitions each, a certificate each (file in the blob store by reference), one delivered
outbox row each plus 10⁴ due now, three sealed audit rows each, a day of Idempotency-Keys, and one unit per
five cases (≥ 1000) with its ownership entry; ID numbers encrypted and bound to their rows as the gateway
writes them. The filled database is then vacuumed and analysed (`VACUUM (ANALYZE)`, timed in the output),
as autovacuum would long since have done to a register ten years old: a COPY leaves no visibility map and
no hint bits, and the first reads after it would pay for setting them (not what a user of a ten-year
register waits for). Then, in the same run:
- signed submissions (bench_api.py's machinery: 2 gateway processes, a saturation run and a fixed-rate run):
  CPU per submission and p99 at the fixed rate;
- the reads of bench/growth/operations.py through the services (p50 / p95 of the serving process, ms);
- the dispatcher's claim of 100 due rows among the delivered ones;
- `verify_chain`: a full walk (rows/s, wall and of this process's CPU) and an incremental one from a
  checkpoint with 1000 rows after it.
Each database is dropped afterwards. Targets at 10⁶ cases: submission CPU and p99 within 20 % of empty; each
read's p95 < 20 ms; the claim < 5 ms; a full walk ≥ 100,000 rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import bench_api  # noqa: E402
from growth.audit_rows import fill_audit  # noqa: E402
from growth.fill import fill  # noqa: E402
from growth.operations import OPERATIONS  # noqa: E402

import certs  # noqa: E402
from gateway.audit import checkpoint, verify_chain  # noqa: E402
from gateway.db import Database  # noqa: E402
from gateway.wiring import build_services  # noqa: E402

Figures = dict[str, float]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _reads(url: str, settings: Any, filled: Any) -> Figures:
    db = Database(url)
    ctx = build_services(settings, db)
    figures: Figures = {}
    try:
        for operation in OPERATIONS:
            rounds = 5 if operation.name.startswith("retention") else 20 if operation.changes_data else 100
            await operation.run(ctx, filled)  # warm: connections, statement caches
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                await operation.run(ctx, filled)
                samples.append((time.perf_counter() - started) * 1000)
            figures[f"{operation.name}: p50 ms"] = statistics.median(samples)
            figures[f"{operation.name}: p95 ms"] = _percentile(samples, 0.95)
    finally:
        await db.dispose()
    return figures


async def _audit(url: str, dsn: str, cases: int) -> Figures:
    import asyncpg

    db = Database(url)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        full = await verify_chain(db)
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        assert full.ok, full.reason
        taken = await checkpoint(db, certs.SM2PrivateKey.generate())
        conn = await asyncpg.connect(dsn)
        try:
            await fill_audit(conn, 1000, [])
        finally:
            await conn.close()
        started = time.perf_counter()
        incremental = await verify_chain(db, since=taken)
        assert incremental.ok and incremental.rows_checked >= 1000, incremental
        return {
            "audit rows": float(full.rows_checked),
            "audit full walk: rows/s (wall)": full.rows_checked / wall if wall else 0.0,
            "audit full walk: rows/s (verifier CPU)": full.rows_checked / used if used else 0.0,
            "audit incremental (1000 new rows): ms": (time.perf_counter() - started) * 1000,
        }
    finally:
        await db.dispose()


def _submissions(args: argparse.Namespace) -> Figures:
    port = bench_api._free_port()
    common = ["--database", args.database, "--data-dir", str(args.data_dir)]
    servers = [bench_api._spawn("serve-gateway", "--port", str(port), *common) for _ in range(args.workers)]
    try:
        signed = bench_api._load(port, True, args, [s.pid for s in servers])
    finally:
        bench_api._stop(servers)
    rate, used = signed["saturation"]["per_second"], signed["cpu"]
    return {
        "submissions: saturation /s": float(rate),
        "submissions: CPU gateway ms each": 10 * used.get("server processes", 0.0) / rate,
        "submissions: CPU PostgreSQL ms each": 10 * used.get("PostgreSQL", 0.0) / rate,
        f"submissions: p99 ms at {args.rate:g}/s": float(signed["fixed_rate"]["p99_ms"]),
        "submissions: errors": float(signed["saturation"]["errors"] + signed["fixed_rate"]["errors"]),
    }


def _one_size(cases: int, args: argparse.Namespace) -> Figures:
    name = f"gwgrowth_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as scratch:
        args.data_dir = Path(scratch)
        units = int(args.seconds * 1500) + int(args.seconds * args.rate)
        try:
            asyncio.run(bench_api._prepare(name, args, units))
            dsn = args.database.replace("postgresql+asyncpg://", "postgresql://", 1)
            settings = bench_api._settings(args)
            started = time.perf_counter()
            filled = asyncio.run(_fill(dsn, args.database, settings, cases))
            figures: Figures = {"fill seconds": time.perf_counter() - started}
            started = time.perf_counter()
            asyncio.run(_vacuum(dsn))
            figures["VACUUM (ANALYZE) after the fill, as autovacuum: s"] = time.perf_counter() - started
            figures |= asyncio.run(_reads(args.database, settings, filled))
            figures |= asyncio.run(_audit(args.database, dsn, cases))
            if not args.no_submissions:
                figures |= _submissions(args)
        finally:
            asyncio.run(bench_api._drop_database(name))
    return figures


async def _vacuum(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE)")  # what autovacuum does to a database that has been in use
    finally:
        await conn.close()


async def _fill(dsn: str, url: str, settings: Any, cases: int) -> Any:
    db = Database(url)
    try:
        protector = build_services(settings, db).protector
    finally:
        await db.dispose()
    # "Empty" is a register just opened: 50 cases (so a case page exists), 1000 units, 10⁴ due deliveries.
    return await fill(dsn, max(cases, 50), protector)


def _report(results: dict[int, Figures]) -> None:
    sizes = sorted(results)
    base = sizes[0]
    print(f"\n{'figure':58}" + "".join(f"{f'{s:,} cases':>16}" for s in sizes) + "   (× empty)")
    for key in results[base]:
        cells = "".join(f"{results[s].get(key, float('nan')):>16,.2f}" for s in sizes)
        last = results[sizes[-1]].get(key, 0.0)
        ratio = f"   ×{last / results[base][key]:.2f}" if results[base].get(key) else ""
        print(f"{key:58}{cells}{ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("GW_BENCH_GROWTH_SIZES", "0,100000,1000000"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-submissions", action="store_true", help="reads, claim and audit only")
    args = parser.parse_args()
    args.redis, args.pg_socket, args.py_spy = None, None, None
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"size {size:,} cases …", flush=True)
        results[size] = _one_size(size, args)
    _report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
