"""Dependencies a test may really stop and start: a private redis-server and a private PostgreSQL cluster,
each on a free loopback port in a directory of its own, never the shared services other tests use."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.conftest import require_service

__all__ = ["PrivatePostgres", "PrivateRedis", "free_port"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own on a free port (no persistence), so it can really be restarted
    without touching the shared Redis other tests use. Without the binary: the shared Redis, a database
    number of its own, and FLUSHDB as the stand-in for a restart."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.directory = directory
        self.process: asyncio.subprocess.Process | None = None
        if self.binary is None:
            require_service("Redis", "127.0.0.1", 6379)
            self.url = "redis://127.0.0.1:6379/11"
        else:
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"

    @property
    def can_stop(self) -> bool:
        """Whether `stop()` really makes Redis unreachable (not so with the shared stand-in)."""
        return self.binary is not None

    async def start(self) -> None:
        if self.binary is not None:
            args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            self.process = await asyncio.create_subprocess_exec(
                self.binary, *args, "--dir", str(self.directory), stdout=asyncio.subprocess.DEVNULL
            )
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        await client.ping()
                        break
                    except (OSError, RedisConnectionError):  # not listening yet
                        await asyncio.sleep(0.05)
            if self.binary is None:
                await client.flushdb()
        finally:
            await client.aclose()

    async def restart(self) -> None:
        """Crash and start again: every queued job and in-progress key is gone."""
        await self.stop()
        await self.start()

    async def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            await self.process.wait()
            self.process = None


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, trust auth, fsync off) on a
    free loopback port, so a test can stop, crash and restart it. As root, the server runs as `postgres`
    (initdb refuses root). Skips when no PostgreSQL server binaries are installed."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) to run a private cluster")
        self.bin = Path(found[-1]).parent
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="gw-private-pg-"))
        self.data = self.directory / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.directory, "postgres", "postgres")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.as_user,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({process.returncode}): {out.decode(errors='replace')}")

    async def initialise(self) -> None:
        await self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off"
        )
        await self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )

    async def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects every session and shuts down; `immediate` is a crash (recovery on start)."""
        await self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    async def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            await self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
