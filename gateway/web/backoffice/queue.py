"""待办: the work queue page and 领件 (claim)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import get_args
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.api.keys import ACTOR
from gateway.api.respond import services
from gateway.domain.cases import CaseKind
from gateway.domain.workflow import CaseState
from gateway.errors import FieldReason, InputError
from gateway.services import worklist
from gateway.services.store_queue import QueueFilter
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, page, redirect, render
from gateway.web.paths import QUEUE

routes = web.RouteTableDef()
_CHINA = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 30
FILTERS = ("scope", "kind", "bank", "unit_code", "state", "received_from", "received_to")


def _day(value: str, name: str, errors: list[FieldReason]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(FieldReason(name, "请输入有效日期，如 2026-12-01", "enter a date such as 2026-12-01"))
        return None


def _start_of(day: date | None, days: int = 0) -> datetime | None:
    return None if day is None else datetime.combine(day + timedelta(days=days), time(), tzinfo=_CHINA)


@routes.get(QUEUE)
@page()
async def queue_page(request: web.Request) -> web.Response:
    actor = request[ACTOR]
    q = request.query
    given = q.get("scope") or worklist.default_scope(actor)
    errors: list[FieldReason] = []
    scope: worklist.Scope = worklist.default_scope(actor)
    if given in get_args(worklist.Scope):
        scope = given  # type: ignore[assignment]
    else:
        errors.append(FieldReason("scope", "无此范围", "no such scope"))
    kind = q.get("kind", "")
    if kind and kind not in CaseKind.__members__.values():
        errors.append(FieldReason("kind", "请选择业务类型", "choose a kind of case"))
        kind = ""
    state = q.get("state", "")
    if state and state not in CaseState.__members__.values():
        errors.append(FieldReason("state", "请选择状态", "choose a state"))
        state = ""
    received_from = _day(q.get("received_from", ""), "received_from", errors)
    received_to = _day(q.get("received_to", ""), "received_to", errors)
    where = QueueFilter(
        states=(CaseState(state),) if state else (),
        kind=CaseKind(kind) if kind else None,
        bank=q.get("bank") or None,
        unit_code=q.get("unit_code") or None,
        received_from=_start_of(received_from),
        received_before=_start_of(received_to, 1),
    )
    ctx = services(request)
    try:
        found = await worklist.queue(
            ctx,
            actor,
            scope,
            where,
            limit=PAGE_SIZE,
            cursor=q.get("cursor") or None,
        )
    except InputError as exc:  # a cursor from elsewhere: start again from the first page
        errors += exc.errors
        found = await worklist.queue(ctx, actor, scope, where, limit=PAGE_SIZE)
    kept = {k: q[k] for k in FILTERS if q.get(k)} | {"scope": scope}
    return render(
        request,
        "backoffice/queue.html",
        {
            "errors": FormErrors(errors, "") if errors else FormErrors(),
            "page": found,
            "scope": scope,
            "filters": kept,
            "next_url": f"{QUEUE}?{urlencode(kept | {'cursor': found.next_cursor})}"
            if found.next_cursor
            else "",
            "first_url": f"{QUEUE}?{urlencode(kept)}" if q.get("cursor") else "",
            "scope_url": lambda s: f"{QUEUE}?{urlencode(kept | {'scope': s})}",
            "kinds": list(CaseKind),
            "states": [s for s in CaseState if not s.is_final],
            "banks": sorted(ctx.institutions.items()),
            "bank_names": {code: inst.name for code, inst in ctx.institutions.items()},
            "may_claim": lambda item: (
                worklist.may_act(actor.roles, item.stage) and item.case.assignee is None
            ),
            "zh": request[LOCALE] == "zh_CN",
        },
    )


@routes.post("/backoffice/cases/{case_id}/claim")
@page()
async def claim(request: web.Request) -> web.Response:
    case = await worklist.claim(services(request), request[ACTOR], request.match_info["case_id"])
    return redirect(f"/backoffice/cases/{case.id}")
