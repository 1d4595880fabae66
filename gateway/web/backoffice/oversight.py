"""The supervisor's pages: the dashboard and the dead letters (list and replay)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import ACTOR, CONTAINER
from gateway.api.respond import services
from gateway.api.routing import require_role
from gateway.db.tables.infra import OutboxStatus
from gateway.jobs.deadletters import list_deliveries, replay_dead
from gateway.security.roles import Role
from gateway.services import dashboard as dashboards
from gateway.services import worklist
from gateway.web.pages import page, redirect, render

routes = web.RouteTableDef()
DASHBOARD = "/backoffice/dashboard"
DEAD_LETTERS = "/backoffice/dead-letters"


@routes.get(DASHBOARD)
@page()
@require_role(Role.SUPERVISOR, Role.ADMIN)
async def dashboard(request: web.Request) -> web.Response:
    ctx = services(request)
    board = await dashboards.dashboard(ctx, days=7)
    return render(
        request,
        "backoffice/dashboard.html",
        {
            "board": board,
            "names": await worklist.names(ctx),
            "bank_names": {code: inst.name for code, inst in ctx.institutions.items()},
        },
    )


@routes.get(DEAD_LETTERS)
@page()
@require_role(Role.SUPERVISOR, Role.ADMIN)
async def dead_letters(request: web.Request) -> web.Response:
    rows = await list_deliveries(request.app[CONTAINER].database, OutboxStatus.DEAD, limit=100, offset=0)
    return render(request, "backoffice/dead_letters.html", {"rows": rows})


@routes.post(DEAD_LETTERS + "/{id}/replay")
@page()
@require_role(Role.SUPERVISOR, Role.ADMIN)
async def replay(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    await replay_dead(container.database, request.match_info["id"], actor=request[ACTOR].audit_name)
    container.wake_dispatcher()
    return redirect(DEAD_LETTERS + "?replayed=1")
