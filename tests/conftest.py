"""Shared fixtures: real PostgreSQL and Redis, skipped with a reason outside CI, never skipped in CI."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

import pytest

from sandbox.hangs import pending_tasks

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_DSN = os.environ.get("GW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    """On a timeout, print what each asyncio task waits on before pytest-timeout fails the test: its own
    report shows the threads, and an async test that hangs shows only the event loop's idle poll there."""
    installed = yield
    timed_out = signal.getsignal(signal.SIGALRM)
    if callable(timed_out):

        def report_tasks_then(signum: int, frame: FrameType | None) -> None:
            try:
                tasks = pending_tasks(asyncio.get_running_loop())
            except RuntimeError:
                tasks = "  (no event loop running)"
            item.config.get_terminal_writer().line(
                f"\nasyncio tasks at the timeout of {item.nodeid}:\n{tasks}"
            )
            timed_out(signum, frame)

        signal.signal(signal.SIGALRM, report_tasks_then)
    return installed


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (with the reason) when a service is down on a developer's machine; fail in CI."""
    if _port_open(host, port):
        return
    if IN_CI:
        pytest.fail(f"{name} is not running on {host}:{port}; CI never skips {name} tests")
    pytest.skip(f"{name} is not running on {host}:{port} (start it with scripts/start-services.sh)")


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards (asyncpg-style DSN)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import asyncio

    import asyncpg

    name = f"gwtest_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run_admin(sql: str) -> None:
        # In a thread of its own: the fixture may be requested from inside a running event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: asyncio.run(admin(sql))).result()

    run_admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_dsn: str) -> str:
    """The same fresh database as a SQLAlchemy URL."""
    return pg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database of its own for one test (db 1–15 chosen by worker), flushed before and after."""
    require_service("Redis", "127.0.0.1", 6379)
    from redis.asyncio import Redis

    url = REDIS_URL.rsplit("/", 1)[0] + "/" + os.environ.get("GW_TEST_REDIS_DB", "1")
    client = Redis.from_url(url)
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()


def blob_store() -> Any:
    """A blob store in a temporary directory of its own, removed when the test process ends (for service
    contexts built outside a fixture with tmp_path)."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from gateway.blobs import DirectoryBlobStore

    root = tempfile.mkdtemp(prefix="gw-test-blobs-")
    atexit.register(shutil.rmtree, root, True)
    return DirectoryBlobStore(Path(root))


async def with_pdf(blobs: Any, row: Any) -> Any:
    """A certificate row's fields with its PDF read from the blob store as `pdf` (None until 缮证), as tests
    read a certificate."""
    from types import SimpleNamespace

    pdf = await blobs.get(row.pdf_ref) if row.pdf_ref is not None else None
    return SimpleNamespace(**row.model_dump(), pdf=pdf)
