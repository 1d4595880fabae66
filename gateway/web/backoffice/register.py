"""The register's pages: a unit (by unit code or certificate number) with 查封/解封, 异议登记 and its
cancellation, 首次登记; a certificate with its PDF and 换发/补发."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.api.keys import ACTOR, CONTAINER
from gateway.api.respond import services
from gateway.api.routing import require_role
from gateway.domain.identifiers import validate_unit_code
from gateway.domain.parties import Party
from gateway.errors import FieldReason, GatewayError, InputError, NotFound
from gateway.security.roles import Role
from gateway.services import casefile, register_admin
from gateway.services.certificate_lookup import find_by_number
from gateway.services.certification import Certification, RegistrySeal, void_certificate
from gateway.web.backoffice.cases import inline_file
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, form_of, page, redirect, render

routes = web.RouteTableDef()
UNITS = "/backoffice/units"
CERTIFICATES = "/backoffice/certificates"
STAFF = (Role.EXAMINER, Role.SENIOR_EXAMINER, Role.REGISTRAR, Role.SUPERVISOR, Role.ADMIN)


@routes.get(UNITS)
@page()
@require_role(*STAFF)
async def find_unit(request: web.Request) -> web.Response:
    """Search by unit code or certificate number; a hit goes straight to the unit."""
    given = request.query.get("q", "").strip()
    errors = FormErrors()
    if given:
        try:
            return redirect(f"{UNITS}/{validate_unit_code(given, field='q')}")
        except InputError:
            pass
        try:
            record = await find_by_number(request.app[CONTAINER].database, services(request).registry, given)
        except InputError:
            record = None
        if record is not None:
            return redirect(f"{UNITS}/{record.unit_code}")
        errors = FormErrors(
            [FieldReason("q", "没有该不动产单元号或证书号", "no such unit code or certificate number")]
        )
    return render(
        request, "backoffice/unit_search.html", {"q": given, "errors": errors}, status=422 if errors else 200
    )


async def _unit_page(request: web.Request, errors: FormErrors | None = None, form: dict[str, str] | None = None) -> web.Response:  # fmt: skip
    ctx = services(request)
    unit_code = validate_unit_code(request.match_info["unit_code"])
    try:
        file = await casefile.unit_file(ctx, unit_code)
    except InputError as exc:
        raise NotFound(exc.message_en, exc.message_zh) from None
    developers = sorted((c, i.name) for c, i in ctx.institutions.items())
    context = {"file": file, "unit_code": unit_code, "errors": errors or FormErrors(), "form": form or {},
               "developers": developers, "may_register": Role.REGISTRAR in request[ACTOR].roles}  # fmt: skip
    return render(request, "backoffice/unit.html", context, status=422 if errors else 200)


@routes.get(UNITS + "/{unit_code}")
@page()
@require_role(*STAFF)
async def unit_page(request: web.Request) -> web.Response:
    return await _unit_page(request)


async def _change(request: web.Request, change: Any) -> web.Response:
    form = await form_of(request)
    unit_code = validate_unit_code(request.match_info["unit_code"])
    try:
        await change(services(request), request[ACTOR].audit_name, unit_code, form)
    except InputError as exc:
        return await _unit_page(request, FormErrors.of(exc, request[LOCALE]), form)
    except GatewayError as exc:  # a conflict (the same court document twice): said beside the form
        zh = request[LOCALE] == "zh_CN"
        reason = FieldReason(form.get("_field", ""), exc.message_zh, exc.message_en)
        return await _unit_page(request, FormErrors([reason], exc.message_zh if zh else exc.message_en), form)
    return redirect(f"{UNITS}/{unit_code}")


def _required(form: dict[str, str], *fields: tuple[str, str, str]) -> None:
    missing = [FieldReason(name, zh, en) for name, zh, en in fields if not form.get(name)]
    if missing:
        raise InputError("fill in every field", "请填写完整", missing)


@routes.post(UNITS + "/{unit_code}/seizures")
@page()
@require_role(Role.REGISTRAR)
async def seize(request: web.Request) -> web.Response:
    async def run(ctx: Any, actor: str, unit_code: str, form: dict[str, str]) -> None:
        form["_field"] = "document_no"
        _required(
            form,
            ("authority", "请填写查封机关", "enter the court"),
            ("document_no", "请填写文书编号", "enter the document number"),
        )
        await register_admin.record_seizure(ctx, actor, unit_code, form["authority"], form["document_no"])

    return await _change(request, run)


@routes.post(UNITS + "/{unit_code}/seizures/{entry_id}/release")
@page()
@require_role(Role.REGISTRAR)
async def release(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]

    async def run(ctx: Any, actor: str, unit_code: str, form: dict[str, str]) -> None:
        _required(form, ("release_document_no", "请填写解封文书编号", "enter the lifting order's number"))
        await register_admin.release_seizure(
            ctx, actor, unit_code, entry_id, form.get("release_authority", ""), form["release_document_no"]
        )

    return await _change(request, run)


@routes.post(UNITS + "/{unit_code}/objections")
@page()
@require_role(Role.REGISTRAR)
async def object_(request: web.Request) -> web.Response:
    async def run(ctx: Any, actor: str, unit_code: str, form: dict[str, str]) -> None:
        _required(form, ("applicant_name", "请填写异议申请人", "enter the applicant"),
                  ("applicant_id", "请填写证件号码", "enter the ID number"), ("matter", "请填写异议事项", "enter the matter"))  # fmt: skip
        try:
            applicant = Party(name=form["applicant_name"], id_number=form["applicant_id"])
        except ValueError:
            raise InputError(
                "the ID number is not valid",
                "证件号码无效",
                [FieldReason("applicant_id", "证件号码无效", "not a valid ID number")],
            ) from None
        await register_admin.record_objection(ctx, actor, unit_code, applicant, form["matter"])

    return await _change(request, run)


@routes.post(UNITS + "/{unit_code}/objections/{entry_id}/cancel")
@page()
@require_role(Role.REGISTRAR)
async def cancel_objection(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]

    async def run(ctx: Any, actor: str, unit_code: str, form: dict[str, str]) -> None:
        _required(form, ("cancel_reason", "请填写注销原因", "enter the reason"))
        await register_admin.cancel_objection(ctx, actor, unit_code, entry_id, form["cancel_reason"])

    return await _change(request, run)


@routes.post(UNITS + "/{unit_code}/correction")
@page()
@require_role(Role.REGISTRAR)
async def correct(request: web.Request) -> web.Response:
    async def run(ctx: Any, actor: str, unit_code: str, form: dict[str, str]) -> None:
        _required(form, ("address", "请填写坐落", "enter the address"), ("floor_area", "请填写建筑面积", "enter the floor area"),
                  ("reason", "请填写更正依据", "enter the reason"))  # fmt: skip
        try:
            area = Decimal(form["floor_area"])
        except InvalidOperation:
            raise InputError(
                "not a number",
                "建筑面积须为数字",
                [FieldReason("floor_area", "建筑面积须为数字", "enter a number")],
            ) from None
        await register_admin.correct_unit(ctx, actor, unit_code, form["address"], area, form["reason"])

    return await _change(request, run)


@routes.post(UNITS + "/{unit_code}/first-registration")
@page()
@require_role(Role.REGISTRAR)
async def first_registration(request: web.Request) -> web.Response:
    async def run(ctx: Any, actor: str, unit_code: str, form: dict[str, str]) -> None:
        form["_field"] = "developer"
        _required(form, ("developer", "请选择开发企业", "choose the developer"))
        await register_admin.record_first_registration(
            ctx, actor, unit_code, ctx.institution(form["developer"])
        )

    return await _change(request, run)


@routes.get(CERTIFICATES)
@page()
@require_role(*STAFF)
async def certificate_page(request: web.Request) -> web.Response:
    number = request.query.get("number", "").strip()
    record, errors = None, FormErrors()
    if number:
        try:
            record = await find_by_number(request.app[CONTAINER].database, services(request).registry, number)
        except InputError as exc:
            errors = FormErrors([FieldReason("number", exc.message_zh, exc.message_en)])
        if record is None and not errors:
            errors = FormErrors([FieldReason("number", "没有该证书", "no such certificate")])
    context: dict[str, Any] = {"number": number, "record": record, "errors": errors, "form": {},
               "quote": lambda s: quote(s, safe=""), "may_reissue": Role.REGISTRAR in request[ACTOR].roles}  # fmt: skip
    return render(
        request, "backoffice/certificate.html", context, status=404 if number and not record else 200
    )


@routes.get(CERTIFICATES + "/file")
@page()
@require_role(*STAFF)
async def certificate_file(request: web.Request) -> web.Response:
    number = request.query.get("number", "")
    record = await find_by_number(request.app[CONTAINER].database, services(request).registry, number)
    if record is None or record.case_id is None:
        raise NotFound(f"certificate {number} has no file", f"证书 {number} 没有电子文件")
    async with services(request).reading() as store:
        pdf = await store.certificate_file(record.case_id, record.facts.number)
    if pdf is None:
        raise NotFound(f"certificate {number} has no file yet", f"证书 {number} 尚未缮证")
    return inline_file(pdf, "application/pdf", f"{record.facts.number}.pdf")


@routes.post(CERTIFICATES + "/reissue")
@page()
@require_role(Role.REGISTRAR)
async def reissue(request: web.Request) -> web.Response:
    """换发 (补发 when lost): a new number and file; the old certificate is voided."""
    form = await form_of(request)
    container = request.app[CONTAINER]
    if container.registry_cert is None:
        raise NotFound("this gateway has no registry certificate to sign with", "本网关未配置登记机构证书")
    seal = RegistrySeal(container.registry_key, container.registry_cert, container.settings.public_base_url)
    try:
        new = await Certification(services(request), seal).reissue(
            form.get("number", ""), actor=request[ACTOR].audit_name, reason=form.get("reason", ""),
            lost=form.get("lost") == "1",
        )  # fmt: skip
    except InputError as exc:
        record = await find_by_number(container.database, services(request).registry, form.get("number", ""))
        context = {"number": form.get("number", ""), "record": record, "errors": FormErrors.of(exc, request[LOCALE]),
                   "form": form, "quote": lambda s: quote(s, safe=""), "may_reissue": True}  # fmt: skip
        return render(request, "backoffice/certificate.html", context, status=422)
    return redirect(f"{CERTIFICATES}?number={quote(new, safe='')}")


@routes.post(CERTIFICATES + "/void")
@page()
@require_role(Role.REGISTRAR)
async def void(request: web.Request) -> web.Response:
    """作废 a valid certificate, with its reason (audited)."""
    form = await form_of(request)
    container = request.app[CONTAINER]
    try:
        number = await void_certificate(
            services(request),
            form.get("number", ""),
            actor=request[ACTOR].audit_name,
            reason=form.get("reason", ""),
        )
    except InputError as exc:
        record = await find_by_number(container.database, services(request).registry, form.get("number", ""))
        context = {"number": form.get("number", ""), "record": record, "errors": FormErrors.of(exc, request[LOCALE]),
                   "form": form, "quote": lambda s: quote(s, safe=""), "may_reissue": True}  # fmt: skip
        return render(request, "backoffice/certificate.html", context, status=422)
    return redirect(f"{CERTIFICATES}?number={quote(number, safe='')}")
