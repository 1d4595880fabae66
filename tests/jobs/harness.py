"""Delivery test harness: a real loopback receiver that dedupes on webhook-id, the webhook job, and a
worker process entry point (`python -m tests.jobs.harness arq|embedded ...`) for the crash tests."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, web
from arq.connections import RedisSettings

import certs
from gateway.bootstrap import Container, build_container
from gateway.db import Database
from gateway.db.tables.infra import OutboxRow
from gateway.errors import GatewayError, PartyRejected, PartyUnavailable
from gateway.jobs.registry import JobContext, JobHandler, JobRegistry
from gateway.jobs.retry import RetryPolicy
from gateway.jobs.worker import build_worker, close_worker
from gateway.settings import JobSettings, Settings

WEBHOOK_JOB = "test.webhook"


def webhook_handler(url: str) -> JobHandler:
    """POST the row's payload as a signed Standard Webhook; map the answer onto the delivery errors."""

    async def deliver(ctx: JobContext, row: OutboxRow) -> None:
        body = json.dumps(row.payload, ensure_ascii=False).encode()
        headers = certs.sign_webhook(ctx.signing_key, row.id, int(time.time()), body)
        try:
            async with ctx.http.post(url, data=body, headers=headers) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (ClientError, TimeoutError) as exc:
            raise PartyUnavailable(row.target, "connect", repr(exc)) from exc
        if 200 <= status < 300:
            return
        if status in (408, 429) or status >= 500:
            raise PartyUnavailable(
                row.target, str(status), "try later", retry_after=float(retry_after or 0) or None
            )
        raise PartyRejected(row.target, str(status), "refused")

    return deliver


@dataclass
class Receiver:
    """A party's endpoint: verifies the SM2 webhook signature, applies each webhook-id once, counts."""

    public_key: certs.SM2PublicKey
    # Statuses to answer before succeeding, in order (e.g. [503, 503]); then 200.
    script: list[int] = field(default_factory=list)
    retry_after: str | None = None
    delay: float = 0.0
    # The first attempt of each delivery gets no answer for this long (a worker killed mid-request).
    hold_first: float = 0.0
    applied: dict[str, int] = field(default_factory=dict)
    applied_at: dict[str, float] = field(default_factory=dict)  # monotonic time of each first application
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, delivery id)
    attempts: collections.Counter[str] = field(default_factory=collections.Counter)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            msg_id = certs.verify_webhook([self.public_key], request.headers, body)
        except GatewayError:
            return web.Response(status=401)
        self.attempts[msg_id] += 1
        self.arrivals.append((time.monotonic(), msg_id))
        if self.hold_first and self.attempts[msg_id] == 1:
            await asyncio.sleep(self.hold_first)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status = self.script.pop(0)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=status, headers=headers)
        duplicate = msg_id in self.applied
        if not duplicate:  # dedupe on the stable delivery id: the effect happens once
            self.applied[msg_id] = self.payload_number(body)
            self.applied_at[msg_id] = time.monotonic()
        return web.json_response({"delivery_id": msg_id, "duplicate": duplicate})

    @staticmethod
    def payload_number(body: bytes) -> int:
        return int(json.loads(body)["n"])

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        # A held request (hold_first) is still in its handler at the end: stop waits for it no longer than
        # this, not aiohttp's 60 s default.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def add_deliveries(db: Database, count: int, target: str = "receiver") -> list[str]:
    ids = []
    async with db.transaction() as uow:
        for n in range(count):
            ids.append(uow.outbox(job=WEBHOOK_JOB, target=target, payload={"n": n, "owner": "张三"}))
    return ids


FAST_JOBS = JobSettings(
    concurrency=50,
    job_timeout_seconds=3,
    stale_after_seconds=6,  # more than the crash recovery (3 + 2 s)
    sweep_interval_seconds=1,
    poll_interval_seconds=0.2,
    arq_max_jobs=50,
    arq_poll_delay_seconds=0.02,
)


def container_for(settings: Settings, receiver_url: str, registry_key: certs.SM2PrivateKey) -> Container:
    return build_container(
        settings,
        trust=certs.CATrustStore(certs.CertificateAuthority.create()),
        registry_key=registry_key,
        jobs=JobRegistry({WEBHOOK_JOB: webhook_handler(receiver_url)}),
        retry_policy=RetryPolicy(schedule=(0, 0.2, 0.5, 1, 1, 1, 1, 1), jitter=0.1),
    )


async def _run(args: argparse.Namespace) -> None:
    settings = Settings(
        data_dir=args.data_dir,
        database_url=args.database,
        redis_url=args.redis,
        jobs=JobSettings.model_validate_json(args.jobs) if args.jobs else FAST_JOBS,
        log_json=True,
    )
    key = certs.SM2PrivateKey.from_pem(args.key.encode())
    container = container_for(settings, args.receiver, key)
    await container.open(dispatch=True)
    assert container.runner is not None
    print("ready", flush=True)
    try:
        if args.redis:
            worker = build_worker(container.runner, RedisSettings.from_dsn(args.redis), settings.jobs)
            try:
                await worker.async_run()
            finally:
                await close_worker(worker)
        else:
            await asyncio.Event().wait()  # the embedded dispatcher delivers until the process is killed
    finally:
        await container.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis")
    parser.add_argument("--receiver", required=True)
    parser.add_argument("--key", required=True, help="registry key PEM")
    parser.add_argument("--data-dir", default="var")
    parser.add_argument("--jobs", help="JobSettings as JSON (default: FAST_JOBS)")
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()


__all__: list[Any] = ["Receiver", "add_deliveries", "container_for", "main", "webhook_handler"]
