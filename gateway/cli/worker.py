"""`gateway worker`: the arq worker for outbox deliveries, with its dispatcher and sweeper (needs Redis)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from arq.connections import RedisSettings

from gateway.bootstrap import build_container
from gateway.cli.common import Subparsers
from gateway.config_checks import enforce
from gateway.errors import ConfigError
from gateway.jobs.worker import build_worker, close_worker, worker_database
from gateway.logging import configure_logging, get_logger
from gateway.settings import Settings

log = get_logger("gateway.worker")


def register(subparsers: Subparsers) -> None:
    worker = subparsers.add_parser(
        "worker", help="run the arq delivery worker and sweeper / 启动投递任务进程"
    )
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty (tests, cron)")
    worker.set_defaults(run=_worker)


async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, json=settings.log_json)
    for warning in enforce(settings, os.environ):  # errors refuse to start (ConfigError names each)
        log.warning(warning.message_en, message_zh=warning.message_zh)
    if not settings.redis_url:
        raise ConfigError(
            "gateway worker needs GW_REDIS_URL; without Redis, `gateway serve` delivers in-process",
            "gateway worker 需要配置 GW_REDIS_URL；未配置 Redis 时由 gateway serve 在进程内投递",
        )
    container = build_container(settings, database=worker_database(settings.effective_database_url()))
    await container.database.require_current_schema()
    # The worker claims and enqueues due rows too, so deliveries go on while every API process is down.
    await container.open(dispatch=True)
    assert container.runner is not None
    worker = build_worker(
        container.runner, RedisSettings.from_dsn(settings.redis_url), settings.jobs, burst=args.burst
    )
    log.info("worker started", queue=settings.jobs.arq_queue, max_jobs=settings.jobs.arq_max_jobs)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    finally:
        await close_worker(worker)
        await container.close()
    return 0
