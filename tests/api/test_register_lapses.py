"""异议登记 and 预告登记 over real HTTP, on SQLite and PostgreSQL: the 知悉异议、自担风险 statement, the 15 days
of an objection and the court's acceptance that keeps it, the 90 days of a pre-registration and its closing,
and the ranks a lender and a proof see after a withdrawal."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pypdf
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db import Database
from gateway.db.tables.infra import AuditRecord
from gateway.domain.lapses import period_end
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import (
    CERT_LI_WANG,
    DEVELOPER,
    INSTITUTIONS,
    LI_NA,
    UNITS,
    WANG_QIANG,
    ZHOU_JIE,
    seed_demo_register,
)
from gateway.services import review, tracks
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from sandbox.pdf import SAMPLE_PDF
from tests.api.support import Participants, SignedClient
from tests.conftest import blob_store
from tests.services import builders
from tests.services.conftest import make_protector

PASSWORD = "Correct horse battery 9"  # 等保 rules: three character classes
BACKOFFICE = "/backoffice/api/v1/"
PDF = SAMPLE_PDF  # a well-formed PDF: materials are parsed before they are accepted
Serve = Callable[..., Any]


class Clock:
    """The services' clock, moved by the test (days pass between registration and lapse)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Dongguan

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def days() -> Clock:
    return Clock()


@pytest.fixture
async def ctx(database: Database, days: Clock) -> ServiceContext:
    context = ServiceContext(
        db=database,
        protector=make_protector(),
        institutions=dict(INSTITUTIONS),
        clock=days,
        blobs=blob_store(),
    )
    await seed_demo_register(context)
    users = UserDirectory(database)
    await users.add("registrar", PASSWORD, [Role.REGISTRAR], "登簿员")
    await users.add("examiner", PASSWORD, [Role.EXAMINER], "初审员")
    return context


@pytest.fixture
async def client(serve: Serve, ctx: ServiceContext) -> TestClient[Any, Any]:
    return await serve(parts={"services": ctx})  # type: ignore[no-any-return]


class Office:
    def __init__(self, client: TestClient[Any, Any], token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, payload: Any) -> tuple[int, Any]:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        response = await self.client.post(BACKOFFICE + path, json=payload, headers=headers)
        body = await response.read()
        return response.status, (await response.json()) if body else None

    async def unit(self, unit_code: str) -> Any:
        response = await self.client.get(BACKOFFICE + f"units/{unit_code}", headers=self.headers)
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.fixture
async def registrar(client: TestClient[Any, Any]) -> Office:
    response = await client.post(BACKOFFICE + "login", json={"username": "registrar", "password": PASSWORD})
    return Office(client, (await response.json())["token"])


@pytest.fixture
def icbc(client: TestClient[Any, Any], bank: Callable[..., SignedClient]) -> SignedClient:
    return bank(client, "icbc-dg")


def material(kind: str) -> dict[str, str]:
    return {
        "name": "书面承诺.pdf",
        "content_type": "application/pdf",
        "kind": kind,
        "content_base64": base64.b64encode(PDF).decode(),
    }


def mortgage(*materials: dict[str, str]) -> dict[str, Any]:
    case = builders.mortgage_registration(mortgage=builders.terms(f"ICBC-DK-{uuid.uuid4().hex[:8]}"))
    return {
        "branch": "东城支行",
        "clerk": "柜员",
        "case": case.model_dump(mode="json"),
        "materials": list(materials),
    }


async def object_to(office: Office, unit_code: str = UNITS.single_owner) -> str:
    applicant = ZHOU_JIE.model_dump(mode="json")
    status, body = await office.post(
        f"units/{unit_code}/objections", {"applicant": applicant, "matter": "主张该房屋为其出资购买"}
    )
    assert status == 201, body
    return str(body["entry_id"])


# --- 异议登记 -----------------------------------------------------------------------------------------


