"""The bank counter in a real Chromium: a clerk finds a flat by its certificate number, sees its register,
fills a second-hand transfer with its scans, submits it and prints the 受理回执."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.seed import CERT_ZHANG, LIU_YANG, UNITS, ZHANG_WEI
from sandbox.stage import Stage
from sandbox.story import SAMPLE_PDF
from tests.web.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCUMENTS = ("application_form", "identity_document", "ownership_certificate", "sale_contract")


def by_name(name: str) -> str:
    return f"[name='{name}']"


async def test_a_clerk_submits_a_second_hand_transfer_and_prints_the_receipt(
    stage: Stage, person: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    scan = tmp_path / "扫描件.pdf"
    scan.write_bytes(SAMPLE_PDF)
    clerk = await person("boc-clerk")
    await clerk.sign_in(area="bank")
    page = clerk.page
    await clerk.goto("/bank/cases/new")
    await clerk.shot("bank-new-case-kinds")
    await page.click("a[href='/bank/cases/new/transfer']")
    await page.wait_for_url("**/bank/cases/new/transfer")

    await page.fill("#q", CERT_ZHANG)
    await page.click("#find-unit")
    status = page.locator("#register-status")
    await expect(status).to_contain_text(UNITS.single_owner)
    await expect(status).to_contain_text("张*")
    await clerk.shot("bank-new-case-register-status")

    # The check character is checked as the clerk types, before anything is sent.
    seller_id = by_name("sellers.0.id_number")
    wrong = ZHANG_WEI.id_number[:17] + ("0" if ZHANG_WEI.id_number[17] != "0" else "1")
    await page.fill(seller_id, wrong)
    live = page.locator("[id='sellers.0.id_number-check']")
    await expect(live).to_contain_text("校验码")
    await page.locator("[id='sellers.0.name']").scroll_into_view_if_needed()
    await clerk.shot("bank-new-case-id-check")
    await page.fill(seller_id, ZHANG_WEI.id_number)
    await expect(live).to_be_hidden()

    fields = {
        "price": "1850000.00",
        "contract_no": "ESF-2026-1206",
        "contract_date": "2026-11-20",
        "sellers.0.name": ZHANG_WEI.name,
        "buyers.0.party.name": LIU_YANG.name,
        "buyers.0.party.id_number": LIU_YANG.id_number,
        "buyers.0.party.phone": "13800000007",
        "seller_acquired_on": "2019-05-01",
    }
    for name, value in fields.items():
        await page.fill(by_name(name), value)
    # The buyer's new mortgage is optional: ticking it shows its terms and adds the loan's contracts.
    loan_row = page.locator("#row-loan_contract")
    await expect(loan_row).to_be_hidden()
    await page.check("#with_new_mortgage")
    await expect(page.locator("#new-mortgage")).to_be_visible()
    await expect(loan_row).to_be_visible()
    await page.locator("#new-mortgage").scroll_into_view_if_needed()
    await clerk.shot("bank-new-case-new-mortgage")
    await page.uncheck("#with_new_mortgage")
    await expect(loan_row).to_be_hidden()
    for kind in DOCUMENTS[:-1]:
        await page.set_input_files(by_name(f"materials.{kind}"), str(scan))
    await page.locator("#materials-h").scroll_into_view_if_needed()
    await clerk.shot("bank-new-case-filled")

    # Submitted without the sales contract: refused with the list, the typed fields and chosen scans kept.
    await page.click("#submit-case")
    summary = page.locator(".error-summary")
    await expect(summary).to_contain_text("缺少必需材料：买卖合同")
    await clerk.shot("bank-new-case-refused")
    assert await page.input_value(by_name("contract_no")) == "ESF-2026-1206"
    kept = "n => document.getElementsByName(n)[0].files.length"
    assert await page.evaluate(kept, "materials.application_form") == 1
    await page.set_input_files(by_name("materials.sale_contract"), str(scan))
    await page.click("#submit-case")
    await page.wait_for_url(re.compile(r".*/bank/cases/[0-9a-f]{32}/receipt$"), timeout=20_000)
    number = (await page.inner_text("#receipt-number")).strip()
    assert re.fullmatch(r"\d{4}-441900-\d{6}", number), number
    receipt = await page.inner_text("#receipt")
    assert "转移登记" in receipt and UNITS.single_owner in receipt and "刘*" in receipt
    assert LIU_YANG.id_number not in receipt and "买卖合同" in receipt
    await clerk.shot("bank-receipt")

    await page.emulate_media(media="print")
    assert not await page.locator("header.site-header").is_visible()  # the print stylesheet
    await clerk.shot("bank-receipt-print")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = await page.pdf(path=str(SCREENSHOTS / "bank-receipt.pdf"), format="A4")
    assert pdf.startswith(b"%PDF-")
