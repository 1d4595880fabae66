"""The case page over HTTP: masked ID numbers and their audited reveal, materials inline, the suspended
state after a failing 登簿, 领件 and 改派 from the pages."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlmodel import select

from gateway.api.keys import CONTAINER
from gateway.db.tables.infra import AuditRecord
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import INSTITUTIONS, UNITS, ZHANG_WEI, seed_demo_register
from gateway.services import cases, register_admin, review, tracks
from gateway.services.materials import MaterialUpload
from tests.api.test_web_pages import PASSWORD, csrf_of, sign_in
from tests.services import builders

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    people = {
        name: await users.add(name, PASSWORD, roles)
        for name, roles in (
            ("examiner-a", [Role.EXAMINER]),
            ("examiner-x", [Role.EXAMINER]),
            ("senior-b", [Role.SENIOR_EXAMINER]),
            ("registrar-c", [Role.REGISTRAR]),
            ("supervisor-d", [Role.SUPERVISOR]),
        )
    }
    institutions = {c: {"name": i.name, "credit_code": i.credit_code} for c, i in INSTITUTIONS.items()}
    client = await serve(institutions=institutions)
    ctx = client.server.app[CONTAINER].services
    await seed_demo_register(ctx)
    client.people, client.ctx = people, ctx
    return client


async def submit(office: Any, n: int = 1) -> str:
    case = await cases.submit(
        office.ctx,
        "boc-dg",
        "支行",
        "clerk",
        builders.mortgage_registration(mortgage=builders.terms(f"BOC-DK-2026-{n:04d}")),
        materials=[
            MaterialUpload("抵押合同.pdf", "application/pdf", PDF),
            MaterialUpload("身份证.jpg", "image/jpeg", JPEG),
        ],
    )
    return case.id


async def test_id_numbers_are_masked_and_revealing_them_needs_an_audited_reason(
    office: Any, database: Any
) -> None:
    case_id = await submit(office)
    await sign_in(office, "examiner-a")
    page = await (await office.get(f"/backoffice/cases/{case_id}")).text()
    assert ZHANG_WEI.id_number not in page and ZHANG_WEI.id_number[-4:] in page
    token = await csrf_of(office, f"/backoffice/cases/{case_id}")
    refused = await office.post(
        f"/backoffice/cases/{case_id}/reveal", data={"csrf_token": token, "reason": ""}
    )
    assert refused.status == 422 and 'href="#reason"' in await refused.text()
    shown = await office.post(
        f"/backoffice/cases/{case_id}/reveal", data={"csrf_token": token, "reason": "核对身份证原件"}
    )
    assert ZHANG_WEI.id_number in await shown.text()
    async with database.session() as session:
        rows = (
            await session.exec(select(AuditRecord).where(AuditRecord.action == "case.personal_data_revealed"))
        ).all()
    assert [(r.actor, r.details["reason"]) for r in rows] == [("user:examiner-a", "核对身份证原件")]


async def test_materials_are_served_inline_with_their_own_type(office: Any) -> None:
    case_id = await submit(office)
    await sign_in(office, "examiner-a")
    page = await (await office.get(f"/backoffice/cases/{case_id}")).text()
    assert "<iframe" in page and "<img" in page
    for link, kind, start in (("iframe", "application/pdf", b"%PDF"), ("img", "image/jpeg", b"\xff\xd8")):
        src = page.split(f'<{link} class="material-', 1)[1].split('src="', 1)[1].split('"', 1)[0]
        response = await office.get(src)
        assert response.headers["Content-Type"] == kind and (await response.read()).startswith(start)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]


async def test_a_rule_failing_at_registration_shows_the_case_suspended(office: Any) -> None:
    people, ctx = office.people, office.ctx
    case_id = await submit(office)
    await tracks.record_bank_result(ctx, case_id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, people["examiner-a"].id, case_id, "first", "同意")
    await review.review(ctx, people["senior-b"].id, case_id, "second", "同意")
    await register_admin.record_seizure(ctx, "registrar-c", UNITS.single_owner, "东莞市第一人民法院", "执9号")
    await sign_in(office, "registrar-c")
    confirm = await (await office.get(f"/backoffice/cases/{case_id}/register")).text()
    assert "按登记簿现状，以下规则未通过" in confirm and "未被查封" in confirm
    token = await csrf_of(office, f"/backoffice/cases/{case_id}/register")
    done = await office.post(f"/backoffice/cases/{case_id}/register", data={"csrf_token": token})
    page = await done.text()
    assert 'class="suspended-banner"' in page and "查封" in page
    assert "已中止" in page.split('id="case-state"', 1)[1][:80]


async def test_claim_and_reassign_from_the_pages(office: Any) -> None:
    case_id = await submit(office)
    await sign_in(office, "examiner-a")
    token = await csrf_of(office, "/backoffice/queue")
    claimed = await office.post(
        f"/backoffice/cases/{case_id}/claim", data={"csrf_token": token}, allow_redirects=False
    )
    assert claimed.status == 303
    mine = await (await office.get("/backoffice/queue?scope=mine")).text()
    assert f"/backoffice/cases/{case_id}" in mine
    await sign_in(office, "supervisor-d")
    token = await csrf_of(office, f"/backoffice/cases/{case_id}")
    wrong = await office.post(
        f"/backoffice/cases/{case_id}/assign", data={"csrf_token": token, "assignee": "nobody"}
    )
    assert wrong.status == 422 and 'href="#assignee"' in await wrong.text()
    moved = await office.post(
        f"/backoffice/cases/{case_id}/assign",
        data={"csrf_token": token, "assignee": "examiner-x"},
        allow_redirects=False,
    )
    assert moved.status == 303
    await sign_in(office, "examiner-x")
    assert f"/backoffice/cases/{case_id}" in await (await office.get("/backoffice/queue?scope=mine")).text()
