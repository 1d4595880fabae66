"""One case from the counter to the certificate, in a real Chromium (issue 14's journey).

A 中国银行 clerk finds 李娜 and 王强's flat by its certificate number, submits its second-hand sale to 刘洋
with the release of the sellers' 工商银行 mortgage and 刘洋's new 中国银行 mortgage and the scans, and prints
the 受理回执. The registry sends that very case back for 补正; the clerk answers it in the portal. The tax
bureau's assessment is paid, the banks' core systems confirm (工商银行: the old loan settled; 中国银行: the new
loan's contracts), two examiners approve and the registrar registers it: the clerk sees the 当天放贷 notice
and downloads the new certificate of title and the mortgage's registration proof. A clerk of 工商银行 gets
404 for the case's page and its certificates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from gateway.seed import CERT_LI_WANG, LI_NA, LIU_YANG, PROOF_LI_WANG_ICBC, UNITS, WANG_QIANG
from sandbox.pdf import SAMPLE_PDF
from sandbox.stage import Stage
from sandbox.story import Walker, state_is, tracks_passed
from tests.web.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAN = "BOC-DK-2026-2001"  # 刘洋's loan, held by 中国银行's simulated core system (sandbox.stage.STORY_LOANS)
MATERIALS = (
    "application_form",
    "identity_document",
    "ownership_certificate",
    "sale_contract",
    "loan_contract",
    "mortgage_contract",
)


def by_name(name: str) -> str:
    return f"[name='{name}']"


async def submit_at_the_counter(clerk: Any, scan: Path) -> str:
    """The clerk's transfer, from the look-up to the printed receipt; returns the case id."""
    from playwright.async_api import expect

    page = clerk.page
    await clerk.goto("/bank/cases/new")
    await page.click("a[href='/bank/cases/new/transfer']")
    await page.wait_for_url("**/bank/cases/new/transfer")
    await page.fill("#q", CERT_LI_WANG)
    await page.click("#find-unit")
    status = page.locator("#register-status")
    await expect(status).to_contain_text(UNITS.co_owned_mortgaged)
    # The sellers' mortgage is 工商银行's: shown with its rank, not its loan's details.
    mortgages = page.locator("#status-mortgages")
    await expect(mortgages).to_contain_text(PROOF_LI_WANG_ICBC)
    await expect(mortgages).to_contain_text("他行")
    assert "ICBC-DK" not in await mortgages.inner_text()
    await clerk.shot("journey-1-register-status")
    assert await page.input_value(by_name("ownership_certificate_number")) == CERT_LI_WANG

    fields = {
        "price": "2350000.00",
        "contract_no": "WQ-2026-112233",
        "contract_date": "2026-11-20",
        "sellers.0.name": LI_NA.name,
        "sellers.0.id_number": LI_NA.id_number,
        "sellers.1.name": WANG_QIANG.name,
        "sellers.1.id_number": WANG_QIANG.id_number,
        "buyers.0.party.name": LIU_YANG.name,
        "buyers.0.party.id_number": LIU_YANG.id_number,
        "buyers.0.party.phone": LIU_YANG.phone or "13800000007",
        "seller_acquired_on": "2018-05-20",
        "release_proof_numbers": PROOF_LI_WANG_ICBC,
    }
    for name, value in fields.items():
        await page.fill(by_name(name), value)
    await page.check("#seller_only_home")
    await page.check("#with_new_mortgage")
    new_mortgage = {
        "new_mortgage.amount": "1500000.00",
        "new_mortgage.term_start": "2026-12-01",
        "new_mortgage.term_end": "2046-12-01",
        "new_mortgage.loan_contract_no": LOAN,
        "new_mortgage.mortgage_contract_no": LOAN.replace("-DK-", "-DY-"),
    }
    for name, value in new_mortgage.items():
        await page.fill(by_name(name), value)
    await expect(page.locator("#row-loan_contract")).to_contain_text("主债权合同（借款合同）")
    for kind in MATERIALS:
        await page.set_input_files(by_name(f"materials.{kind}"), str(scan))
    await page.locator("#new-mortgage").scroll_into_view_if_needed()
    await clerk.shot("journey-2-transfer-filled")

    await page.click("#submit-case")
    await page.wait_for_url(re.compile(r".*/bank/cases/[0-9a-f]{32}/receipt$"), timeout=30_000)
    case_id: str = page.url.rsplit("/", 2)[-2]
    receipt = await page.inner_text("#receipt")
    assert "转移登记" in receipt and UNITS.single_owner not in receipt
    assert UNITS.co_owned_mortgaged in receipt and "李*" in receipt and "刘*" in receipt
    assert LIU_YANG.id_number not in receipt
    for label in ("买卖合同", "主债权合同（借款合同）", "抵押合同"):
        assert label in receipt, label
    assert "借款合同编号" not in receipt  # a scan of the contract, not its number
    await clerk.shot("journey-3-receipt")
    await page.emulate_media(media="print")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = await page.pdf(path=str(SCREENSHOTS / "journey-receipt.pdf"), format="A4")
    assert pdf.startswith(b"%PDF-")
    await page.emulate_media(media="screen")
    return case_id


