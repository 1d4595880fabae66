"""The provider portal over HTTP: a provider's staff list, open, answer and export only their own jobs.

The gateway runs with gas and water configured as `portal` providers (nothing pushed): the jobs a registered
transfer writes wait for their staff, who settle them here exactly as a signed acknowledgement would.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.api.keys import CONTAINER
from gateway.db.tables.infra import AuditRecord
from gateway.db.tables.utilities import UtilityJobRow
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import DEVELOPER, INSTITUTIONS, seed_demo_register
from gateway.services import utilities
from gateway.services.context import ServiceContext
from tests.utilities.harness import register_transfer, transfer_input

PASSWORD = "Provider-pass-1"
PORTAL = "adapters.utilities.portal:PortalProvider"
GAS_ACCOUNTS = ("RQ7788990", "RQ7788991")  # two meters at the flat: two gas jobs from one transfer


@pytest.fixture
async def portal(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    await users.add("gas-staff", PASSWORD, [Role.PROVIDER_STAFF], institution="dg-gas")
    await users.add("water-staff", PASSWORD, [Role.PROVIDER_STAFF], institution="dg-water")
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER])
    client = await serve(
        utilities={
            "dg-gas": {"adapter": PORTAL, "name": "东莞新奥燃气有限公司"},
            "dg-water": {"adapter": PORTAL, "name": "东莞市东江水务有限公司"},
        },
        institutions={
            code: {
                "name": i.name,
                "credit_code": i.credit_code,
                "kind": "developer" if code == DEVELOPER.code else "bank",
            }
            for code, i in INSTITUTIONS.items()
        },
    )
    ctx: ServiceContext = client.server.app[CONTAINER].services
    await seed_demo_register(ctx)
    transfer = transfer_input()
    accounts = [a for a in transfer.utilities if a.service == "water"] + [
        a.model_copy(update={"account_no": n})
        for a in transfer.utilities
        if a.service == "gas"
        for n in GAS_ACCOUNTS
    ]
    case_id = await register_transfer(ctx, transfer.model_copy(update={"utilities": accounts}))
    client.case_id = case_id
    client.ctx = ctx
    return client


async def sign_in(client: Any, username: str, area: str = "provider") -> None:
    client.session.cookie_jar.clear()
    html = await (await client.get(f"/{area}/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html[:300]
    signed = await client.post(
        f"/{area}/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        allow_redirects=False,
    )
    assert signed.status == 303 and signed.headers["Location"].startswith(f"/{area}/")


async def job_ids(client: Any, state: str = "") -> list[str]:
    html = await (await client.get("/provider/jobs" + (f"?state={state}" if state else ""))).text()
    return re.findall(r'<tr data-job="([0-9a-f]+)"', html)


async def post_form(client: Any, path: str, form: dict[str, str]) -> Any:
    html = await (await client.get("/provider/jobs")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    return await client.post(path, data={"csrf_token": token.group(1), **form}, allow_redirects=False)


async def test_staff_answer_their_jobs_and_the_case_records_it_as_a_signed_ack_would(portal: Any) -> None:
    await sign_in(portal, "gas-staff")
    html = await (await portal.get("/provider/jobs")).text()
    assert "RQ7788990" in html and "RQ7788991" in html and "SW1020304" not in html  # gas jobs only
    assert "刘*" in html and "刘洋" not in html  # the new holder masked in the list
    assert "松湖花园1栋101" in html
    first, second = await job_ids(portal, "new")
    assert await job_ids(portal, "seen") == []

    page = await (await portal.get(f"/provider/jobs/{first}")).text()
    assert "刘洋" in page and "需现场办理" in page  # in full, to act; the three reasons offered
    assert await job_ids(portal, "seen") == [first]  # opening it marked it seen

    done = await post_form(portal, f"/provider/jobs/{first}/done", {"note": "已过户至新户主"})
    assert done.status == 303
    refused = await post_form(
        portal, f"/provider/jobs/{second}/refuse", {"reason": "arrears", "note": "欠费 312.40 元，请先缴清"}
    )
    assert refused.status == 303
    shown = await (await portal.get(refused.headers["Location"])).text()
    assert "有欠费" in shown and "欠费 312.40 元" in shown
    assert await job_ids(portal, "done") == [first] and await job_ids(portal, "refused") == [second]

    # Recorded on the case exactly as the pull API's acknowledgement records it.
    view = await utilities.case_utilities(portal.ctx, "citic-dg", portal.case_id)
    gas = {j.id: j for j in view.jobs if j.service == "gas"}
    assert gas[first].status == "done" and gas[first].message == "已过户至新户主"
    refusal = gas[second].refusal
    assert gas[second].status == "rejected" and refusal is not None and refusal.zh == "有欠费"
    assert view.needs_citizen == ["gas"]
    async with portal.ctx.db.session() as session:
        staff_did = AuditRecord.actor == "user:gas-staff"
        audit = (await session.execute(select(AuditRecord).where(staff_did))).scalars()  # type: ignore[arg-type]
        actions = sorted(r.action for r in audit)
    assert actions.count("utility.job_answered") == 2 and "utility.job_viewed" in actions
    assert "case.utility_needs_citizen" in actions  # the bank's notice, by the member of staff

    # The registry's case page shows both answers.
    await sign_in(portal, "examiner-a", "backoffice")
    case_page = await (await portal.get(f"/backoffice/cases/{portal.case_id}")).text()
    section = case_page[case_page.index('id="utilities"') :]
    assert f'data-job="{first}" data-status="done"' in section and "已过户至新户主" in section
    assert f'data-job="{second}" data-status="rejected"' in section and "有欠费：欠费 312.40 元" in section
    await sign_in(portal, "gas-staff")

    # The answer stands: a contradicting one is refused, nothing changes.
    again = await post_form(portal, f"/provider/jobs/{first}/refuse", {"reason": "arrears"})
    assert again.status == 409
    async with portal.ctx.db.session() as session:
        row = await session.get(UtilityJobRow, first)
        assert row is not None and row.status == "done"


async def test_a_refusal_needs_one_of_the_three_reasons(portal: Any) -> None:
    await sign_in(portal, "gas-staff")
    job = (await job_ids(portal))[0]
    for form in ({"note": "no reason"}, {"reason": "closed_on_sunday"}):
        answer = await post_form(portal, f"/provider/jobs/{job}/refuse", form)
        assert answer.status == 422
        assert "请选择拒绝原因" in await answer.text()
    async with portal.ctx.db.session() as session:
        row = await session.get(UtilityJobRow, job)
    assert row is not None and row.status == "delivered"  # seen, not answered


async def test_another_providers_job_is_404_and_exports_hold_only_its_own(portal: Any) -> None:
    await sign_in(portal, "gas-staff")
    gas_jobs = await job_ids(portal)
    await sign_in(portal, "water-staff")
    water_jobs = await job_ids(portal)
    assert len(gas_jobs) == 2 and len(water_jobs) == 1
    assert (await portal.get(f"/provider/jobs/{gas_jobs[0]}")).status == 404
    assert (await post_form(portal, f"/provider/jobs/{gas_jobs[0]}/done", {})).status == 404
    async with portal.ctx.db.session() as session:
        assert await session.get(UtilityJobRow, gas_jobs[0]) is None  # not even marked seen

    exported = await portal.get("/provider/jobs.csv")
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    body = await exported.read()
    assert body.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:7] == ["任务", "业务", "状态", "坐落", "户号", "新户主", "证书号"]
    assert [r[0] for r in rows[1:]] == water_jobs
    assert rows[1][4] == "SW1020304" and rows[1][5] == "刘*" and rows[1][2] == "新任务"

    xlsx = await portal.get("/provider/jobs.xlsx?state=new")
    assert xlsx.status == 200
    sheet = load_workbook(io.BytesIO(await xlsx.read())).active
    assert sheet is not None
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0][4] == "户号" and [r[0] for r in values[1:]] == water_jobs
    assert values[1][6] and str(values[1][6]).startswith("粤")  # the buyer's new certificate number

    empty = await portal.get("/provider/jobs.xlsx?state=done")
    assert len(list(load_workbook(io.BytesIO(await empty.read())).active.iter_rows())) == 1
    assert (await portal.get("/provider/jobs.csv?state=lost")).status == 422
