"""New cases at the counter (柜台受理): a clerk finds the unit, sees its register, fills the case of one of the
five kinds with its scans, and submits through the same service as the signed API; the 受理回执 follows.

Form fields are named by the case's own dotted paths (`sellers.0.id_number`, `new_mortgage.amount`), so a
pydantic error's location is the name of the field it belongs to. The server is the authority: the page's
script (static/counter.js) checks ID numbers and amounts as the clerk types, with the same algorithms, but
every rule is checked again here and shown in Chinese beside its field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError

from gateway.api.keys import ACTOR
from gateway.api.problem import validation_reasons
from gateway.api.respond import services
from gateway.api.routing import UPLOAD, endpoint, require_role
from gateway.api.views import masked_tree
from gateway.domain.cases import (
    CaseKind,
    ContractFilingInput,
    MortgageRegistrationInput,
    MortgageReleaseInput,
    PresaleMortgageConversionInput,
    TransferInput,
)
from gateway.domain.identifiers import mask_name
from gateway.domain.materials import MaterialKind
from gateway.domain.required_materials import missing_materials, optional_for, required_for
from gateway.errors import FieldReason, GatewayError, InputError, NotFound, RuleViolation
from gateway.security.roles import Role
from gateway.security.users import Actor
from gateway.services import cases
from gateway.services.lender_view import LenderUnitView, find_unit_code, lender_view
from gateway.services.materials import MaterialUpload, accept_all
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, page, redirect, render

__all__ = ["routes"]

routes = web.RouteTableDef()
NEW = "/bank/cases/new"
CLERKS = (Role.BANK_CLERK, Role.BRANCH_SUPERVISOR)
PARTY_ROWS = 2  # rows of sellers, buyers or mortgagors on the form; more go through the API
_INPUTS: dict[CaseKind, type[BaseModel]] = {
    CaseKind.MORTGAGE_REGISTRATION: MortgageRegistrationInput,
    CaseKind.MORTGAGE_RELEASE: MortgageReleaseInput,
    CaseKind.TRANSFER: TransferInput,
    CaseKind.PRESALE_MORTGAGE_CONVERSION: PresaleMortgageConversionInput,
    CaseKind.CONTRACT_FILING: ContractFilingInput,
}
# Fields a form sends that are not part of the case.
_NOT_CASE = {"csrf_token", "q", "with_new_mortgage", "release_proof_numbers"}
_MORTGAGE = {
    CaseKind.MORTGAGE_REGISTRATION: "mortgage",
    CaseKind.PRESALE_MORTGAGE_CONVERSION: "mortgage",
    CaseKind.TRANSFER: "new_mortgage",
}


def _kind(request: web.Request) -> CaseKind:
    try:
        return CaseKind(request.match_info["kind"])
    except ValueError:
        raise NotFound("no such case kind", "没有该业务类型") from None


def _clerk(request: web.Request) -> Actor:
    actor: Actor = request[ACTOR]
    if not actor.institution:  # a bank user always has one (check_membership); never submit without it
        raise NotFound("no bank", "没有所属银行")
    return actor


@routes.get(NEW)
@page()
@require_role(*CLERKS)
async def choose_kind(request: web.Request) -> web.Response:
    return render(request, "bank/new_kind.html", {"kinds": list(CaseKind)})


@routes.get(NEW + "/{kind}")
@page()
@require_role(*CLERKS)
async def new_case(request: web.Request) -> web.Response:
    return await _form_page(request, _kind(request), {"q": request.query.get("q", "").strip()})


async def _form_page(
    request: web.Request,
    kind: CaseKind,
    form: dict[str, str],
    errors: FormErrors | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """The lookup, the unit's register (audited: the bank's view), and the case form once a unit is found."""
    ctx = services(request)
    actor = _clerk(request)
    errors = errors or FormErrors()
    given = form.get("q") or form.get("unit_code", "")
    unit: LenderUnitView | None = None
    if given:
        unit_code = await find_unit_code(ctx, given)
        try:
            if unit_code:
                unit = await lender_view(ctx, actor.institution or "", unit_code, clerk=actor.username)
        except NotFound:
            unit = None
        if unit is None and not errors:
            errors = FormErrors(
                [
                    FieldReason(
                        "q", "登记簿中没有该不动产单元号或证书号", "no such unit code or certificate number"
                    )
                ]
            )
            status = 404
    if unit is not None:
        form = {**_prefill(kind, unit, actor.institution or ""), **form}
    new_home = form.get("transfer_type") == "new_home"
    context = {
        "kind": kind,
        "form": form,
        "errors": errors,
        "unit": unit,
        "rows": range(PARTY_ROWS),
        "required": required_for(kind, new_home=new_home, new_mortgage=bool(form.get("with_new_mortgage"))),
        # with the new mortgage, a transfer needs the loan's contracts too (the page's script marks them)
        "with_mortgage_required": required_for(kind, new_home=new_home, new_mortgage=True),
        "optional": optional_for(kind),
        "institutions": sorted((c, i.name) for c, i in ctx.institutions.items()),
    }
    return render(request, "bank/new_case.html", context, status=status)


def _prefill(kind: CaseKind, unit: LenderUnitView, party: str) -> dict[str, str]:
    """What the register already says: the certificate, the bank's own mortgage or 预抵押 contract."""
    found = {"unit_code": unit.unit_code}
    if unit.ownership_certificate and kind in (CaseKind.MORTGAGE_REGISTRATION, CaseKind.TRANSFER):
        found["ownership_certificate_number"] = unit.ownership_certificate
    own = [m for m in unit.mortgages if m.own]
    if kind is CaseKind.MORTGAGE_RELEASE and len(own) == 1 and own[0].certificate_number:
        found["proof_number"] = own[0].certificate_number
    if kind is CaseKind.PRESALE_MORTGAGE_CONVERSION:
        for entry in unit.pre_registrations:
            if entry.own and entry.summary.get("contract_no"):
                found["pre_mortgage_contract_no"] = str(entry.summary["contract_no"])
    return found


