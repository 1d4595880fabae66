"""The bank portal (银行端) in a real Chromium: a 中国银行 clerk follows her case from 补正 to the 当天放贷
notice and downloads its certificate; a clerk of another bank gets 404 for it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.cases import MortgageRegistrationInput
from gateway.seed import CERT_ZHANG, UNITS, ZHANG_WEI
from sandbox.pdf import SAMPLE_PDF
from sandbox.stage import STORY_TERM, Stage
from sandbox.story import Walker, submission, terms, tracks_passed

pytestmark = [pytest.mark.browser, pytest.mark.slow]
BRANCH = "东莞分行营业部"  # boc-clerk's branch (sandbox.stage.PORTAL_USERS)
LOAN = "BOC-DK-2026-3001"


async def boc_case(stage: Stage) -> str:
    """A mortgage registration 中国银行 submits through the signed API, on a loan its core system holds."""
    stage.parties.banks["boc-dg"].ledger.add_contract(
        LOAN,
        LOAN.replace("-DK-", "-DY-"),
        borrower=(ZHANG_WEI.name, ZHANG_WEI.id_number),
        mortgagor_id_numbers=[ZHANG_WEI.id_number],
        amount=Decimal("600000.00"),
        unit_code=UNITS.single_owner,
        term=STORY_TERM,
    )
    case = MortgageRegistrationInput(
        unit_code=UNITS.single_owner,
        ownership_certificate_number=CERT_ZHANG,
        mortgagors=[ZHANG_WEI],
        mortgage=terms(LOAN, "600000.00"),
    )
    reply = await stage.bank("boc-dg").post("/api/v1/cases", submission(case, BRANCH, "柜员0101"))
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


async def test_a_clerk_answers_a_correction_and_downloads_the_certificate(
    stage: Stage, person: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    case_id = await boc_case(stage)
    walker = Walker(stage, lambda _: None, 30.0)
    reason = "抵押合同缺少抵押人签字页，请补充"
    await walker.act("examiner-a", f"/backoffice/api/v1/cases/{case_id}/request-material", {"reason": reason})

    clerk = await person("boc-clerk")
    await clerk.sign_in(area="bank")
    page = clerk.page
    assert page.url.endswith("/bank/cases")
    row = page.locator(f"a[href='/bank/cases/{case_id}']")
    await expect(row).to_have_count(1)
    await expect(page.locator("tr.needs-me")).to_contain_text("待补正")
    await clerk.shot("bank-cases-boc-clerk")
    await row.click()
    await page.wait_for_url(f"**/bank/cases/{case_id}")
    await expect(page.locator("#correction-reason")).to_have_text(reason)
    await clerk.shot("bank-case-correction")
    scan = tmp_path / "抵押合同签字页.pdf"
    scan.write_bytes(SAMPLE_PDF)
    await page.set_input_files("#material", str(scan))
    await page.fill("#note", "已补抵押人签字页")
    await page.click("#send-correction")
    await expect(page.locator("#done")).to_contain_text("补正已提交")
    assert "抵押合同签字页.pdf" in await page.inner_text("main")
    assert "审核中" in await page.inner_text("#case-state")

    bank = stage.bank("boc-dg")
    await walker.until(bank, case_id, tracks_passed("bank"), "bank confirmed")
    await walker.review_and_register(case_id)
    await walker.register(case_id)

    await clerk.goto(f"/bank/cases/{case_id}")
    await expect(page.locator("#loan-notice")).to_contain_text("可当天放贷")
    assert LOAN in await page.inner_text("#loan-notice")

    async def certificate_ready() -> bool:
        await page.reload()
        return bool(await page.locator("a.certificate-pdf").count() == 1)

    for _ in range(100):
        if await certificate_ready():
            break
        await page.wait_for_timeout(200)
    await clerk.shot("bank-case-registered")
    async with page.expect_download() as started:
        await page.click("a.certificate-pdf")
    download = await started.value
    saved = tmp_path / "certificate.pdf"
    await download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
    assert download.suggested_filename.endswith(".pdf")

    other = await person("icbc-clerk")
    await other.sign_in(area="bank")
    response = await other.goto(f"/bank/cases/{case_id}")
    assert response.status == 404
    await other.shot("bank-case-404-icbc")
    assert "未找到" in await other.page.inner_text("main")
    await other.goto("/bank/cases")
    assert await other.page.locator(f"a[href='/bank/cases/{case_id}']").count() == 0

    admin = await person("boc-admin")
    await admin.sign_in(area="bank")
    await expect(admin.page.locator(f"a[href='/bank/cases/{case_id}']")).to_have_count(1)
    await admin.shot("bank-cases-boc-admin")
    await admin.goto("/bank/users")
    await expect(admin.page.locator("main")).to_contain_text("boc-clerk")
    await admin.shot("bank-users-boc-admin")
