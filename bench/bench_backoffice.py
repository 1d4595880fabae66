"""The back office's pages over HTTP on PostgreSQL: 待办 and the supervisor's dashboard, over an empty
database and over 100,000 cases, in the same run. Targets (issue 13): 待办 p95 < 50 ms, dashboard < 300 ms.

The cases are written directly (one protected input for all: the pages never decrypt the whole table):
90 % closed over the past year (those certified in the last 7 days feed the dashboard's timing), 10 % open
across the stages. Times are measured by the client over loopback, so they bound the server's from above.
About a minute.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import insert

from gateway.api import CONTAINER, create_app
from gateway.bootstrap import build_container
from gateway.db.tables.cases import CaseRow
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import INSTITUTIONS, UNITS, seed_demo_register
from gateway.settings import Settings
from tests.services import builders

CASES = 100_000
REQUESTS = 60
PASSWORD = "Bench-pass-2026"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
TABLE = CaseRow.__table__  # type: ignore[attr-defined]
# (state, stage, share of the open cases)
OPEN = [("under_review", "first_review", 0.3), ("under_review", "second_review", 0.2),
        ("approved", "register", 0.2), ("need_more_material", "correction", 0.1),
        ("under_review", "waiting_parties", 0.2)]  # fmt: skip


async def fill(app: web.Application, n: int) -> None:
    ctx = app[CONTAINER].services
    assert ctx is not None
    protected = ctx.protector.protect(builders.mortgage_registration().model_dump(mode="json"))
    now = datetime.now(UTC)
    banks = sorted(INSTITUTIONS)
    rng = random.Random(13)
    rows = []
    for i in range(n):
        received = now - timedelta(minutes=rng.randint(1, 365 * 24 * 60))
        row = {
            "id": uuid.uuid4().hex, "kind": "mortgage_registration", "unit_code": UNITS.single_owner,
            "submitted_by": rng.choice(banks), "branch": "测试支行", "clerk": "clerk", "input": protected,
            "tracks": {}, "rule_results": [], "reason": "", "received_at": received,
            "deadline_at": received + timedelta(days=1), "updated_at": now, "version": 1,
        }  # fmt: skip
        if i % 10 == 0:
            state, stage, _ = rng.choices(OPEN, weights=[w for *_, w in OPEN])[0]
            row |= {"state": state, "stage": stage}
        else:
            done = received + timedelta(minutes=rng.randint(5, 30 * 60))
            row |= {"state": "completed", "stage": "closed", "certified_at": done, "completed_at": done}
        rows.append(row)
    for first in range(0, n, 5000):
        async with ctx.db.transaction() as uow:
            await uow.connection.execute(insert(TABLE), rows[first : first + 5000])


async def signed_in(base: str, username: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    html = await (await session.get("/backoffice/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    await session.post(
        "/backoffice/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    return session


async def p95(session: aiohttp.ClientSession, path: str) -> tuple[float, float]:
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        async with session.get(path, allow_redirects=False) as response:
            await response.read()
            assert response.status == 200, (path, response.status)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def measure(base: str, label: str) -> dict[str, tuple[float, float]]:
    examiner, supervisor = await signed_in(base, "examiner-a"), await signed_in(base, "supervisor-d")
    try:
        found = {
            "待办 (examiner, 本岗位)": await p95(examiner, "/backoffice/queue?scope=team"),
            "待办 (supervisor, 全部在办)": await p95(supervisor, "/backoffice/queue?scope=all"),
            "dashboard": await p95(supervisor, "/backoffice/dashboard"),
        }
    finally:
        await examiner.close()
        await supervisor.close()
    for page, (median, high) in found.items():
        print(f"  {label:<16} {page:<28} p50 {median:7.1f} ms   p95 {high:7.1f} ms")
    return found


async def run(url: str, data_dir: Path) -> int:
    settings = Settings(data_dir=data_dir, database_url=url, log_level="WARNING",
                        institutions={c: {"name": i.name, "credit_code": i.credit_code} for c, i in INSTITUTIONS.items()})  # fmt: skip
    container = build_container(settings)
    await container.database.migrate()
    assert container.services is not None
    await seed_demo_register(container.services)
    users = UserDirectory(container.database)
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER])
    await users.add("supervisor-d", PASSWORD, [Role.SUPERVISOR, Role.ADMIN])
    app = create_app(container, dispatch=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        empty = await measure(base, "empty database")
        started = time.perf_counter()
        await fill(app, CASES)
        async with container.database.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE case_record")
        print(f"  wrote {CASES:,} cases in {time.perf_counter() - started:.1f} s")
        full = await measure(base, f"{CASES:,} cases")
    finally:
        await runner.cleanup()
    ok = full["待办 (examiner, 本岗位)"][1] < 50 and full["dashboard"][1] < 300
    print(f"  targets (待办 p95 < 50 ms, dashboard p95 < 300 ms): {'met' if ok else 'NOT met'}; "
          f"empty-database 待办 p95 {empty['待办 (examiner, 本岗位)'][1]:.1f} ms")  # fmt: skip
    return 0


async def main() -> int:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        print("PostgreSQL: not running on 127.0.0.1:5432, skipped")
        return 0
    import asyncpg

    name = f"gwbench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    print("back office pages, PostgreSQL:")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return await run(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", Path(tmp))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