@routes.post(NEW + "/{kind}")
@page()
@endpoint(
    "Submit a new case from the counter (multipart form)", max_body=UPLOAD
)  # the scans: the API's limit
@require_role(*CLERKS)
async def submit_case(request: web.Request) -> web.Response:
    kind = _kind(request)
    actor = _clerk(request)
    data = await request.post()  # the middleware's CSRF check parsed it from the stream, once
    form = _text_fields(data)
    zh = request[LOCALE] == "zh_CN"
    reasons: list[FieldReason] = []
    case_input: Any = None
    try:
        case_input = _INPUTS[kind].model_validate(_case_tree(kind, form, services(request).institutions))
    except ValidationError as exc:
        reasons += validation_reasons(exc)
    except InputError as exc:
        reasons += exc.errors
    uploads, kinds = await _uploads(data, reasons)
    if case_input is not None:
        reasons += [
            FieldReason(f"materials.{k.value}", f"缺少必需材料：{k.label_zh}", f"missing: the {k.label_en}")
            for k in missing_materials(case_input, kinds)
        ]
    if reasons:
        message = ("请更正以下问题后重新提交", "correct the following and submit again")
        return await _form_page(request, kind, form, FormErrors(reasons, message[0] if zh else message[1]), status=422)  # fmt: skip
    try:
        case = await cases.submit(
            services(request),
            actor.institution or "",
            actor.branch or "",
            actor.username,
            case_input,
            materials=uploads,
        )
    except RuleViolation as exc:
        failed = [FieldReason("", f"{z}", f"{e}") for _, z, e in exc.failures]
        message = ("登记规则未通过，未受理", "a register rule failed: the case was not received")
        return await _form_page(request, kind, form, FormErrors(failed, message[0] if zh else message[1]), status=409)  # fmt: skip
    except InputError as exc:
        return await _form_page(request, kind, form, FormErrors.of(exc, request[LOCALE]), status=422)
    except GatewayError as exc:  # a conflict (the unit is locked by another case): said at the top
        reason = FieldReason("", exc.message_zh, exc.message_en)
        return await _form_page(request, kind, form, FormErrors([reason]), status=exc.http_status)
    return redirect(f"/bank/cases/{case.id}/receipt")


def _text_fields(data: MultiDictProxy[Any]) -> dict[str, str]:
    """The form's text fields, stripped (a repeated name keeps its last value)."""
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


