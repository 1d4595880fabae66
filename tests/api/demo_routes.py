"""Tiny demonstration routes standing on the framework (tests only): one effect per submission, and errors."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from gateway.api import (
    BACKOFFICE_API,
    BANK_API,
    CONTAINER,
    IDEMPOTENCY,
    PARTICIPANT,
    actor_of,
    endpoint,
    json_response,
    read_body,
    read_json,
    require_role,
)
from gateway.db import Database
from gateway.db.tables.infra import OutboxRow
from gateway.domain.identifiers import ResidentId, UnitCode
from gateway.errors import FieldReason, InputError, NotFound, RuleViolation
from gateway.security.roles import Role

routes = web.RouteTableDef()
DEMO_JOB = "demo.notify"
# Set by a test to hold /slow requests in flight ("gate", released by the test); "entered" is set once a
# request is inside the handler, so holding its Idempotency-Key.
SLOW_GATE: dict[str, asyncio.Event] = {}


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    unit_code: UnitCode | None = None
    owner_id_number: ResidentId | None = None


class ThingOut(BaseModel):
    id: str
    name: str
    party: str


@routes.post(BANK_API + "demo/things")
@endpoint("Submit a thing (one outbox row + audit)", request=ThingIn, response=ThingOut, status=201)
async def submit(request: web.Request) -> web.Response:
    given = await read_json(request, ThingIn)
    party = request[PARTICIPANT].code
    container = request.app[CONTAINER]
    async with container.database.transaction() as uow:
        row_id = uow.outbox(job=DEMO_JOB, target=party, payload={"name": given.name})
        uow.audit(actor=f"party:{party}", action="demo.submit", subject=f"thing:{row_id}")
        response = json_response(ThingOut(id=row_id, name=given.name, party=party), status=201)
        assert isinstance(response.body, bytes)
        await request[IDEMPOTENCY].complete(uow, 201, response.body, response.headers["Content-Type"])
    return response


@routes.get(BANK_API + "demo/things/{id}")
@endpoint("Read a thing (always another's: 404)", response=ThingOut, errors=[404])
async def read_thing(request: web.Request) -> web.Response:
    raise NotFound(f"no thing {request.match_info['id']}", "没有该记录")


@routes.post(BANK_API + "demo/rule")
@endpoint("Always breaks a register rule", errors=[409])
async def rule(request: web.Request) -> web.Response:
    raise RuleViolation([("unit_not_seized", "不动产单元已被查封", "the unit is seized")])


@routes.post(BANK_API + "demo/cases/{case_id}/release")
@endpoint("Always refused with a reason that quotes a mortgagor's ID number", errors=[409])
async def refuse_quoting(request: web.Request) -> web.Response:
    quoted = "441900199001011237"  # a reason should never quote one; if it does, the audit masks it
    raise RuleViolation([("mortgagee_of_record", f"抵押人{quoted}的抵押权不属于本行", f"not ours: {quoted}")])


@routes.post(BANK_API + "demo/input")
@endpoint("Always refuses one field", errors=[422])
async def bad_input(request: web.Request) -> web.Response:
    raise InputError(
        "loan amount exceeds the contract",
        "贷款金额超过合同金额",
        [FieldReason("loan.amount", "贷款金额超过合同金额", "loan amount exceeds the contract")],
    )


@routes.post(BANK_API + "demo/crash")
@endpoint("Always fails inside")
async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("connection string postgresql://secret@db/internal exploded")


@routes.post(BANK_API + "demo/slow")
@endpoint("Waits until the test lets it finish", response=ThingOut, status=201)
async def slow(request: web.Request) -> web.Response:
    if "entered" in SLOW_GATE:
        SLOW_GATE["entered"].set()
    await SLOW_GATE["gate"].wait()
    return json_response(ThingOut(id="slow", name="slow", party=request[PARTICIPANT].code), status=201)


@routes.post(BANK_API + "demo/upload")
@endpoint(
    "Accepts up to 2 MiB of material",
    max_body=2 * 1024 * 1024,
    request_content_type="application/pdf",
    idempotent=False,
)
async def upload(request: web.Request) -> web.Response:
    return json_response({"bytes": len(await read_body(request))})


@routes.post(BACKOFFICE_API + "demo/approve")
@endpoint("Approve (senior examiners only)", status=200, tags=["demo"])
@require_role(Role.SENIOR_EXAMINER)
async def approve(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(
            actor=actor.audit_name, action="demo.approve", subject="case:demo", details={"by": actor.id}
        )
    return json_response({"approved_by": actor.id})


async def count_effects(db: Database) -> int:
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    async with db.session() as session:
        conn = await session.connection()
        return int((await conn.execute(select(func.count()).where(table.c.job == DEMO_JOB))).scalar_one())
