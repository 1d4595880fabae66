"""`gateway serve`: the HTTP API with its delivery dispatcher; `--workers N` runs N processes on one port."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
from typing import Any

from aiohttp import web

from certs import backends
from gateway.api import create_app
from gateway.api.ops import create_metrics_app
from gateway.bootstrap import build_container, load_or_create_keys
from gateway.cli.common import Subparsers
from gateway.config_checks import enforce
from gateway.logging import configure_logging, get_logger
from gateway.metrics import MULTIPROCESS_DIR, process_exited
from gateway.settings import Settings
from gateway.wiring import personal_data_cipher

log = get_logger("gateway.serve")


def register(subparsers: Subparsers) -> None:
    serve = subparsers.add_parser("serve", help="run the HTTP API (and the outbox dispatcher) / 启动网关服务")
    serve.add_argument("--host", help="default GW_HTTP_HOST")
    serve.add_argument("--port", type=int, help="default GW_HTTP_PORT")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT); default 1"
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument(
        "--no-dispatch", action="store_true", help="do not deliver outbox rows here (a separate worker does)"
    )
    serve.set_defaults(run=_serve)


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, json=settings.log_json)
    for warning in enforce(settings, os.environ):  # errors refuse to start (ConfigError names each)
        log.warning(warning.message_en, message_zh=warning.message_zh)
    host, port = args.host or settings.http_host, args.port or settings.http_port
    if args.workers > 1:
        # A first embedded run makes the development CA, registry key and PII keys: here, once, before the
        # processes start — each making its own at the same moment left one of them with no usable files.
        if settings.is_embedded:
            load_or_create_keys(settings.data_dir, create=True)
        personal_data_cipher(settings)
        return await _supervise(args.workers, host, port, args.no_dispatch)
    container = build_container(settings)
    await container.database.require_current_schema()  # "run gateway migrate", not a traceback per request
    app = create_app(container, dispatch=not args.no_dispatch)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.api.request_timeout_seconds)
    await runner.setup()
    metrics_runner: web.AppRunner | None = None
    try:
        site = web.TCPSite(runner, host, port, reuse_port=args.reuse_port or None)
        await site.start()  # a port in use fails here: the container opened by setup() is closed below
        if settings.metrics_address:
            metrics_host, _, metrics_port = settings.metrics_address.rpartition(":")
            metrics_runner = web.AppRunner(create_metrics_app(container), access_log=None)
            await metrics_runner.setup()
            await web.TCPSite(
                metrics_runner, metrics_host, int(metrics_port), reuse_port=args.reuse_port or None
            ).start()
        log.info(
            "serving",
            host=host,
            port=port,
            database=container.database.dialect,
            redis=bool(settings.redis_url),
            crypto_backend=backends.backend_name(),
        )
        await _wait_for_stop()
    finally:
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await runner.cleanup()
    return 0


async def _supervise(workers: int, host: str, port: int, no_dispatch: bool) -> int:
    """Start `workers` single-process servers on the same port and pass SIGINT/SIGTERM on to them."""
    argv = [sys.executable, "-m", "gateway.cli", "serve", "--workers", "1", "--reuse-port"]
    argv += ["--host", host, "--port", str(port)] + (["--no-dispatch"] if no_dispatch else [])
    # One metrics directory for the set, so /metrics of any process shows all of them (gateway.metrics).
    made_dir = None if os.environ.get(MULTIPROCESS_DIR) else tempfile.mkdtemp(prefix="gateway-metrics-")
    env = os.environ | ({MULTIPROCESS_DIR: made_dir} if made_dir else {})
    try:
        return await _run_children(workers, argv, env)
    finally:
        if made_dir:
            shutil.rmtree(made_dir, ignore_errors=True)


async def _run_children(workers: int, argv: list[str], env: dict[str, str]) -> int:
    children = [await asyncio.create_subprocess_exec(*argv, env=env) for _ in range(workers)]
    log.info("serving with several processes", workers=workers, pids=[c.pid for c in children])
    waiting = asyncio.ensure_future(asyncio.gather(*(c.wait() for c in children)))
    stopping = asyncio.ensure_future(_wait_for_stop())
    either: set[asyncio.Future[Any]] = {waiting, stopping}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    for child in children:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
    codes = await waiting
    stopping.cancel()
    for child in children:
        process_exited(child.pid)
    return max((abs(c) for c in codes if c), default=0)
