"""过户任务: a provider's job list (by state), one job to acknowledge or refuse, the list as CSV or XLSX.

Every page is scoped to the signed-in member of staff's provider (their institution): another provider's
job answers 404 like one that does not exist. Answers go through the same service as the pull API's signed
acknowledgement, audited with the member of staff.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.api.keys import ACTOR
from gateway.api.respond import services
from gateway.errors import FieldReason, Forbidden, InputError
from gateway.ports.utilities import RefusalReason, UtilityService
from gateway.security.users import Actor
from gateway.services.utilities import Acknowledgement, acknowledge
from gateway.services.utilities.portal import EXPORT_LIMIT, PortalJob, PortalState, portal_job, portal_jobs
from gateway.web.i18n import gettext as _
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, form_of, page, redirect, render

routes = web.RouteTableDef()
JOBS = "/provider/jobs"
PAGE_SIZE = 50
NOTE_LIMIT = 500  # the acknowledgement's `message`
_CHINA = ZoneInfo("Asia/Shanghai")


def _provider(request: web.Request) -> tuple[Actor, str]:
    actor: Actor = request[ACTOR]
    if not actor.institution:  # the realm guarantees one; a user without it could see nothing anyway
        raise Forbidden("this account belongs to no provider", "此账号未关联联动单位")
    return actor, actor.institution


def _state(request: web.Request, errors: list[FieldReason]) -> PortalState | None:
    given = request.query.get("state", "")
    if not given:
        return None
    if given in PortalState.__members__.values():
        return PortalState(given)
    errors.append(FieldReason("state", "无此状态", "no such state"))
    return None


def state_label(state: PortalState) -> str:
    return {
        PortalState.NEW: _("New"),
        PortalState.SEEN: _("Seen"),
        PortalState.DONE: _("Done"),
        PortalState.REFUSED: _("Refused to transfer"),
    }[state]


def service_label(service: UtilityService) -> str:
    return {
        UtilityService.WATER: _("Water"),
        UtilityService.POWER: _("Power"),
        UtilityService.GAS: _("Gas"),
        UtilityService.NETWORK: _("Broadband / cable TV"),
    }[service]


def reason_label(reason: RefusalReason, zh: bool) -> str:
    return reason.label_zh if zh else reason.label_en


def _local(at: datetime | None) -> str:
    return at.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M") if at else ""


def _common(request: web.Request) -> dict[str, Any]:
    zh = request[LOCALE] == "zh_CN"
    return {
        "states": list(PortalState),
        "state_label": state_label,
        "service_label": service_label,
        "reasons": list(RefusalReason),
        "reason_label": lambda r: reason_label(r, zh),
        "State": PortalState,
    }


@routes.get(JOBS)
@page()
async def jobs_page(request: web.Request) -> web.Response:
    _actor, provider = _provider(request)
    errors: list[FieldReason] = []
    state = _state(request, errors)
    try:
        number = max(int(request.query.get("page", "1")), 1)
    except ValueError:
        number = 1
    found = await portal_jobs(
        services(request), provider, state, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE
    )
    kept = {"state": state.value} if state else {}
    return render(
        request,
        "provider/jobs.html",
        _common(request)
        | {
            "errors": FormErrors(errors) if errors else FormErrors(),
            "jobs": found[:PAGE_SIZE],
            "state": state,
            "state_url": lambda s: f"{JOBS}?{urlencode({'state': s.value})}" if s else JOBS,
            "export_query": urlencode(kept),
            "next_url": f"{JOBS}?{urlencode(kept | {'page': number + 1})}" if len(found) > PAGE_SIZE else "",
            "previous_url": f"{JOBS}?{urlencode(kept | {'page': number - 1})}" if number > 1 else "",
        },
    )


# The export's columns: what the list shows, the new holder masked as there.
def _columns() -> list[str]:
    return [
        _("Job"),
        _("Service"),
        _("State"),
        _("Address"),
        _("Account number"),
        _("New holder"),
        _("Certificate number"),
        _("Unit code"),
        _("Received"),
        _("Answered"),
        _("Reason"),
        _("Note"),
    ]


def _row(job: PortalJob, zh: bool) -> list[str]:
    return [
        job.id,
        service_label(job.service),
        state_label(job.state),
        job.address,
        job.account_no,
        job.new_holder,
        job.certificate_number,
        job.unit_code,
        _local(job.created_at),
        _local(job.answered_at),
        reason_label(job.reason, zh) if job.reason else "",
        job.note,
    ]


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet must not run as a formula (CSV injection): text starting = + - @ gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def _export_rows(request: web.Request) -> tuple[str, PortalState | None, list[list[str]]]:
    _actor, provider = _provider(request)
    errors: list[FieldReason] = []
    state = _state(request, errors)
    if errors:
        raise InputError("no such state", "无此状态", errors)
    found = await portal_jobs(services(request), provider, state, limit=EXPORT_LIMIT)
    zh = request[LOCALE] == "zh_CN"
    return provider, state, [[_safe_cell(c) for c in _row(job, zh)] for job in found]


def _download(
    body: bytes, content_type: str, provider: str, state: PortalState | None, ext: str
) -> web.Response:
    name = f"{provider}-jobs{'-' + state.value if state else ''}.{ext}"
    return web.Response(
        body=body,
        content_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store",
        },
    )


@routes.get(JOBS + ".csv")
@page()
async def export_csv(request: web.Request) -> web.Response:
    provider, state, rows = await _export_rows(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_columns())
    writer.writerows(rows)
    # UTF-8 with a BOM: Excel on a Chinese Windows opens it as UTF-8 rather than GBK.
    body = out.getvalue().encode("utf-8-sig")
    response = _download(body, "text/csv", provider, state, "csv")
    response.charset = "utf-8"
    return response


@routes.get(JOBS + ".xlsx")
@page()
async def export_xlsx(request: web.Request) -> web.Response:
    from openpyxl import Workbook  # imported here: only exports need it

    provider, state, rows = await _export_rows(request)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title="jobs")
    sheet.append(_columns())
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(out.getvalue(), xlsx, provider, state, "xlsx")


def _job_context(request: web.Request, job: PortalJob, full: Any, **extra: Any) -> dict[str, Any]:
    return (
        _common(request)
        | {
            "job": job,
            "full": full,
            "errors": FormErrors(),
            "form": {},
            "answered": request.query.get("answered"),
        }
        | extra
    )


@routes.get(JOBS + "/{job_id}")
@page()
async def job_page(request: web.Request) -> web.Response:
    actor, provider = _provider(request)
    job, full = await portal_job(
        services(request), provider, request.match_info["job_id"], staff=actor.audit_name
    )
    return render(request, "provider/job.html", _job_context(request, job, full))


def _note(form: dict[str, str], errors: list[FieldReason]) -> str:
    note = form.get("note", "")
    if len(note) > NOTE_LIMIT:
        errors.append(FieldReason("note", f"备注不超过 {NOTE_LIMIT} 字", f"at most {NOTE_LIMIT} characters"))
    return note


@routes.post(JOBS + "/{job_id}/done")
@page()
async def mark_done(request: web.Request) -> web.Response:
    return await _answer(request, "done")


@routes.post(JOBS + "/{job_id}/refuse")
@page()
async def refuse(request: web.Request) -> web.Response:
    return await _answer(request, "rejected")


async def _answer(request: web.Request, result: str) -> web.Response:
    actor, provider = _provider(request)
    job_id = request.match_info["job_id"]
    form = await form_of(request)
    errors: list[FieldReason] = []
    note = _note(form, errors)
    reason: RefusalReason | None = None
    if result == "rejected":
        given = form.get("reason", "")
        if given in RefusalReason.__members__.values():
            reason = RefusalReason(given)
        else:
            errors.append(
                FieldReason(
                    "reason",
                    "请选择拒绝原因：户号不符、有欠费或需现场办理",
                    "choose a reason: account mismatch, arrears or visit required",
                )
            )
    ctx = services(request)
    if errors:
        job, full = await portal_job(ctx, provider, job_id, staff=actor.audit_name)
        exc = InputError("the answer is incomplete", "答复不完整", errors)
        context = _job_context(request, job, full, errors=FormErrors.of(exc, request[LOCALE]), form=form)
        return render(request, "provider/job.html", context, status=422)
    answer = Acknowledgement(result=result, reason=reason, message=note)
    await acknowledge(ctx, provider, job_id, answer, staff=actor.audit_name)
    return redirect(f"{JOBS}/{quote(job_id, safe='')}?answered={result}")
