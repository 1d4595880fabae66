"""The case page: parties, the unit's register, materials inline, rules, tracks, history, the actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.api.keys import ACTOR
from gateway.api.respond import services
from gateway.domain.identifiers import mask_id_number, mask_phone
from gateway.domain.worklist import WorkStage, time_left, work_stage
from gateway.errors import InputError, NotFound
from gateway.security.users import Actor
from gateway.services import casefile
from gateway.services.casefile import CaseFile
from gateway.web.backoffice.actions import COMMON_OPINIONS, allowed_actions
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, form_of, page, render

routes = web.RouteTableDef()
CASE = "/backoffice/cases/{case_id}"
_PARTY_ROLES = {
    "mortgagors": "Mortgagor",
    "sellers": "Seller",
    "buyers": "Buyer",
    "borrowers": "Borrower",
    "party": "Party",
    "applicant": "Applicant",
}


def parties_of(tree: Any, reveal: bool, at: str = "") -> list[dict[str, str]]:
    """Every person or company in the submitted data: where it appears, name, ID number (masked unless
    revealed), phone (masked)."""
    found: list[dict[str, str]] = []
    if isinstance(tree, dict):
        if isinstance(tree.get("id_number"), str) and isinstance(tree.get("name"), str):
            person = tree.get("id_type") != "credit_code"
            number = tree["id_number"]
            phone = tree.get("phone") or ""
            found.append(
                {
                    "role": at,
                    "name": tree["name"],
                    "id_type": str(tree.get("id_type", "")),
                    "id_number": number if reveal or not person else mask_id_number(number),
                    "phone": phone if reveal or not phone else mask_phone(phone),
                }
            )
        for key, value in tree.items():
            found += parties_of(value, reveal, at if key == "party" else key)
    elif isinstance(tree, list):
        for item in tree:
            found += parties_of(item, reveal, at)
    return found


def case_context(request: web.Request, file: CaseFile, *, reveal: bool = False) -> dict[str, Any]:
    actor: Actor = request[ACTOR]
    ctx = services(request)
    case = file.case
    stage = work_stage(case)
    data = case.input.model_dump(mode="json")
    return {
        "file": file,
        "case": case,
        "stage": stage,
        "left": time_left(ctx.calendar, case.deadline_at, ctx.clock()),
        "parties": parties_of(data, reveal),
        "party_roles": _PARTY_ROLES,
        "revealed": reveal,
        "name_of": lambda who: file.names.get(who or "", who or "—"),
        "bank_name": ctx.institutions[case.submitted_by].name
        if case.submitted_by in ctx.institutions
        else case.submitted_by,
        "actions": allowed_actions(actor, case, stage),
        "common_opinions": COMMON_OPINIONS,
        "quote": lambda text: quote(text, safe=""),
        "zh": request[LOCALE] == "zh_CN",
        "errors": FormErrors(),
        "form": {},
        "Stage": WorkStage,
    }


@routes.get(CASE)
@page()
async def case_page(request: web.Request) -> web.Response:
    file = await casefile.case_file(services(request), request.match_info["case_id"])
    return render(request, "backoffice/case.html", case_context(request, file))


@routes.post(CASE + "/reveal")
@page()
async def reveal(request: web.Request) -> web.Response:
    """The full ID numbers, for this response only: the reason is audited first."""
    actor: Actor = request[ACTOR]
    form = await form_of(request)
    ctx = services(request)
    case_id = request.match_info["case_id"]
    try:
        await casefile.record_reveal(ctx, actor.audit_name, case_id, form.get("reason", ""))
    except InputError as exc:
        file = await casefile.case_file(ctx, case_id)
        context = case_context(request, file) | {"errors": FormErrors.of(exc, request[LOCALE])}
        return render(request, "backoffice/case.html", context, status=422)
    file = await casefile.case_file(ctx, case_id)
    return render(request, "backoffice/case.html", case_context(request, file, reveal=True))


@routes.get(CASE + "/materials/{material_id}")
@page()
async def material(request: web.Request) -> web.Response:
    async with services(request).reading() as store:
        record, content = await store.material_content(
            request.match_info["case_id"], request.match_info["material_id"]
        )
    return inline_file(content, record.content_type, record.name)


@routes.get(CASE + "/certificates/{number}")
@page()
async def certificate(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    async with services(request).reading() as store:
        pdf = await store.certificate_file(request.match_info["case_id"], number)
    if pdf is None:
        raise NotFound(f"certificate {number} has no file yet", f"证书 {number} 尚未缮证")
    return inline_file(pdf, "application/pdf", f"{number}.pdf")


def inline_file(content: bytes, content_type: str, name: str) -> web.Response:
    """A file shown inside our own page (an <iframe> or <img>): its true type, never sniffed, and a
    policy that lets only our pages frame it."""
    return web.Response(
        body=content,
        content_type=content_type,
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; frame-ancestors 'self'",
            "Cache-Control": "private, max-age=300",
        },
    )
