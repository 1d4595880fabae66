"""The load generator: requests signed before the clock starts, a saturation run and a fixed-rate run."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

import certs
from submissions.register import BENCH_BANKS, submission_body

Prepared = tuple[bytes, dict[str, str]]


def bank_keys(data_dir: Path) -> dict[str, certs.SM2PrivateKey]:
    return {
        b: certs.SM2PrivateKey.from_pem((data_dir / "banks" / f"{b}.key").read_bytes()) for b in BENCH_BANKS
    }


def prepare(
    route: str | None, first: int, count: int, keys: dict[str, certs.SM2PrivateKey]
) -> list[Prepared]:
    """Bodies for units first … first+count-1; signed with a fresh nonce and Idempotency-Key when `route`."""
    prepared = []
    for i in range(first, first + count):
        bank, body = submission_body(i)
        headers = {"Content-Type": "application/json"}
        if route is not None:
            headers |= certs.sign_request(keys[bank], bank, "POST", route, body)
            headers["Idempotency-Key"] = uuid.uuid4().hex
        prepared.append((body, headers))
    return prepared


def run_load(
    port: int, route: str | None, seconds: float, rate: float, concurrency: int, data_dir: Path
) -> None:
    """Prints one JSON line: the saturation and the fixed-rate summaries (route None: the plain endpoint)."""
    keys = bank_keys(data_dir)
    saturation_units = int(seconds * 1500)  # more than a closed loop of this size can use up
    closed = prepare(route, 0, saturation_units, keys)
    opened = prepare(route, saturation_units, int(seconds * rate), keys)
    print("saturation", flush=True)
    result = asyncio.run(_drive(port, route or "/plain", closed, opened, seconds, rate, concurrency))
    print(json.dumps(result))


async def _drive(
    port: int,
    path: str,
    closed: list[Prepared],
    opened: list[Prepared],
    seconds: float,
    rate: float,
    concurrency: int,
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector) as http:
        saturation = await _closed_loop(http, path, closed, seconds, concurrency)
        print("fixed-rate", flush=True)
        return {"saturation": saturation, "fixed_rate": await _open_loop(http, path, opened, rate)}


class _Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.sample_error = ""

    async def send(self, http: aiohttp.ClientSession, path: str, item: Prepared) -> None:
        started = time.perf_counter()
        async with http.post(path, data=item[0], headers=item[1]) as response:
            body = await response.read()
        self.latencies.append(time.perf_counter() - started)
        self.statuses[response.status] += 1
        if response.status >= 400 and not self.sample_error:
            self.sample_error = f"{response.status} {body[:300].decode(errors='replace')}"

    def summary(self, elapsed: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "per_second": round(len(ordered) / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
            "errors": sum(n for status, n in self.statuses.items() if status >= 400),
            "sample_error": self.sample_error,
        }


async def _closed_loop(
    http: aiohttp.ClientSession, path: str, items: list[Prepared], seconds: float, concurrency: int
) -> dict[str, Any]:
    tally = _Tally()
    # The plain endpoint may see the same body again (it stores nothing); a submission never does.
    feed = itertools.cycle(items) if path == "/plain" else iter(items)
    deadline = time.perf_counter() + seconds

    async def user() -> None:
        for item in feed:
            if time.perf_counter() > deadline:
                return
            await tally.send(http, path, item)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return tally.summary(time.perf_counter() - started)


async def _open_loop(
    http: aiohttp.ClientSession, path: str, items: list[Prepared], rate: float
) -> dict[str, Any]:
    """Requests start on a fixed schedule whatever the latency (no coordinated omission)."""
    tally = _Tally()
    started = time.perf_counter()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        await tally.send(http, path, items[i])

    await asyncio.gather(*(one(i) for i in range(len(items))))
    return tally.summary(time.perf_counter() - started)
