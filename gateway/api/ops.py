"""Operations routes: liveness, readiness (database, Redis), Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from gateway.api.keys import CONTAINER
from gateway.api.routing import endpoint, json_response
from gateway.bootstrap import Container
from gateway.errors import NotFound
from gateway.logging import get_logger
from gateway.metrics import CONTENT_TYPE_LATEST, refresh_outbox_gauges, render

__all__ = ["create_metrics_app", "routes"]

log = get_logger(__name__)
routes = web.RouteTableDef()
CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str  # ok | unavailable
    checks: dict[str, str]  # dependency → "ok" or "failed: <reason>"


@routes.get("/healthz")
@endpoint("Liveness: the process answers", summary_zh="存活检查", response=Health, tags=["ops"])
async def healthz(request: web.Request) -> web.Response:
    return json_response(Health(status="ok"))


@routes.get("/readyz")
@endpoint(
    "Readiness: the database and (if configured) Redis answer; 503 names what failed",
    summary_zh="就绪检查（数据库、Redis）",
    response=Readiness,
    tags=["ops"],
    errors=[503],
)
async def readyz(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    checks: dict[str, str] = {}

    async def check(name: str, probe: object) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await probe  # type: ignore[misc]
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"failed: {type(exc).__name__}"
            log.warning("readiness check failed", dependency=name, error=repr(exc))

    async def database() -> None:
        async with container.database.session() as session:
            conn = await session.connection()
            await conn.execute(text("SELECT 1"))

    await check("database", database())
    if container.redis is not None:
        await check("redis", container.redis.ping())
    ok = all(v == "ok" for v in checks.values())
    return json_response(Readiness(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503)


@routes.get("/metrics")
@endpoint(
    "Prometheus metrics (text exposition format)",
    summary_zh="Prometheus 指标",
    response_content_type="text/plain",
    tags=["ops"],
)
async def metrics(request: web.Request) -> web.Response:
    if request.app[CONTAINER].settings.metrics_address and not request.app.get(METRICS_ONLY, False):
        # Served on the operations address only: the public port does not show the gateway's internals.
        raise NotFound("metrics are served on the operations address", "监控指标仅在运维地址提供")
    try:
        await refresh_outbox_gauges(request.app[CONTAINER].database)
    except Exception as exc:  # a scrape must still show the process metrics when the database is down
        log.warning("outbox gauges not refreshed", error=repr(exc))
    return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


METRICS_ONLY = web.AppKey("metrics_only", bool)


def create_metrics_app(container: Container) -> web.Application:
    """/metrics alone, for GW_METRICS_ADDRESS: `gateway serve` listens on it beside the public port."""
    app = web.Application()
    app[CONTAINER] = container
    app[METRICS_ONLY] = True
    app.router.add_get("/metrics", metrics)
    return app
