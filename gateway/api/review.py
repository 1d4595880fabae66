"""Registry back-office case routes (/backoffice/api/v1/): the queue, a case, 初审/复审, 补正, 不予登记, 登簿, 改派."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.respond import services
from gateway.api.routing import (
    BACKOFFICE_API,
    Limit,
    actor_of,
    endpoint,
    json_response,
    read_json,
    read_query,
    require_role,
)
from gateway.api.views import CaseList, CaseView, TransitionView
from gateway.domain.identifiers import validate_unit_code
from gateway.domain.workflow import CaseState
from gateway.errors import Forbidden
from gateway.security.roles import Role
from gateway.services import register_admin, review

__all__ = ["routes"]

routes = web.RouteTableDef()
TAGS = ("back office",)
EXAMINERS = (Role.EXAMINER, Role.SENIOR_EXAMINER)


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: CaseState | None = CaseState.UNDER_REVIEW
    bank: str | None = Field(
        default=None, max_length=40, description="only this bank's cases (participant code)"
    )
    mine: bool = False
    limit: Limit = 50


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Literal["first", "second"]


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(min_length=1, max_length=100)


class SeizureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authority: str = Field(min_length=2, max_length=100, examples=["东莞市第一人民法院"])
    document_no: str = Field(min_length=2, max_length=100)


class FirstRegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    developer: str = Field(min_length=2, max_length=40, description="the developer's participant code")


class EntryCreated(BaseModel):
    entry_id: str


def _case_id(request: web.Request) -> str:
    return request.match_info["case_id"]


@routes.get(BACKOFFICE_API + "cases")
@endpoint(
    "The review queue, nearest deadline first",
    summary_zh="待办队列（按办理时限排序）",
    query=QueueQuery,
    response=CaseList,
    tags=TAGS,
)
@require_role(*EXAMINERS, Role.REGISTRAR, Role.SUPERVISOR, Role.ADMIN)
async def queue(request: web.Request) -> web.Response:
    query = read_query(request, QueueQuery)
    assignee = actor_of(request).id if query.mine else None
    async with services(request).reading() as store:
        found = await store.queue(state=query.state, bank=query.bank, assignee=assignee, limit=query.limit)
    return json_response(CaseList(cases=[CaseView.of(c, reveal=True) for c in found]))


@routes.get(BACKOFFICE_API + "cases/{case_id}")
@endpoint(
    "A case with its materials, rules and history",
    summary_zh="案件详情",
    response=CaseView,
    tags=TAGS,
    errors=(404,),
)
@require_role(*EXAMINERS, Role.REGISTRAR, Role.SUPERVISOR, Role.ADMIN)
async def case_detail(request: web.Request) -> web.Response:
    async with services(request).reading() as store:
        case = await store.load_case(_case_id(request))
        history = [TransitionView.model_validate(t.model_dump()) for t in await store.history(case.id)]
        materials = await store.materials(case.id)
        certificates = await store.certificates_of(case.id)
    return json_response(
        CaseView.of(case, history=history, materials=materials, certificates=certificates, reveal=True)
    )


@routes.get(BACKOFFICE_API + "cases/{case_id}/materials/{material_id}")
@endpoint(
    "One material's file",
    summary_zh="查看材料",
    response_content_type="application/pdf",
    tags=TAGS,
    errors=(404,),
)
@require_role(*EXAMINERS, Role.REGISTRAR, Role.SUPERVISOR)
async def material_file(request: web.Request) -> web.Response:
    async with services(request).reading() as store:
        record, content = await store.material_content(_case_id(request), request.match_info["material_id"])
    return web.Response(body=content, content_type=record.content_type)


@routes.post(BACKOFFICE_API + "cases/{case_id}/review")
@endpoint(
    "初审 (first) or 复审/核定 (second)",
    summary_zh="审核",
    request=ReviewRequest,
    response=CaseView,
    tags=TAGS,
    errors=(403, 404, 409),
)
@require_role(*EXAMINERS)
async def review_case(request: web.Request) -> web.Response:
    body = await read_json(request, ReviewRequest)
    actor = actor_of(request)
    if body.stage == "second" and Role.SENIOR_EXAMINER not in actor.roles:
        raise Forbidden("复审/核定 needs a senior examiner", "复审/核定须由复审人员办理")
    case = await review.review(services(request), actor.id, _case_id(request), body.stage)
    return json_response(CaseView.of(case, reveal=True))


@routes.post(BACKOFFICE_API + "cases/{case_id}/request-material")
@endpoint(
    "Return for 补正 with what is missing",
    summary_zh="退回补正",
    request=ReasonRequest,
    response=CaseView,
    tags=TAGS,
    errors=(404, 409),
)
@require_role(*EXAMINERS)
async def request_material(request: web.Request) -> web.Response:
    body = await read_json(request, ReasonRequest)
    case = await review.request_material(
        services(request), actor_of(request).id, _case_id(request), body.reason
    )
    return json_response(CaseView.of(case, reveal=True))


@routes.post(BACKOFFICE_API + "cases/{case_id}/reject")
@endpoint(
    "不予登记 with the reason",
    summary_zh="不予登记",
    request=ReasonRequest,
    response=CaseView,
    tags=TAGS,
    errors=(404, 409),
)
@require_role(Role.SENIOR_EXAMINER, Role.REGISTRAR)
async def reject_case(request: web.Request) -> web.Response:
    body = await read_json(request, ReasonRequest)
    case = await review.reject(services(request), actor_of(request).id, _case_id(request), body.reason)
    return json_response(CaseView.of(case, reveal=True))


@routes.post(BACKOFFICE_API + "cases/{case_id}/register")
@endpoint(
    "登簿: record the case in the register",
    summary_zh="登簿",
    response=CaseView,
    tags=TAGS,
    errors=(404, 409),
)
@require_role(Role.REGISTRAR)
async def register_case(request: web.Request) -> web.Response:
    case = await review.register(services(request), actor_of(request).id, _case_id(request))
    return json_response(CaseView.of(case, reveal=True))


@routes.post(BACKOFFICE_API + "cases/{case_id}/assign")
@endpoint(
    "改派: give the case to another examiner",
    summary_zh="改派",
    request=AssignRequest,
    response=CaseView,
    tags=TAGS,
    errors=(404, 409),
)
@require_role(Role.SUPERVISOR)
async def assign_case(request: web.Request) -> web.Response:
    body = await read_json(request, AssignRequest)
    case = await review.assign(services(request), actor_of(request).id, _case_id(request), body.assignee)
    return json_response(CaseView.of(case, reveal=True))


@routes.post(BACKOFFICE_API + "units/{unit_code}/seizures")
@endpoint(
    "Record a court's seizure (查封)",
    summary_zh="查封登记",
    request=SeizureRequest,
    response=EntryCreated,
    status=201,
    tags=TAGS,
    errors=(422,),
)
@require_role(Role.REGISTRAR)
async def seize_unit(request: web.Request) -> web.Response:
    body = await read_json(request, SeizureRequest)
    entry_id = await register_admin.record_seizure(
        services(request),
        actor_of(request).id,
        validate_unit_code(request.match_info["unit_code"]),
        body.authority,
        body.document_no,
    )
    return json_response(EntryCreated(entry_id=entry_id), status=201)


@routes.post(BACKOFFICE_API + "units/{unit_code}/first-registration")
@endpoint(
    "Record a flat's 首次登记 (the developer becomes owner)",
    summary_zh="首次登记",
    request=FirstRegistrationRequest,
    response=EntryCreated,
    status=201,
    tags=TAGS,
    errors=(403, 409, 422),
)
@require_role(Role.REGISTRAR)
async def first_registration(request: web.Request) -> web.Response:
    body = await read_json(request, FirstRegistrationRequest)
    ctx = services(request)
    entry_id = await register_admin.record_first_registration(
        ctx,
        actor_of(request).id,
        validate_unit_code(request.match_info["unit_code"]),
        ctx.institution(body.developer),
    )
    return json_response(EntryCreated(entry_id=entry_id), status=201)
