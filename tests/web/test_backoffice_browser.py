"""The back office in a real Chromium: a mortgage registration from 待办 to certificate, and its guards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.stage import Stage
from sandbox.story import submission, terms
from tests.services import builders

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def submit_case(stage: Stage) -> str:
    case = builders.mortgage_registration(mortgage=terms("PSBC-DK-2026-1127", "600000.00"))
    reply = await stage.bank("psbc-dg").post("/api/v1/cases", submission(case, "松山湖支行", "柜员0101"))
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


async def decide(page: Any, field: str, opinion: str, then: str) -> None:
    """Type the 审核意见 and submit its form with Enter (what a keyboard user does); wait until the page
    shows `then`. Waits on what the page says, not on navigation events (the PDF viewer in the page's
    <iframe> makes its own)."""
    from playwright.async_api import expect

    await page.wait_for_load_state("networkidle")
    await page.fill(field, opinion)
    await expect(page.locator(field)).to_have_value(opinion)
    await page.press(field, "Enter")
    await expect(page.locator("main")).to_contain_text(then, timeout=20_000)


async def until(check: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds * 5)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("never happened")


async def bank_confirmed(stage: Stage, case_id: str) -> bool:
    case = (await stage.bank("psbc-dg").get(f"/api/v1/cases/{case_id}")).json()
    return bool(case["tracks"].get("bank", {}).get("status") == "passed")


async def test_a_case_from_the_queue_to_its_certificate(stage: Stage, person: Any) -> None:
    from playwright.async_api import expect

    case_id = await submit_case(stage)

    examiner = await person("examiner-a")
    await examiner.sign_in()
    await examiner.shot("queue-examiner-a")
    page = examiner.page
    assert "待办" in await page.title()
    row = page.locator(f"a[href='/backoffice/cases/{case_id}']")
    assert await row.count() == 1  # the case is in examiner-a's 待办
    await row.click()
    await page.wait_for_url(f"**/backoffice/cases/{case_id}")
    await examiner.shot("case-first-review")
    assert await page.locator("#register-link").count() == 0  # no registrar's button for an examiner
    await decide(page, "#first-opinion", "材料齐全，同意", "初审通过：材料齐全，同意")  # in the history
    assert "复审/核定" in await page.inner_text("main")

    await until(lambda: bank_confirmed(stage, case_id))
    senior = await person("senior-b")
    await senior.sign_in()
    await senior.goto(f"/backoffice/cases/{case_id}")
    await senior.shot("case-second-review")
    await decide(senior.page, "#second-opinion", "同意初审意见", "复审/核定通过：同意初审意见")
    assert "已核定" in await senior.page.inner_text("#case-state")

    registrar = await person("registrar-c")
    await registrar.sign_in()
    assert await registrar.page.locator(f"a[href='/backoffice/cases/{case_id}']").count() == 1
    await registrar.goto(f"/backoffice/cases/{case_id}")
    await registrar.page.click("#register-link")
    await registrar.page.wait_for_url(f"**/backoffice/cases/{case_id}/register")
    confirm_text = await registrar.page.inner_text("main")
    assert "将记载的登记事项" in confirm_text and "不动产登记证明" in confirm_text
    await registrar.shot("register-confirm")
    await registrar.page.click("#confirm-register")
    await registrar.page.wait_for_url(f"**/backoffice/cases/{case_id}")

    async def certificate_shown() -> bool:
        await registrar.goto(f"/backoffice/cases/{case_id}")
        return await registrar.page.locator("#certificate a").count() == 1

    await until(certificate_shown)
    await registrar.shot("case-certified")
    link = await registrar.page.locator("#certificate a").get_attribute("href")
    pdf = await registrar.page.request.get(stage.base_url + str(link))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")

    # 换发: a new number, the old certificate void.
    number = (await registrar.page.inner_text("#certificate")).split(" · ")[0].strip()
    await registrar.goto(f"/backoffice/certificates?number={number}")
    await registrar.shot("certificate")
    await registrar.page.fill("#reason", "证书污损，申请换发")
    await registrar.page.click("#reissue")
    await expect(registrar.page.locator("#certificate h2")).not_to_contain_text(number, timeout=20_000)
    assert "有效" in await registrar.page.inner_text("#status")
    await registrar.goto(f"/backoffice/certificates?number={number}")
    assert "作废" in await registrar.page.inner_text("#status")
    await registrar.goto(f"/backoffice/units?q={number}")
    await registrar.shot("unit")

    # The supervisor's dashboard shows it certified within one hour, and /metrics has 受理→出证.
    supervisor = await person("supervisor-d")
    await supervisor.sign_in()
    await supervisor.goto("/backoffice/dashboard")
    await supervisor.shot("dashboard", full_page=True)  # its utility jobs panel lies below the fold
    row = supervisor.page.locator("#timing tr[data-kind=mortgage_registration]")
    assert int(await row.locator(".certified").inner_text()) == 1
    assert int(await row.locator(".within-hour").inner_text()) == 1
    metrics = await (await supervisor.page.request.get(stage.base_url + "/metrics")).text()
    assert 'gateway_case_time_to_certificate_seconds_count{kind="mortgage_registration"}' in metrics

    # examiner-a can neither see nor post the registrar's action on an approved case.
    second = await submit_case_approved(stage, examiner, senior)
    await examiner.goto(f"/backoffice/cases/{second}")
    assert await examiner.page.locator("#register-link").count() == 0
    token = await examiner.page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = await examiner.page.request.post(
        f"{stage.base_url}/backoffice/cases/{second}/register", form={"csrf_token": str(token)}
    )
    assert refused.status == 403
    await examiner.goto(f"/backoffice/cases/{second}/register")
    await examiner.shot("forbidden-examiner")
    assert "无权办理" in await examiner.page.inner_text("main")


async def submit_case_approved(stage: Stage, examiner: Any, senior: Any) -> str:
    """A second case, on another loan, taken to 已核定 through the same pages."""
    case = builders.mortgage_registration(mortgage=terms("PSBC-DK-2026-1127", "600000.00"))
    reply = await stage.bank("psbc-dg").post("/api/v1/cases", submission(case, "松山湖支行", "柜员0102"))
    case_id = str(reply.json()["id"])
    await examiner.goto(f"/backoffice/cases/{case_id}")
    await decide(examiner.page, "#first-opinion", "同意", "初审通过：同意")
    await until(lambda: bank_confirmed(stage, case_id))
    await senior.goto(f"/backoffice/cases/{case_id}")
    await decide(senior.page, "#second-opinion", "同意", "复审/核定通过：同意")
    return case_id


async def test_a_post_without_the_csrf_token_is_refused(stage: Stage, person: Any) -> None:
    examiner = await person("examiner-a")
    await examiner.sign_in()
    refused = await examiner.page.request.post(f"{stage.base_url}/backoffice/logout", form={})
    assert refused.status == 403
    await examiner.goto("/backoffice/queue")
    assert "examiner-a" in await examiner.page.inner_text("header")  # still signed in


async def test_six_wrong_passwords_lock_the_account(stage: Stage, person: Any) -> None:
    supervisor = await person("supervisor-d")
    for _ in range(6):
        await supervisor.sign_in("Wrong-password-1")
    await supervisor.shot("login-locked")
    assert "锁定" in await supervisor.page.inner_text(".error-summary")
    await supervisor.sign_in()  # the right password, during the lock
    assert "锁定" in await supervisor.page.inner_text(".error-summary")
    assert supervisor.page.url.endswith("/backoffice/login")
