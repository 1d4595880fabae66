"""GW_METRICS_ADDRESS: /metrics on the operations network only, not on the public port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_metrics_are_served_on_their_own_address(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")} | {
        "GW_DATA_DIR": str(tmp_path),
        "GW_HTTP_PORT": str(port),
        "GW_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
    }
    migrate = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "migrate", env=env)
    assert await migrate.wait() == 0
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "serve", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as ready:
                        if ready.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            async with http.get(f"http://127.0.0.1:{port}/metrics") as public:
                assert public.status == 404
                assert public.headers["Content-Type"].startswith("application/problem+json")
            async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as operations:
                assert operations.status == 200
                assert "gateway_http_requests_total" in await operations.text()
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 20) == 0