def _case_tree(kind: CaseKind, form: dict[str, str], institutions: dict[str, Any]) -> dict[str, Any]:
    """The case as the API would receive it, from the dotted field names; empty fields are left out (so an
    optional one is absent), and party rows left blank are dropped."""
    tree: dict[str, Any] = {"kind": kind.value}
    for name, value in form.items():
        if not value or name in _NOT_CASE or name.startswith("materials."):
            continue
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    for key, value in list(tree.items()):
        if isinstance(value, dict) and value and all(k.isdigit() for k in value):
            rows = [value[k] for k in sorted(value, key=int)]
            tree[key] = [r for r in rows if _filled(r)]
    mortgage = _MORTGAGE.get(kind)
    if kind is CaseKind.TRANSFER and not form.get("with_new_mortgage"):
        tree.pop("new_mortgage", None)
    elif mortgage:
        tree.setdefault(mortgage, {})
    if "buyer_home_count" in tree and tree["buyer_home_count"].isdigit():
        tree["buyer_home_count"] = int(tree["buyer_home_count"])
    proofs = form.get("release_proof_numbers", "")
    if kind is CaseKind.TRANSFER:
        tree["release_proof_numbers"] = [line.strip() for line in proofs.splitlines() if line.strip()]
        for flag in ("seller_only_home", "mortgagee_consent"):
            tree[flag] = bool(form.get(flag))
    if kind is CaseKind.CONTRACT_FILING:
        code = form.get("developer.code", "")
        developer = institutions.get(code)
        if developer is None:
            raise InputError(
                "choose the developer",
                "请选择开发企业",
                [FieldReason("developer.code", "请选择开发企业", "choose the developer")],
            )
        tree["developer"] = developer.model_dump(mode="json")
    return tree


def _filled(row: Any) -> bool:
    """A party row counts once a name or an ID number is typed in it (the ID type select always sends)."""
    if not isinstance(row, dict):
        return bool(row)
    party = row.get("party", row)
    return isinstance(party, dict) and bool(party.get("name") or party.get("id_number"))


async def _uploads(
    data: MultiDictProxy[Any], reasons: list[FieldReason]
) -> tuple[list[MaterialUpload], set[MaterialKind]]:
    """The scans, each under the material kind of its file input, checked by content (the API's check);
    a refusal names the input it came from."""
    files: list[tuple[MaterialKind, web.FileField]] = []
    for name, value in data.items():
        if isinstance(value, web.FileField) and name.startswith("materials.") and value.filename:
            try:
                files.append((MaterialKind(name.removeprefix("materials.")), value))
            except ValueError:
                reasons.append(FieldReason(name, "材料类型不正确", "unknown material kind"))
    items = [(f.filename, f.content_type, f.file.read()) for _, f in files]
    fields = [f"materials.{k.value}" for k, _ in files]
    try:
        checked = await accept_all(items, fields)
    except InputError as exc:
        # "materials.sale_contract.content" → the file input "materials.sale_contract"
        reasons += [
            FieldReason(".".join(r.field.split(".")[:2]), r.reason_zh, r.reason_en) for r in exc.errors
        ]
        return [], set()
    uploads = [replace(u, kind=k) for u, (k, _) in zip(checked, files, strict=True)]
    return uploads, {u.kind for u in uploads}


@routes.get("/bank/cases/{case_id}/receipt")
@page()
@require_role(*CLERKS)
async def receipt(request: web.Request) -> web.Response:
    """受理回执: what the citizen takes home — the 受理编号, the case, the parties masked, the materials."""
    actor = _clerk(request)
    ctx = services(request)
    async with ctx.reading() as store:
        case = await store.load_case(request.match_info["case_id"], party=actor.institution)
        materials = await store.materials(case.id)
    facts = masked_tree(case.input.model_dump(mode="json"))
    parties = {role: [_masked_party(p) for p in facts.get(role, [])] for role in _ROLES}
    return render(
        request,
        "bank/receipt.html",
        {
            "case": case,
            "facts": facts,
            "parties": parties,
            "materials": materials,
            "registry": ctx.registry,
        },
    )


_ROLES = ("sellers", "buyers", "mortgagors")


def _masked_party(row: dict[str, Any]) -> dict[str, str]:
    """A party as a receipt prints it: a person's name and ID number masked, an institution's in full."""
    party = row.get("party", row)
    share = str(row.get("share") or "")
    if party.get("id_type") == "credit_code":
        return {"name": party["name"], "id_number": party["id_number"], "share": share}
    return {"name": mask_name(party["name"]), "id_number": party["id_number"], "share": share}
