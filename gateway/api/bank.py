"""The bank counter API (/api/v1/): submit and follow cases, upload materials, fetch certificates, check a unit."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.keys import PARTICIPANT
from gateway.api.respond import Reply, services
from gateway.api.routing import (
    BANK_API,
    UPLOAD,
    Limit,
    content_disposition,
    endpoint,
    json_response,
    read_body,
    read_json,
    read_query,
)
from gateway.api.views import CaseList, CaseView, MaterialView, TransitionView
from gateway.domain.cases import CaseInput
from gateway.domain.materials import MaterialKind
from gateway.domain.workflow import CaseState
from gateway.errors import FieldReason, InputError, NotFound
from gateway.services import cases
from gateway.services.lender_view import LenderUnitView, lender_view
from gateway.services.materials import MAX_MATERIAL_BYTES, accept_all

__all__ = ["routes"]

routes = web.RouteTableDef()
TAGS = ("bank",)


class MaterialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["抵押合同.pdf"])
    content_type: Literal["application/pdf", "image/jpeg"]
    kind: MaterialKind = Field(
        default=MaterialKind.OTHER,
        description="what the document is where a rule reads it: pre_registrant_consent "
        "(预告登记权利人书面同意), objection_risk_statement (知悉异议、自担风险声明), "
        "co_owner_pre_emption_waiver (其他按份共有人放弃优先购买权声明); the application's documents "
        "application_form, identity_document, ownership_certificate, registration_proof, sale_contract, "
        "loan_contract, mortgage_contract, discharge_proof, tax_receipt (the bank portal requires those of "
        "the case's kind; the API does not); else other",
    )
    content_base64: str = Field(max_length=(MAX_MATERIAL_BYTES * 4) // 3 + 4, repr=False)

    def decoded(self, index: int) -> tuple[str, str, bytes]:
        try:
            content = base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                "a material is not valid base64",
                "材料内容不是有效的 base64",
                [FieldReason(f"materials.{index}.content_base64", "不是有效的 base64", "not valid base64")],
            ) from None
        return self.name, self.content_type, content


class SubmitCaseRequest(BaseModel):
    """A case as the bank's clerk submits it at the counter, on the citizen's behalf."""

    model_config = ConfigDict(extra="forbid")

    branch: str = Field(min_length=1, max_length=100, examples=["松山湖支行"])
    clerk: str = Field(min_length=1, max_length=100, examples=["柜员 0123"])
    case: CaseInput
    materials: list[MaterialIn] = Field(default_factory=list, max_length=20)


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class ResubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=500)


class UploadQuery(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["抵押合同.pdf"])
    kind: MaterialKind = MaterialKind.OTHER


class CaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: CaseState | None = None
    limit: Limit = 50
    before: datetime | None = None  # cursor: received_at of the last case of the previous page


class DownloadQuery(BaseModel):
    """?format= of a certificate download: the PDF, or the same certificate as OFD (GB/T 33190, 36905)."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["pdf", "ofd"] = "pdf"


def _material_kind(request: web.Request) -> MaterialKind:
    given = request.query.get("kind", MaterialKind.OTHER.value)
    try:
        return MaterialKind(given)
    except ValueError:
        kinds = ", ".join(k.value for k in MaterialKind)
        raise InputError(
            f"unknown material kind {given!r}",
            "材料类型不正确",
            [FieldReason("kind", f"材料类型须为：{kinds}", f"the kind must be one of: {kinds}")],
        ) from None


def _party(request: web.Request) -> str:
    return request[PARTICIPANT].code


@routes.post(BANK_API + "cases")
@endpoint(
    "Submit a case (受理)",
    summary_zh="提交业务件（受理）",
    request=SubmitCaseRequest,
    response=CaseView,
    status=201,
    max_body=UPLOAD,  # ApiSettings.max_upload_bytes
    tags=TAGS,
    errors=(409, 422),
    description="A 即办件 (contract filing, release by the mortgagee of record, matching 按揭转抵押) is "
    "registered at once; others enter parallel review. A failing rule refuses the case with every reason.",
)
async def submit_case(request: web.Request) -> web.Response:
    body = await read_json(request, SubmitCaseRequest)
    decoded = [m.decoded(i) for i, m in enumerate(body.materials)]
    checked = await accept_all(decoded, [f"materials.{i}" for i in range(len(decoded))])
    uploads = [replace(u, kind=m.kind) for u, m in zip(checked, body.materials, strict=True)]
    reply = Reply(request, CaseView.of, status=201)
    await cases.submit(
        services(request),
        _party(request),
        body.branch,
        body.clerk,
        body.case,
        materials=uploads,
        finish=reply,
    )
    return reply.response()


