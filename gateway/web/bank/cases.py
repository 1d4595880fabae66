"""The branch's cases (the bank portal's start page), the case page, and its actions: answer a 补正,
撤回, download a certificate — through the services the signed API calls, with the API's ownership."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urlencode

from aiohttp import web
from aiohttp.web_request import FileField

from gateway.api.keys import ACTOR
from gateway.api.respond import services
from gateway.api.routing import UPLOAD, content_disposition, endpoint, require_role
from gateway.domain.cases import CaseKind
from gateway.domain.materials import MaterialKind
from gateway.domain.workflow import ALLOWED, CaseState
from gateway.domain.worklist import time_left, work_stage
from gateway.errors import FieldReason, InputError
from gateway.security.roles import Role
from gateway.services import bank_desk
from gateway.services import cases as case_service
from gateway.services.materials import MAX_MATERIAL_BYTES, accept_all
from gateway.services.store_queue import BankCaseFilter
from gateway.web.backoffice.cases import parties_of
from gateway.web.i18n import gettext
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, form_of, institution_name, page, redirect, render

routes = web.RouteTableDef()
CASES = "/bank/cases"
CASE = CASES + "/{case_id}"
PAGE_SIZE = 30
FILTERS = ("state", "kind", "unit_code", "receipt_number")
BANK_STAFF = (Role.BANK_CLERK, Role.BRANCH_SUPERVISOR, Role.BANK_ADMIN)
_FILE_TYPES = {"pdf": "application/pdf", "ofd": "application/ofd"}


def _seat(request: web.Request) -> bank_desk.BankSeat:
    return bank_desk.seat_of(request[ACTOR])


@routes.get(CASES)
@page()
@require_role(*BANK_STAFF)
async def cases_page(request: web.Request) -> web.Response:
    q = request.query
    errors: list[FieldReason] = []
    kind = q.get("kind", "")
    if kind and kind not in CaseKind.__members__.values():
        errors.append(FieldReason("kind", "请选择业务类型", "choose a kind of case"))
        kind = ""
    state = q.get("state", "")
    if state and state not in CaseState.__members__.values():
        errors.append(FieldReason("state", "请选择状态", "choose a state"))
        state = ""
    where = BankCaseFilter(
        bank="",  # the seat's, set by the service
        state=CaseState(state) if state else None,
        kind=CaseKind(kind) if kind else None,
        unit_code=q.get("unit_code", "").strip() or None,
        receipt_number=q.get("receipt_number", "").strip() or None,
    )
    ctx, seat = services(request), _seat(request)
    try:
        found = await bank_desk.cases(ctx, seat, where, limit=PAGE_SIZE, cursor=q.get("cursor") or None)
    except InputError as exc:  # a cursor from elsewhere: start again from the first page
        errors += exc.errors
        found = await bank_desk.cases(ctx, seat, where, limit=PAGE_SIZE)
    kept = {k: q[k].strip() for k in FILTERS if q.get(k, "").strip()}
    return render(
        request,
        "bank/cases.html",
        {
            "errors": FormErrors(errors, "") if errors else FormErrors(),
            "page": found,
            "seat": seat,
            "filters": kept,
            "next_url": f"{CASES}?{urlencode(kept | {'cursor': found.next_cursor})}"
            if found.next_cursor
            else "",
            "first_url": f"{CASES}?{urlencode(kept)}" if q.get("cursor") else "",
            "kinds": list(CaseKind),
            "states": list(CaseState),
        },
    )


def _who(request: web.Request) -> Any:
    """Who made a step, as the bank may know it: its own people by name, the registry as the registry
    (the examiners' names are the registry's business)."""

    def who(actor: str) -> str:
        if actor.startswith("bank:"):
            code, _, person = actor[5:].partition("/")
            bank = institution_name(request, code)
            return f"{bank} · {person}" if person else bank
        if actor == "rules":
            return gettext("The rules (automatic)")
        return gettext("The registry")

    return who


def _may_withdraw(state: CaseState) -> bool:
    return CaseState.WITHDRAWN in ALLOWED[state]


async def _case_page(
    request: web.Request,
    *,
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    done: str = "",
) -> web.Response:
    ctx = services(request)
    file = await bank_desk.case_file(ctx, _seat(request), request.match_info["case_id"])
    case = file.case
    context: dict[str, Any] = {
        "file": file,
        "case": case,
        "stage": work_stage(case),
        "left": time_left(ctx.calendar, case.deadline_at, ctx.clock()),
        "parties": parties_of(case.input.model_dump(mode="json"), reveal=False),
        "may_withdraw": _may_withdraw(case.state),
        "in_correction": case.state is CaseState.NEED_MORE_MATERIAL,
        "material_kinds": list(MaterialKind),
        "quote": lambda text: quote(text, safe=""),
        "zh": request[LOCALE] == "zh_CN",
        "errors": errors or FormErrors(),
        "form": form or {},
        "done": done,
        "max_mb": MAX_MATERIAL_BYTES // (1024 * 1024),
        "who": _who(request),
    }
    return render(request, "bank/case.html", context, status=status)


@routes.get(CASE)
@page()
@require_role(*BANK_STAFF)
async def case_page(request: web.Request) -> web.Response:
    return await _case_page(request, done=request.query.get("done", ""))


def _uploads(data: Any) -> list[tuple[str, str, bytes]]:
    files: list[tuple[str, str, bytes]] = []
    for item in data.getall("material", []):
        if isinstance(item, FileField) and item.filename:
            # aiohttp's own client percent-encodes a non-ASCII file name; browsers send it as it is.
            files.append((unquote(item.filename), item.content_type, item.file.read()))
    return files


@routes.post(CASE + "/correction")
@page()
@endpoint("Answer a 补正 from the counter (multipart form)", max_body=UPLOAD)  # the scans: the API's limit
@require_role(*BANK_STAFF)
async def answer_correction(request: web.Request) -> web.Response:
    """补正: the missing materials uploaded, then the case returns to review — the API's two calls
    (upload a material, resubmit), recorded with the user and their branch."""
    ctx, seat, case_id = services(request), _seat(request), request.match_info["case_id"]
    case = await bank_desk.own_case(ctx, seat, case_id)  # 404 before reading anything for another's
    data = await request.post()
    form = {k: v.strip() for k, v in data.items() if isinstance(v, str)}
    given_kind = form.get("material_kind") or MaterialKind.OTHER.value
    try:
        if case.state is not CaseState.NEED_MORE_MATERIAL:
            raise InputError(
                "the case is not waiting for material",
                "该业务件不在待补正状态",
                [FieldReason("material", "该业务件不在待补正状态", "the case is not waiting for material")],
            )
        if given_kind not in MaterialKind.__members__.values():
            raise InputError(
                "choose what the material is",
                "请选择材料类型",
                [FieldReason("material_kind", "请选择材料类型", "choose what the material is")],
            )
        files = _uploads(data)
        if not files and not form.get("note"):
            raise InputError(
                "upload the missing material or explain the correction",
                "请上传补正材料或填写补正说明",
                [
                    FieldReason(
                        "material", "请上传补正材料或填写补正说明", "upload a material or write a note"
                    )
                ],
            )
        uploads = await accept_all(files, ["material"] * len(files))
    except InputError as exc:
        return await _case_page(request, errors=FormErrors.of(exc, request[LOCALE]), form=form, status=422)
    kind, branch = MaterialKind(given_kind), request[ACTOR].branch or ""
    for upload in uploads:
        await case_service.add_material(
            ctx, seat.bank, case.id, replace(upload, kind=kind), by=seat.username, branch=branch
        )
    await case_service.resubmit(
        ctx, seat.bank, case.id, form.get("note", ""), by=seat.username, branch=branch
    )
    return redirect(f"{CASES}/{case.id}?done=resubmitted")


@routes.post(CASE + "/withdraw")
@page()
@require_role(*BANK_STAFF)
async def withdraw(request: web.Request) -> web.Response:
    ctx, seat, case_id = services(request), _seat(request), request.match_info["case_id"]
    case = await bank_desk.own_case(ctx, seat, case_id)
    form = await form_of(request)
    reason = form.get("reason", "")
    if not reason:
        exc = InputError(
            "say why the case is withdrawn",
            "请填写撤回原因",
            [FieldReason("reason", "请填写撤回原因", "a reason is required")],
        )
        return await _case_page(request, errors=FormErrors.of(exc, request[LOCALE]), form=form, status=422)
    await case_service.withdraw(
        ctx, seat.bank, case.id, reason, by=seat.username, branch=request[ACTOR].branch or ""
    )
    return redirect(f"{CASES}/{case.id}?done=withdrawn")


@routes.get(CASE + "/certificates/{number}")
@page()
@require_role(*BANK_STAFF)
async def certificate(request: web.Request) -> web.Response:
    """The signed PDF (or OFD with ?format=ofd) of a certificate of one's own case, as a download."""
    file_format = request.query.get("format", "pdf")
    if file_format not in _FILE_TYPES:
        raise InputError(
            "the format is pdf or ofd",
            "格式须为 pdf 或 ofd",
            [FieldReason("format", "格式须为 pdf 或 ofd", "pdf or ofd")],
        )
    number = request.match_info["number"]
    data = await bank_desk.certificate_file(
        services(request), _seat(request), request.match_info["case_id"], number, file_format
    )
    return web.Response(
        body=data,
        content_type=_FILE_TYPES[file_format],
        headers={
            "Content-Disposition": content_disposition(f"{number}.{file_format}"),
            "Cache-Control": "private, no-store",
        },
    )