async def test_an_objection_refuses_a_mortgage_unless_the_applicant_takes_the_risk_in_writing(
    registrar: Office, icbc: SignedClient
) -> None:
    await object_to(registrar)
    refused = await icbc.post("/api/v1/cases", mortgage())
    assert refused.status == 409
    [rule] = [r for r in refused.json()["rules"] if r["name"] == "no_objection"]
    assert "知悉异议" in rule["reason_zh"] and "bears the risk" in rule["reason_en"]

    accepted = await icbc.post("/api/v1/cases", mortgage(material("objection_risk_statement")))
    assert accepted.status == 201, accepted.body
    case = accepted.json()
    assert case["state"] == "under_review"
    [rule] = [r for r in case["rules"] if r["name"] == "no_objection"]
    assert rule["passed"] and "自担风险" in rule["reason_zh"], "the statement is recorded with the rule"
    case = (await icbc.get(f"/api/v1/cases/{case['id']}")).json()
    assert [m["kind"] for m in case["materials"]] == ["objection_risk_statement"]


async def test_an_objection_lapses_after_15_days_and_then_blocks_nothing(
    registrar: Office, icbc: SignedClient, days: Clock, ctx: ServiceContext
) -> None:
    await object_to(registrar)
    [objection] = (await registrar.unit(UNITS.single_owner))["objections"]
    last_day = period_end(date(2026, 12, 7), 15, ctx.calendar)
    assert objection["lapses_on"] == last_day.isoformat() and not objection["lapsed"]

    days.now = datetime.combine(last_day, datetime.min.time(), UTC) + timedelta(hours=3)
    assert (await icbc.post("/api/v1/cases", mortgage())).status == 409, "in force on its last day"

    days.now += timedelta(days=1)
    [objection] = (await registrar.unit(UNITS.single_owner))["objections"]
    assert objection["lapsed"]
    lender_view = (await icbc.get(f"/api/v1/units/{UNITS.single_owner}")).json()
    assert lender_view["objections"][0]["lapsed"]
    assert (await icbc.post("/api/v1/cases", mortgage())).status == 201


async def test_the_courts_acceptance_keeps_the_objection_in_force(
    registrar: Office, icbc: SignedClient, days: Clock, database: Database
) -> None:
    entry_id = await object_to(registrar)
    acceptance = {
        "court": "东莞市第一人民法院",
        "case_no": "（2026）粤1971民初1234号",
        "accepted_on": "2026-12-14",
    }
    status, body = await registrar.post(
        f"units/{UNITS.single_owner}/objections/{entry_id}/court-acceptance", acceptance
    )
    assert status == 201, body
    days.now += timedelta(days=60)
    [objection] = (await registrar.unit(UNITS.single_owner))["objections"]
    assert objection["entry_id"] == body["entry_id"] != entry_id
    assert objection["lapses_on"] is None and not objection["lapsed"]
    assert objection["summary"]["court_case_no"] == acceptance["case_no"]
    assert (await icbc.post("/api/v1/cases", mortgage())).status == 409

    async with database.session() as s:
        actions = (await s.execute(select(AuditRecord.action))).scalars().all()
    assert "register.objection_court_accepted" in actions


async def test_a_court_acceptance_after_the_lapse_is_refused(registrar: Office, days: Clock) -> None:
    entry_id = await object_to(registrar)
    days.now += timedelta(days=40)
    status, body = await registrar.post(
        f"units/{UNITS.single_owner}/objections/{entry_id}/court-acceptance",
        {"court": "东莞市第一人民法院", "case_no": "（2027）粤1971民初0001号", "accepted_on": "2027-01-15"},
    )
    assert status == 409 and "失效" in body["detail_zh"]


# --- 预告登记 ------------------------------------------------------------------------------------------