@routes.get(BANK_API + "cases")
@endpoint("List one's own cases", summary_zh="查询本行业务件", query=CaseQuery, response=CaseList, tags=TAGS)
async def list_cases(request: web.Request) -> web.Response:
    query = read_query(request, CaseQuery)
    async with services(request).reading() as store:
        found = await store.list_cases(
            party=_party(request), state=query.state, limit=query.limit, before=query.before
        )
    views = [CaseView.of(c) for c in found]
    cursor = views[-1].received_at.isoformat() if len(views) == query.limit else None
    return json_response(CaseList(cases=views, next_cursor=cursor))


@routes.get(BANK_API + "cases/{case_id}")
@endpoint(
    "A case with its history and materials",
    summary_zh="业务件详情",
    response=CaseView,
    tags=TAGS,
    errors=(404,),
)
async def get_case(request: web.Request) -> web.Response:
    case_id = request.match_info["case_id"]
    async with services(request).reading() as store:
        case = await store.load_case(case_id, party=_party(request))
        history = [TransitionView.model_validate(t.model_dump()) for t in await store.history(case.id)]
        materials = await store.materials(case.id)
        certificates = await store.certificates_of(case.id)
    return json_response(CaseView.of(case, history=history, materials=materials, certificates=certificates))


@routes.post(BANK_API + "cases/{case_id}/withdraw")
@endpoint(
    "Withdraw a case before 登簿",
    summary_zh="撤回",
    request=ReasonRequest,
    response=CaseView,
    tags=TAGS,
    errors=(404, 409),
)
async def withdraw_case(request: web.Request) -> web.Response:
    body = await read_json(request, ReasonRequest)
    reply = Reply(request, CaseView.of)
    await cases.withdraw(
        services(request), _party(request), request.match_info["case_id"], body.reason, finish=reply
    )
    return reply.response()


@routes.post(BANK_API + "cases/{case_id}/resubmit")
@endpoint(
    "Answer a 补正 request",
    summary_zh="补正后重新提交",
    request=ResubmitRequest,
    response=CaseView,
    tags=TAGS,
    errors=(404, 409),
)
async def resubmit_case(request: web.Request) -> web.Response:
    body = await read_json(request, ResubmitRequest)
    reply = Reply(request, CaseView.of)
    await cases.resubmit(
        services(request), _party(request), request.match_info["case_id"], body.note, finish=reply
    )
    return reply.response()


@routes.post(BANK_API + "cases/{case_id}/materials")
@endpoint(
    "Upload a material (PDF or JPEG, raw body; ?name=&kind=)",
    summary_zh="上传材料",
    response=MaterialView,
    status=201,
    query=UploadQuery,
    max_body=MAX_MATERIAL_BYTES,
    request_content_type="application/pdf",
    tags=TAGS,
    errors=(404, 409, 413, 422),
)
async def upload_material(request: web.Request) -> web.Response:
    content = await read_body(request)
    [checked] = await accept_all([(request.query.get("name", ""), request.content_type, content)], [""])
    upload = replace(checked, kind=_material_kind(request))
    reply = Reply(request, MaterialView.of, status=201)
    await cases.add_material(
        services(request), _party(request), request.match_info["case_id"], upload, finish=reply
    )
    return reply.response()


@routes.get(BANK_API + "cases/{case_id}/certificates/{number}")
@endpoint(
    "Download a certificate issued in one's own case (signed PDF, or OFD with ?format=ofd)",
    summary_zh="下载电子证照",
    query=DownloadQuery,
    response_content_type="application/pdf",
    tags=TAGS,
    errors=(404,),
    response_headers=[
        (
            "Content-Disposition",
            'attachment; filename="certificate-<ASCII part of the number>.pdf"; '
            "filename*=UTF-8''<the certificate number, percent-encoded>.pdf (RFC 6266)",
        )
    ],
)
async def download_certificate(request: web.Request) -> web.Response:
    case_id, number = request.match_info["case_id"], request.match_info["number"]
    file_format = read_query(request, DownloadQuery).format
    async with services(request).reading() as store:
        await store.load_case(case_id, party=_party(request))
        data = await store.certificate_file(case_id, number, file_format)
    if data is None:
        raise NotFound("the certificate is not issued yet (in this format)", "证照尚未签发（该格式）")
    return web.Response(
        body=data,
        content_type=_FILE_TYPES[file_format],
        headers={"Content-Disposition": content_disposition(f"{number}.{file_format}")},
    )


_FILE_TYPES = {"pdf": "application/pdf", "ofd": "application/ofd"}


@routes.get(BANK_API + "units/{unit_code}")
@endpoint(
    "A unit's register status before lending (owners masked; other banks' loan details withheld)",
    summary_zh="不动产登记状态查询",
    response=LenderUnitView,
    tags=TAGS,
    errors=(404, 422),
    description="Owners, seizures, objections, pre-registrations and every mortgage's rank and mortgagee; "
    "the contract numbers, amount and term only of the asking bank's own mortgages (own: true). Audited.",
)
async def unit_status(request: web.Request) -> web.Response:
    view = await lender_view(services(request), _party(request), request.match_info["unit_code"])
    return json_response(view)
