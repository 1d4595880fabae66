"""Back-office register routes (/backoffice/api/v1/units/…): a unit's register, 异议登记 and the court's
acceptance that keeps it, closing a lapsed 预告登记."""

from __future__ import annotations

from datetime import date
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.respond import services
from gateway.api.review import EXAMINERS, EntryCreated
from gateway.api.routing import BACKOFFICE_API, actor_of, endpoint, json_response, read_json, require_role
from gateway.api.views import UnitStatusView
from gateway.domain.identifiers import validate_unit_code
from gateway.domain.lapses import lapses
from gateway.domain.parties import Party
from gateway.errors import InputError, NotFound
from gateway.security.roles import Role
from gateway.services import register_admin

__all__ = ["routes"]

routes = web.RouteTableDef()
TAGS = ("register",)
UNIT = BACKOFFICE_API + "units/{unit_code}"


class ObjectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    applicant: Party
    matter: str = Field(min_length=2, max_length=500, examples=["主张该房屋为夫妻共同财产"])


class CourtAcceptanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    court: str = Field(min_length=2, max_length=100, examples=["东莞市第一人民法院"])
    case_no: str = Field(min_length=2, max_length=100, examples=["（2026）粤1971民初1234号"])
    accepted_on: date


class ClosePreRegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Literal["lapsed", "claim_extinguished"] = Field(
        description="lapsed: 90 days passed (民法典 §221); claim_extinguished: 债权消灭"
    )


def _unit_code(request: web.Request) -> str:
    return validate_unit_code(request.match_info["unit_code"])


@routes.get(UNIT)
@endpoint(
    "A unit's register: owners, mortgages by rank, seizures, objections and pre-registrations with their "
    "lapse dates",
    summary_zh="不动产登记簿（含异议、预告登记的失效日期）",
    response=UnitStatusView,
    tags=TAGS,
    errors=(404, 422),
)
@require_role(*EXAMINERS, Role.REGISTRAR, Role.SUPERVISOR, Role.ADMIN)
async def unit_register(request: web.Request) -> web.Response:
    unit_code = _unit_code(request)
    ctx = services(request)
    async with ctx.reading() as store:
        try:
            unit = await store.lock_unit(unit_code)
        except InputError:
            raise NotFound(
                f"unit {unit_code} is not on the register", f"登记簿中没有不动产单元 {unit_code}"
            ) from None
        view = await store.view(unit)
        pending = await store.count_live_cases(unit_code)
    found = lapses(view, ctx.clock(), ctx.calendar, ctx.calendar.tz)
    return json_response(UnitStatusView.of(view, pending, found))


@routes.post(UNIT + "/objections")
@endpoint(
    "Record an objection (异议登记); it lapses after 15 days unless a court accepts the suit",
    summary_zh="异议登记",
    request=ObjectionRequest,
    response=EntryCreated,
    status=201,
    tags=TAGS,
    errors=(422,),
)
@require_role(Role.REGISTRAR)
async def record_objection(request: web.Request) -> web.Response:
    body = await read_json(request, ObjectionRequest)
    entry_id = await register_admin.record_objection(
        services(request), actor_of(request).id, _unit_code(request), body.applicant, body.matter
    )
    return json_response(EntryCreated(entry_id=entry_id), status=201)


@routes.post(UNIT + "/objections/{entry_id}/court-acceptance")
@endpoint(
    "Record that a court accepted the objection applicant's suit: the objection stays in force (audited)",
    summary_zh="记载法院受理异议申请人起诉（异议登记继续有效）",
    request=CourtAcceptanceRequest,
    response=EntryCreated,
    status=201,
    tags=TAGS,
    errors=(404, 409, 422),
)
@require_role(Role.REGISTRAR)
async def court_acceptance(request: web.Request) -> web.Response:
    body = await read_json(request, CourtAcceptanceRequest)
    entry_id = await register_admin.record_court_acceptance(
        services(request),
        actor_of(request).id,
        _unit_code(request),
        request.match_info["entry_id"],
        court=body.court,
        case_no=body.case_no,
        accepted_on=body.accepted_on,
    )
    return json_response(EntryCreated(entry_id=entry_id), status=201)


@routes.post(UNIT + "/pre-registrations/{entry_id}/close")
@endpoint(
    "Close a pre-registration (预告登记 / 预抵押) that lapsed or whose claim is extinguished (audited)",
    summary_zh="注销失效的预告登记",
    request=ClosePreRegistrationRequest,
    status=204,
    tags=TAGS,
    errors=(404, 409, 422),
)
@require_role(Role.REGISTRAR, Role.SUPERVISOR)
async def close_pre_registration(request: web.Request) -> web.Response:
    body = await read_json(request, ClosePreRegistrationRequest)
    await register_admin.close_pre_registration(
        services(request),
        actor_of(request).id,
        _unit_code(request),
        request.match_info["entry_id"],
        body.reason,
    )
    return web.Response(status=204)