async def test_a_clerk_follows_her_transfer_from_the_counter_to_the_certificates(
    stage: Stage, person: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    scan = tmp_path / "扫描件.pdf"
    scan.write_bytes(SAMPLE_PDF)
    clerk = await person("boc-clerk")
    await clerk.sign_in(area="bank")
    page = clerk.page
    case_id = await submit_at_the_counter(clerk, scan)

    # The receipt leads to the case the portal submitted, as the registry received it.
    await page.click(f"a[href='/bank/cases/{case_id}']")
    await page.wait_for_url(f"**/bank/cases/{case_id}")
    bank = stage.bank("boc-dg")
    received = (await bank.get(f"/api/v1/cases/{case_id}")).json()
    assert received["kind"] == "transfer" and received["unit_code"] == UNITS.co_owned_mortgaged
    assert received["branch"] == "东莞分行营业部" and received["clerk"] == "boc-clerk"

    # The examiner sends that case back for 补正.
    walker = Walker(stage, lambda _: None, 30.0)
    reason = "买卖合同缺少买受人签字页，请补充"
    path = f"/backoffice/api/v1/cases/{case_id}"
    await walker.act("examiner-a", path + "/request-material", {"reason": reason})

    await clerk.goto("/bank/cases")
    await expect(page.locator("tr.needs-me")).to_contain_text("待补正")
    await clerk.shot("journey-4-cases-correction")
    await page.click(f"a[href='/bank/cases/{case_id}']")
    await expect(page.locator("#correction-reason")).to_have_text(reason)
    await clerk.shot("journey-5-correction")
    page_scan = tmp_path / "买卖合同签字页.pdf"
    page_scan.write_bytes(SAMPLE_PDF)
    await page.set_input_files("#material", str(page_scan))
    await page.select_option("#material_kind", "sale_contract")
    await page.fill("#note", "已补买受人签字页")
    await page.click("#send-correction")
    await expect(page.locator("#done")).to_contain_text("补正已提交")
    # Each material says which document it is, the correction's as the clerk chose it.
    materials = await page.inner_text("section[aria-labelledby='materials-h']")
    assert "买卖合同 · 买卖合同签字页.pdf" in materials, materials
    assert "主债权合同（借款合同） · 扫描件.pdf" in materials, materials
    assert "审核中" in await page.inner_text("#case-state")

    # The tax bureau's assessment is paid at the counter; both banks confirm from their core systems.
    assessed = await walker.until(
        bank, case_id, lambda c: c["tracks"]["tax"]["status"] in ("assessed", "passed"), "tax assessed"
    )
    assessment = assessed["tracks"]["tax"]["detail"]["assessment"]["assessment_id"]
    bureau = stage.parties.tax
    assert bureau is not None
    bureau.pay_at_counter(assessment)
    await bureau.post_payment_cleared(assessment)
    await walker.until(bank, case_id, tracks_passed("tax", "bank"), "tax cleared and banks confirmed")
    await walker.review_and_register(case_id)
    await walker.register(case_id)
    done = await walker.until(bank, case_id, state_is("completed"), "certificates issued")
    numbers = [c["number"] for c in done["certificates"]]
    assert len(numbers) == 2, numbers  # the new certificate of title and the mortgage's proof

    await clerk.goto(f"/bank/cases/{case_id}")
    notice = page.locator("#loan-notice")
    await expect(notice).to_contain_text("可当天放贷")
    assert LOAN in await notice.inner_text()
    await expect(page.locator("#case-state")).to_contain_text("已办结")
    await clerk.shot("journey-6-registered")
    # Two certificates, each with its own links: no element id repeats (a label, a script or a test
    # reaching for one would find the other).
    ids = await page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    await page.evaluate("document.getElementById('certs-h').scrollIntoView()")
    await clerk.shot("journey-7-certificates")
    links = page.locator("a.certificate-pdf")
    await expect(links).to_have_count(2)
    downloaded = []
    for i in range(2):
        async with page.expect_download() as started:
            await links.nth(i).click()
        download = await started.value
        saved = tmp_path / f"certificate-{i}.pdf"
        await download.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF-"), download.suggested_filename
        downloaded.append(download.suggested_filename)
    assert sorted(downloaded) == sorted(f"{n}.pdf" for n in numbers)

    other = await person("icbc-clerk")
    await other.sign_in(area="bank")
    response = await other.goto(f"/bank/cases/{case_id}")
    assert response.status == 404
    assert "未找到" in await other.page.inner_text("main")
    await other.shot("journey-8-icbc-404")
    for number in numbers:
        url = f"{stage.base_url}/bank/cases/{case_id}/certificates/{quote(number, safe='')}"
        assert (await page.request.get(url)).status == 200  # the link 中国银行's clerk follows
        refused = await other.page.request.get(url)
        assert refused.status == 404
        assert not (await refused.body()).startswith(b"%PDF-")
