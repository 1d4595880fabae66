"""The register's pages over HTTP: find a unit, 查封 (the same document twice refused), 解封, 异议登记."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from gateway.api.keys import CONTAINER
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import CERT_ZHANG, UNITS, ZHAO_MIN, seed_demo_register
from tests.api.test_web_pages import PASSWORD, csrf_of, sign_in

UNIT = f"/backoffice/units/{UNITS.single_owner}"


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    await users.add("registrar-c", PASSWORD, [Role.REGISTRAR], "丙登簿")
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER], "甲初审")
    client = await serve()
    services = client.server.app[CONTAINER].services
    await seed_demo_register(services)
    return client


async def test_a_unit_is_found_by_its_certificate_number(office: Any) -> None:
    await sign_in(office, "registrar-c")
    found = await office.get(f"/backoffice/units?q={quote(CERT_ZHANG)}", allow_redirects=False)
    assert found.headers["Location"] == UNIT
    page = await (await office.get(UNIT)).text()
    assert "张伟" in page and CERT_ZHANG in page
    missing = await office.get("/backoffice/units?q=nothing-like-it")
    assert missing.status == 422 and 'href="#q"' in await missing.text()


async def test_a_seizure_once_per_court_document_and_its_lifting(office: Any) -> None:
    await sign_in(office, "registrar-c")
    token = await csrf_of(office, UNIT)
    order = {"csrf_token": token, "authority": "东莞市第一人民法院", "document_no": "(2026)粤1971执保88号"}
    first = await office.post(UNIT + "/seizures", data=order, allow_redirects=False)
    assert first.status == 303
    again = await office.post(UNIT + "/seizures", data=order)
    text = await again.text()
    assert again.status == 422 and "不能重复登记" in text and 'href="#document_no"' in text
    page = await (await office.get(UNIT)).text()
    assert page.count("(2026)粤1971执保88号") == 1
    release = page.split('action="' + UNIT + "/seizures/", 1)[1].split('"', 1)[0]
    lifted = await office.post(
        UNIT + "/seizures/" + release,
        data={
            "csrf_token": token,
            "release_authority": "东莞市第一人民法院",
            "release_document_no": "(2026)粤1971执保88号之一",
        },
        allow_redirects=False,
    )
    assert lifted.status == 303
    seizures = (await (await office.get(UNIT)).text()).split('id="seizures"', 1)[1].split("</dd>", 1)[0]
    assert "执保88号" not in seizures


async def test_an_objection_and_its_cancellation(office: Any) -> None:
    await sign_in(office, "registrar-c")
    token = await csrf_of(office, UNIT)
    recorded = await office.post(
        UNIT + "/objections",
        data={
            "csrf_token": token,
            "applicant_name": "赵敏",
            "applicant_id": ZHAO_MIN.id_number,
            "matter": "主张共有份额",
        },
        allow_redirects=False,
    )
    assert recorded.status == 303
    page = await (await office.get(UNIT)).text()
    entry = page.split('action="' + UNIT + "/objections/", 1)[1].split("/", 1)[0]
    cancelled = await office.post(
        f"{UNIT}/objections/{entry}/cancel",
        data={"csrf_token": token, "cancel_reason": "申请人撤回"},
        allow_redirects=False,
    )
    assert cancelled.status == 303
    objections = (await (await office.get(UNIT)).text()).split('id="objections"', 1)[1].split("</dd>", 1)[0]
    assert "主张共有份额" not in objections


async def test_an_examiner_cannot_record_a_seizure(office: Any) -> None:
    await sign_in(office, "examiner-a")
    token = await csrf_of(office, UNIT)
    assert "办理查封" not in await (await office.get(UNIT)).text()
    refused = await office.post(
        UNIT + "/seizures", data={"csrf_token": token, "authority": "x法院", "document_no": "1"}
    )
    assert refused.status == 403


async def test_a_second_courts_seizure_waits_and_takes_effect_when_the_first_is_lifted(office: Any) -> None:
    await sign_in(office, "registrar-c")
    token = await csrf_of(office, UNIT)
    for court, document in (
        ("东莞市第一人民法院", "(2026)粤1971执保1号"),
        ("东莞市第二人民法院", "(2026)粤1972执保2号"),
    ):
        data = {"csrf_token": token, "authority": court, "document_no": document}
        assert (await office.post(UNIT + "/seizures", data=data, allow_redirects=False)).status == 303
    seizures = (await (await office.get(UNIT)).text()).split('id="seizures"', 1)[1].split("</dd>", 1)[0]
    first, second = seizures.split('class="seizure"')[1:3]
    assert "执保1号" in first and "轮候" not in first
    assert "执保2号" in second and "轮候查封（第 1 轮候）" in second
    entry = first.split("/seizures/", 1)[1].split("/", 1)[0]
    lifted = await office.post(
        f"{UNIT}/seizures/{entry}/release",
        data={
            "csrf_token": token,
            "release_authority": "东莞市第一人民法院",
            "release_document_no": "解封1号",
        },
        allow_redirects=False,
    )
    assert lifted.status == 303
    seizures = (await (await office.get(UNIT)).text()).split('id="seizures"', 1)[1].split("</dd>", 1)[0]
    assert "执保2号" in seizures and "轮候" not in seizures  # now the one in effect


async def test_a_correction_of_the_units_facts_is_recorded_with_its_grounds(
    office: Any, database: Any
) -> None:
    await sign_in(office, "registrar-c")
    token = await csrf_of(office, UNIT)
    wrong = await office.post(
        UNIT + "/correction",
        data={"csrf_token": token, "address": "x", "floor_area": "很大", "reason": "测绘"},
    )
    assert wrong.status == 422 and 'href="#floor_area"' in await wrong.text()
    done = await office.post(
        UNIT + "/correction",
        data={
            "csrf_token": token,
            "address": "松湖花园1栋101房",
            "floor_area": "90.25",
            "reason": "测绘报告（2026）12号",
        },
        allow_redirects=False,
    )
    assert done.status == 303
    page = await (await office.get(UNIT)).text()
    assert "松湖花园1栋101房 · 90.25 m²" in page
    trail = await (await office.get(f"/backoffice/units/{UNITS.single_owner}")).text()
    assert "90.25" in trail


async def test_a_registrar_voids_a_certificate_with_its_reason(office: Any, database: Any) -> None:
    await sign_in(office, "registrar-c")
    page = f"/backoffice/certificates?number={quote(CERT_ZHANG)}"
    token = await csrf_of(office, page)
    missing = await office.post(
        "/backoffice/certificates/void", data={"csrf_token": token, "number": CERT_ZHANG, "reason": ""}
    )
    assert missing.status == 422 and 'href="#reason"' in await missing.text()
    done = await office.post(
        "/backoffice/certificates/void",
        data={"csrf_token": token, "number": CERT_ZHANG, "reason": "错误发证，经核实作废"},
        allow_redirects=False,
    )
    assert done.status == 303
    shown = await (await office.get(page)).text()
    assert "已作废" in shown and 'id="void"' not in shown  # void now, and no second void offered
    from sqlmodel import select

    from gateway.db.tables.infra import AuditRecord

    async with database.session() as session:
        audited = (
            (
                await session.execute(
                    select(AuditRecord.details).where(AuditRecord.action == "certificate.voided")
                )
            )
            .scalars()
            .all()
        )
    assert audited == [{"reason": "错误发证，经核实作废"}]
