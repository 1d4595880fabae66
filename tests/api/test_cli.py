"""The commands as a person runs them: `gateway migrate`, `gateway users add`, `gateway serve` (embedded)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from gateway.bootstrap import load_or_create_keys

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(data_dir: Path, port: int | None = None) -> dict[str, str]:
    """The environment of a first embedded run in `data_dir` (SQLite there; the HTTP port if given)."""
    env = {
        **os.environ,
        "GW_DATA_DIR": str(data_dir),
        "GW_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'gateway.db'}",
    }
    return env | ({"GW_HTTP_PORT": str(port)} if port else {})


async def gateway(env: dict[str, str], *args: str, stdin: bytes = b"") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(stdin)
    return process.returncode or 0, out.decode()


async def test_migrate_add_a_user_serve_and_sign_in(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(tmp_path, port)
    assert (await gateway(env, "migrate"))[0] == 0
    code, out = await gateway(
        env,
        "users",
        "add",
        "zhang",
        "--role",
        "registrar",
        "--display-name",
        "张三",
        "--password-stdin",
        "--permanent",
        stdin=b"A long enough password\n",
    )
    assert code == 0, out
    code, out = await gateway(
        env, "users", "add", "li", "--role", "registrar", "--password-stdin", stdin=b"short\n"
    )
    assert code == 2 and "密码至少需要" in out

    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    async with http.get("/readyz") as ready:
                        assert ready.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("gateway serve did not start")
            async with http.post(
                "/backoffice/api/v1/login", json={"username": "zhang", "password": "A long enough password"}
            ) as login:
                assert login.status == 200
                assert (await login.json())["user"]["display_name"] == "张三"
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 20) == 0
    # The embedded first run made a development CA and the registry's signing key.
    assert (tmp_path / "ca" / "ca.pem").exists() and (tmp_path / "registry" / "registry.key").exists()


async def test_worker_needs_redis_and_runs_a_burst_with_it(tmp_path: Path, redis_url: str) -> None:
    env = embedded_env(tmp_path)
    assert (await gateway(env, "migrate"))[0] == 0
    code, out = await gateway(env, "worker", "--burst")
    assert code == 2 and "GW_REDIS_URL" in out
    with_redis = {**env, "GW_REDIS_URL": redis_url}
    code, out = await gateway(with_redis, "worker", "--burst")
    # With Redis the gateway is in production mode: it never invents a CA or a registry key.
    assert code == 2 and "gw-certs ca-init" in out
    load_or_create_keys(tmp_path, create=True)  # what an embedded first run leaves behind
    code, out = await gateway(with_redis, "worker", "--burst")
    assert code == 0, out
    events = [json.loads(line).get("event") for line in out.splitlines() if line.startswith("{")]
    assert "worker started" in events


async def test_serve_with_several_processes_shows_all_of_them_in_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(tmp_path, port)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert (await gateway(env, "migrate"))[0] == 0
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        "--workers",
        "2",
        "--no-dispatch",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert server.stderr is not None
    serving: list[dict[str, object]] = []

    async def read_logs(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            if line.startswith(b"{") and json.loads(line).get("event") == "serving":
                serving.append(json.loads(line))

    logs = asyncio.create_task(read_logs(server.stderr))

    async def get(path: str) -> str:
        # A new connection each time, so the kernel spreads them over both processes (SO_REUSEPORT).
        connector = aiohttp.TCPConnector(force_close=True)
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector) as http,
            http.get(path) as reply,
        ):
            assert reply.status == 200
            return await reply.text()

    try:
        for _ in range(300):  # both processes listening (each logs "serving" once it is)
            if len(serving) == 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"gateway serve --workers 2 did not start: {serving}")
        for _ in range(40):
            await get("/healthz")
        # Every scrape, whichever process answers it, counts the requests of both.
        line = 'gateway_http_requests_total{method="GET",route="/healthz",status="200"}'
        for _ in range(6):
            found = [x for x in (await get("/metrics")).splitlines() if x.startswith(line)]
            assert found and float(found[0].split()[-1]) == 40.0, found
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 20) == 0
        await logs
