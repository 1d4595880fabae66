"""Behind the reverse proxy (deploy/nginx/gateway.conf) the request log names the caller, not the proxy:
X-Forwarded-For is believed only from GW_API__TRUSTED_PROXIES, and only as far as those proxies wrote it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.logging import configure_logging


async def logged_client(client: Any, capsys: pytest.CaptureFixture[str], forwarded: str) -> str:
    configure_logging("INFO", json=True)
    capsys.readouterr()
    assert (await client.get("/healthz", headers={"X-Forwarded-For": forwarded})).status == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    return str(next(line for line in lines if line.get("event") == "request")["client"])


async def test_the_caller_behind_a_trusted_proxy_is_logged(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await serve(api={"trusted_proxies": ["127.0.0.1/32", "10.0.0.0/8"]})
    assert await logged_client(client, capsys, "203.0.113.7") == "203.0.113.7"
    # A caller's own X-Forwarded-For is not believed: nginx appends the address it saw, the last one.
    assert await logged_client(client, capsys, "198.51.100.1, 203.0.113.7") == "203.0.113.7"
    # Through two trusted proxies, the first address they did not add.
    assert await logged_client(client, capsys, "203.0.113.7, 10.1.2.3") == "203.0.113.7"


async def test_without_trusted_proxies_the_header_is_ignored(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await serve()
    assert await logged_client(client, capsys, "203.0.113.7") == "127.0.0.1"