async def test_a_pre_registration_lapses_90_days_after_the_first_registration_and_is_closed(
    registrar: Office, days: Clock, ctx: ServiceContext, database: Database
) -> None:
    before = (await registrar.unit(UNITS.presale))["pre_registrations"]
    assert [p["lapses_on"] for p in before] == [None, None], "no period runs before 首次登记"

    status, _ = await registrar.post(
        f"units/{UNITS.presale}/first-registration", {"developer": DEVELOPER.code}
    )
    assert status == 201
    pre = (await registrar.unit(UNITS.presale))["pre_registrations"]
    last_day = period_end(date(2026, 12, 7), 90, ctx.calendar)
    assert {p["lapses_on"] for p in pre} == {last_day.isoformat()} and not any(p["lapsed"] for p in pre)

    purchase = next(p for p in pre if p["summary"]["pre_kind"] == "purchase")
    close = f"units/{UNITS.presale}/pre-registrations/{purchase['entry_id']}/close"
    status, body = await registrar.post(close, {"reason": "lapsed"})
    assert status == 409, body

    days.now = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=2)
    pre = (await registrar.unit(UNITS.presale))["pre_registrations"]
    assert all(p["lapsed"] for p in pre)
    status, _ = await registrar.post(close, {"reason": "lapsed"})
    assert status == 204
    remaining = (await registrar.unit(UNITS.presale))["pre_registrations"]
    assert [p["summary"]["pre_kind"] for p in remaining] == ["mortgage"]
    async with database.session() as s:
        actions = (await s.execute(select(AuditRecord.action))).scalars().all()
    assert "register.pre_registration_closed" in actions


async def test_a_pre_registration_on_a_registered_unit_shows_no_lapse_without_its_registrable_day(
    registrar: Office,
) -> None:
    [pre] = (await registrar.unit(UNITS.pre_registered_sale))["pre_registrations"]
    assert pre["lapses_on"] is None and not pre["lapsed"]


# --- ranks after a withdrawal --------------------------------------------------------------------------


async def test_after_a_withdrawal_the_lender_and_the_proof_see_rank_2_not_3(
    client: TestClient[Any, Any],
    bank: Callable[..., SignedClient],
    ctx: ServiceContext,
    participants: Participants,
) -> None:
    def second_mortgage(loan: str) -> dict[str, Any]:
        case = builders.mortgage_registration(
            unit_code=UNITS.co_owned_mortgaged,
            ownership_certificate_number=CERT_LI_WANG,
            mortgagors=[LI_NA, WANG_QIANG],
            mortgage=builders.terms(loan),
        )
        return {"branch": "b", "clerk": "c", "case": case.model_dump(mode="json")}

    ccb, icbc = bank(client, "ccb-dg"), bank(client, "icbc-dg")
    first = (await ccb.post("/api/v1/cases", second_mortgage("CCB-DK-2026-0001"))).json()
    second = (await icbc.post("/api/v1/cases", second_mortgage("ICBC-DK-2026-0002"))).json()
    assert (first["rank"], second["rank"]) == (2, 3)
    assert (await ccb.post(f"/api/v1/cases/{first['id']}/withdraw", {"reason": "客户取消"})).status == 200

    await tracks.record_bank_result(ctx, second["id"], "contracts", confirmed=True, actor="bank:icbc-dg")
    await review.review(ctx, "examiner-a", second["id"], "first")
    await review.review(ctx, "examiner-b", second["id"], "second")
    await review.register(ctx, "registrar-c", second["id"])

    view = (await icbc.get(f"/api/v1/units/{UNITS.co_owned_mortgaged}")).json()
    assert [m["rank"] for m in view["mortgages"]] == [1, 2]

    seal = RegistrySeal(
        participants.registry_key,
        participants.ca.issue(participants.registry_key.public_key, "registry", "registry"),
        "https://bdc.dg.gov.cn",
    )
    [number] = await Certification(ctx, seal).issue_case(second["id"])
    pdf = await icbc.get(f"/api/v1/cases/{second['id']}/certificates/{quote(number)}")
    assert pdf.status == 200
    text = pypdf.PdfReader(io.BytesIO(pdf.body)).pages[0].extract_text()
    assert "抵押顺位：2" in text.replace(" ", "")
