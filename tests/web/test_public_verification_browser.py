"""The public verification page in a real Chromium: a citizen scans the QR code, then checks the PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.blobs import DirectoryBlobStore
from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.register import UnitRow
from sandbox.stage import Stage
from sandbox.story import Walker, mortgage_registration

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def issued_certificate(stage: Stage) -> tuple[CertificateRow, str, bytes]:
    """A mortgage proof issued by the stage's gateway (bank → review → 登簿 → 缮证): its row, its unit's
    坐落 and its PDF as the bank received it."""
    outcome = await mortgage_registration(Walker(stage, lambda _line: None, 60.0))
    [number] = outcome.certificates
    db = await stage.database()
    try:
        async with db.session() as session:
            row = (
                await session.execute(select(CertificateRow).where(CertificateRow.number == number))
            ).scalar_one()  # type: ignore[arg-type]
            unit = (
                await session.execute(select(UnitRow).where(UnitRow.unit_code == row.unit_code))
            ).scalar_one()  # type: ignore[arg-type]
    finally:
        await db.dispose()
    pdf = await DirectoryBlobStore(stage.settings.effective_blob_dir()).get(str(row.pdf_ref))
    return row, str(unit.facts["address"]), pdf


async def test_a_citizen_checks_a_certificate_by_its_qr_code_and_by_its_file(
    stage: Stage, person: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    row, address, pdf = await issued_certificate(stage)
    citizen = await person("citizen")  # nobody signs in: the page is public
    page = citizen.page

    # The QR code's URL: the status beside 坐落 and 不动产单元号, to compare with the paper in hand.
    await citizen.goto(f"/public/verify/{row.qr_token}")
    await expect(page.locator("#status")).to_contain_text("有效")
    facts = page.locator("dl.certificate-facts")
    await expect(facts).to_contain_text("坐落")
    await expect(facts.locator(".location")).to_have_text(address)
    await expect(facts).to_contain_text("不动产单元号")
    await expect(facts.locator(".unit-code")).to_have_text(row.unit_code)
    await expect(facts).to_contain_text(row.number)
    await citizen.shot("public-verify-qr")

    # The PDF through the form: genuine and in force, with the same facts.
    genuine = tmp_path / "不动产登记证明.pdf"
    genuine.write_bytes(pdf)
    await page.set_input_files("#file", str(genuine))
    async with page.expect_navigation():
        await page.click("form[action='/public/verify'] button[type=submit]")
    await expect(page.locator("#verdict")).to_contain_text("有效")
    await expect(page.locator("#verdict")).to_contain_text("文件真实，证照有效")
    await expect(page.locator(".verdict .location")).to_have_text(address)
    await expect(page.locator(".verdict .unit-code")).to_have_text(row.unit_code)
    await citizen.shot("public-verify-upload-valid")

    # One byte changed inside the signed range: refused, and no certificate's facts are shown for it.
    tampered_bytes = bytearray(pdf)
    tampered_bytes[len(pdf) // 3] ^= 0x01
    tampered = tmp_path / "改过的证明.pdf"
    tampered.write_bytes(bytes(tampered_bytes))
    await page.set_input_files("#file", str(tampered))
    async with page.expect_navigation():
        await page.click("form[action='/public/verify'] button[type=submit]")
    await expect(page.locator("#verdict")).to_contain_text("未通过核验")
    await expect(page.locator(".verdict")).not_to_contain_text(address)
    await citizen.shot("public-verify-upload-tampered")

    # In English, on request.
    await page.click("a[lang=en]")
    await expect(page.locator("h2#upload-title")).to_have_text("Check a certificate file")
    await citizen.goto(f"/public/verify/{row.qr_token}")
    await expect(page.locator("#status")).to_contain_text("Valid")
    await citizen.shot("public-verify-qr-en")
