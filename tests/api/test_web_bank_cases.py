"""The bank portal over HTTP: whose cases a clerk, a branch supervisor and a bank administrator see (404
for the rest, the signed API's rule), the case page's 补正 answer, 撤回 and certificate, the bank's users."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from gateway.api.keys import CONTAINER
from gateway.db.tables.infra import AuditRecord
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import INSTITUTIONS, ZHANG_WEI, seed_demo_register
from gateway.services import cases, review, tracks
from sandbox.pdf import SAMPLE_PDF
from tests.api.support import Participants
from tests.services import builders

PASSWORD = "Counter-pass-1"
BRANCH, OTHER_BRANCH = "东莞分行营业部", "松山湖支行"


@pytest.fixture
async def portal(serve: Any, database: Any, participants: Participants) -> Any:
    users = UserDirectory(database)
    for name, roles, bank, branch in (
        ("boc-clerk", [Role.BANK_CLERK], "boc-dg", BRANCH),
        ("boc-clerk-ssh", [Role.BANK_CLERK], "boc-dg", OTHER_BRANCH),
        ("boc-supervisor", [Role.BRANCH_SUPERVISOR], "boc-dg", BRANCH),
        ("boc-admin", [Role.BANK_ADMIN], "boc-dg", None),
        ("icbc-clerk", [Role.BANK_CLERK], "icbc-dg", BRANCH),
        ("icbc-admin", [Role.BANK_ADMIN], "icbc-dg", None),
    ):
        await users.add(name, PASSWORD, roles, institution=bank, branch=branch)
    institutions = {c: {"name": i.name, "credit_code": i.credit_code} for c, i in INSTITUTIONS.items()}
    registry_cert = participants.ca.issue(participants.registry_key.public_key, "registry", "registry")
    client = await serve(institutions=institutions, parts={"registry_cert": registry_cert})
    client.ctx = client.server.app[CONTAINER].services
    await seed_demo_register(client.ctx)
    return client


async def submit(portal: Any, bank: str, branch: str, loan: str) -> str:
    case = await cases.submit(
        portal.ctx, bank, branch, "柜员0101", builders.mortgage_registration(mortgage=builders.terms(loan))
    )
    return case.id


async def registered_with_certificate(portal: Any, case_id: str, bank: str = "boc-dg") -> str:
    ctx = portal.ctx
    await tracks.record_bank_result(ctx, case_id, "contracts", confirmed=True, actor=f"bank:{bank}")
    await review.review(ctx, "examiner-a", case_id, "first", "同意")
    await review.review(ctx, "senior-b", case_id, "second", "同意")
    await review.register(ctx, "registrar-c", case_id)
    # The app's dispatcher issues the certificate (缮证) as it would in service; wait for it.
    for _ in range(100):
        async with ctx.reading() as store:
            issued = [c["number"] for c in await store.certificates_of(case_id) if c["issued"]]
        if issued:
            return str(issued[0])
        await asyncio.sleep(0.1)
    raise AssertionError("the certificate was never issued")


async def csrf_of(client: Any, path: str) -> str:
    html = await (await client.get(path)).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def as_user(client: Any, username: str) -> None:
    client.session.cookie_jar.clear()
    token = await csrf_of(client, "/bank/login")
    signed = await client.post(
        "/bank/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD},
        allow_redirects=False,
    )
    assert (signed.status, signed.headers["Location"]) == (303, "/bank/cases"), username


def listed(html: str) -> set[str]:
    return set(re.findall(r'href="/bank/cases/([0-9a-f]{32})"', html))


async def test_each_sees_the_cases_of_their_branch_or_bank_and_nothing_else(portal: Any) -> None:
    ours = await submit(portal, "boc-dg", BRANCH, "BOC-DK-2026-0001")
    other_branch = await submit(portal, "boc-dg", OTHER_BRANCH, "BOC-DK-2026-0002")
    icbc = await submit(portal, "icbc-dg", BRANCH, "ICBC-DK-2026-0001")
    number = await registered_with_certificate(portal, ours)
    certificate = f"/bank/cases/{ours}/certificates/{number}"

    await as_user(portal, "boc-clerk")
    page = await (await portal.get("/bank/cases")).text()
    assert listed(page) == {ours}
    assert "已缮证" in page and "抵押权首次登记" in page
    for path in (f"/bank/cases/{other_branch}", f"/bank/cases/{icbc}"):
        assert (await portal.get(path)).status == 404, path
    downloaded = await portal.get(certificate)
    assert downloaded.status == 200 and (await downloaded.read()).startswith(b"%PDF")
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    ofd = await portal.get(certificate + "?format=ofd")
    assert ofd.status == 200 and (await ofd.read()).startswith(b"PK\x03\x04")

    await as_user(portal, "boc-supervisor")
    assert listed(await (await portal.get("/bank/cases")).text()) == {ours}

    await as_user(portal, "boc-clerk-ssh")  # the same bank, another branch
    assert listed(await (await portal.get("/bank/cases")).text()) == {other_branch}
    assert (await portal.get(f"/bank/cases/{ours}")).status == 404
    assert (await portal.get(certificate)).status == 404

    await as_user(portal, "icbc-clerk")  # another bank
    assert listed(await (await portal.get("/bank/cases")).text()) == {icbc}
    assert (await portal.get(f"/bank/cases/{ours}")).status == 404
    assert (await portal.get(certificate)).status == 404
    token = await csrf_of(portal, "/bank/cases")
    refused = await portal.post(
        f"/bank/cases/{other_branch}/withdraw", data={"csrf_token": token, "reason": "x"}
    )
    assert refused.status == 404

    await as_user(portal, "boc-admin")
    page = await (await portal.get("/bank/cases")).text()
    assert listed(page) == {ours, other_branch}
    assert OTHER_BRANCH in page  # the administrator's list names each case's branch
    assert (await portal.get(f"/bank/cases/{other_branch}")).status == 200
    assert (await portal.get(f"/bank/cases/{icbc}")).status == 404
    filtered = await (await portal.get("/bank/cases", params={"state": "certified"})).text()
    assert listed(filtered) == {ours}


async def test_the_case_page_masks_id_numbers_and_tells_the_bank_it_may_lend(portal: Any) -> None:
    case_id = await submit(portal, "boc-dg", BRANCH, "BOC-DK-2026-0003")
    await as_user(portal, "boc-clerk")
    before = await (await portal.get(f"/bank/cases/{case_id}")).text()
    assert ZHANG_WEI.id_number not in before and ZHANG_WEI.id_number[-4:] in before
    assert 'id="loan-notice"' not in before
    await registered_with_certificate(portal, case_id)
    after = await (await portal.get(f"/bank/cases/{case_id}")).text()
    notice = after.split('id="loan-notice"', 1)[1].split("</section>", 1)[0]
    assert "可当天放贷" in notice and "BOC-DK-2026-0003" in notice
    assert 'id="withdraw-form"' not in after  # registered: no 撤回


async def test_a_clerk_answers_a_correction_and_withdraws_with_the_clerk_recorded(
    portal: Any, database: Any
) -> None:
    case_id = await submit(portal, "boc-dg", BRANCH, "BOC-DK-2026-0004")
    await review.request_material(portal.ctx, "examiner-a", case_id, "缺少借款合同原件扫描件")
    await as_user(portal, "boc-clerk")
    page = await (await portal.get(f"/bank/cases/{case_id}")).text()
    assert "缺少借款合同原件扫描件" in page and 'id="correction-form"' in page
    token = await csrf_of(portal, f"/bank/cases/{case_id}")
    empty = await portal.post(f"/bank/cases/{case_id}/correction", data={"csrf_token": token})
    assert empty.status == 422 and 'href="#material"' in await empty.text()
    form = {"csrf_token": token, "material_kind": "other", "note": "已补借款合同"}
    data = aiohttp.FormData(form)
    scan = SAMPLE_PDF + b"\n" * (2 * 1024 * 1024)  # a scan's size: past the 1 MiB of a plain form
    data.add_field("material", scan, filename="借款合同.pdf", content_type="application/pdf")
    answered = await portal.post(f"/bank/cases/{case_id}/correction", data=data, allow_redirects=False)
    assert answered.status == 303
    page = await (await portal.get(answered.headers["Location"])).text()
    assert "审核中" in page.split('id="case-state"', 1)[1][:80] and "借款合同.pdf" in page

    refused = await portal.post(f"/bank/cases/{case_id}/withdraw", data={"csrf_token": token, "reason": ""})
    assert refused.status == 422 and 'href="#reason"' in await refused.text()
    done = await portal.post(
        f"/bank/cases/{case_id}/withdraw", data={"csrf_token": token, "reason": "客户放弃贷款"}
    )
    assert "已撤回" in (await done.text()).split('id="case-state"', 1)[1][:80]
    async with database.session() as session:
        rows = (await session.exec(select(AuditRecord).where(AuditRecord.case_id == case_id))).all()
    by_action = {r.action: r for r in rows}
    for action in ("case.material_added", "case.resubmitted", "case.withdrawn"):
        assert by_action[action].actor == "bank:boc-dg/boc-clerk", action
        assert by_action[action].details["branch"] == BRANCH, action


async def test_a_bank_administrator_manages_only_the_banks_own_users(portal: Any, database: Any) -> None:
    await as_user(portal, "boc-admin")
    page = await (await portal.get("/bank/users")).text()
    assert "boc-clerk" in page and "icbc-clerk" not in page
    token = await csrf_of(portal, "/bank/users")
    no_branch = await portal.post(
        "/bank/users", data={"csrf_token": token, "username": "boc-new", "roles": "bank_clerk"}
    )
    assert no_branch.status == 422 and 'href="#branch"' in await no_branch.text()
    created = await portal.post(
        "/bank/users",
        data={"csrf_token": token, "username": "boc-new", "roles": ["bank_clerk", "admin"], "branch": BRANCH},
    )
    html = await created.text()
    password = re.search(r'<strong class="mono">([^<]+)</strong>', html)
    assert created.status == 200 and password, html[:600]
    user = await UserDirectory(database).get("boc-new")
    assert (user.institution, user.branch, user.roles, user.must_change_password) == (
        "boc-dg",
        BRANCH,
        frozenset({Role.BANK_CLERK}),  # a registry role in the form is not given
        True,
    )
    for path in (
        "/bank/users/icbc-clerk/reset-password",
        "/bank/users/icbc-clerk/active",
        "/bank/users/nobody/active",
    ):
        refused = await portal.post(path, data={"csrf_token": token, "active": "0"})
        assert refused.status == 404, path
    assert (await UserDirectory(database).get("icbc-clerk")).must_change_password is False
    disabled = await portal.post(
        "/bank/users/boc-clerk/active", data={"csrf_token": token, "active": "0"}, allow_redirects=False
    )
    assert disabled.status == 303
    listed_users = await UserDirectory(database).list_users(institution="boc-dg")
    assert {u.username: active for u, active, _ in listed_users}["boc-clerk"] is False
    async with database.session() as session:
        rows = (
            await session.exec(select(AuditRecord).where(AuditRecord.action.startswith("bank.user")))
        ).all()
    assert [(r.actor, r.action, r.subject) for r in rows] == [
        ("user:boc-admin", "bank.user_created", "username:boc-new"),
        ("user:boc-admin", "bank.user_disabled", "username:boc-clerk"),
    ]
    await as_user(portal, "boc-clerk-ssh")  # a clerk has no user administration
    assert (await portal.get("/bank/users")).status == 403
