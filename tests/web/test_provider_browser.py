"""The provider portal in a real Chromium: the gas company, configured as a `portal` provider, settles the
two gas jobs of a registered transfer — one done, one refused with 有欠费 — and the registry's case page
shows both answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.stage import Stage, StageOptions
from sandbox.utilities.launcher import GAS
from tests.utilities.harness import register_transfer, transfer_input

pytestmark = [pytest.mark.browser, pytest.mark.slow]
GAS_ACCOUNTS = ("RQ7788990", "RQ7788991")  # two meters at the flat: two gas jobs from one transfer


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage", portal=(GAS,)))
    try:
        yield running
    finally:
        await running.stop()


async def registered_transfer(stage: Stage) -> str:
    """张伟 sells to 刘洋 through the services; the counter recorded the flat's two gas accounts."""
    assert stage.container is not None and stage.container.services is not None
    transfer = transfer_input()
    gas = next(a for a in transfer.utilities if a.service == "gas")
    accounts = [gas.model_copy(update={"account_no": number}) for number in GAS_ACCOUNTS]
    return await register_transfer(
        stage.container.services, transfer.model_copy(update={"utilities": accounts})
    )


async def test_gas_staff_acknowledge_one_job_refuse_another_and_the_case_shows_both(
    stage: Stage, person: Any
) -> None:
    from playwright.async_api import expect

    case_id = await registered_transfer(stage)

    staff = await person("gas-staff")
    await staff.sign_in(area="provider")
    page = staff.page
    await page.wait_for_url("**/provider/jobs")
    rows = page.locator("tr[data-job]")
    await expect(rows).to_have_count(2)
    assert "刘*" in await page.inner_text("table.jobs") and "刘洋" not in await page.inner_text("main")
    await staff.shot("provider-jobs")

    # The first job: opened (the new holder in full), transferred.
    await page.click("tr[data-job]:has-text('RQ7788990') a")
    await expect(page.locator("tr.new-holder")).to_contain_text("刘洋")
    await staff.shot("provider-job")
    await page.fill("#done-note", "已过户至刘洋")
    await page.click("#mark-done")
    await expect(page.locator("#answered")).to_be_visible()
    await expect(page.locator("#outcome")).to_contain_text("已办结")

    # The second: refused, 有欠费, with a note for the citizen.
    await staff.goto("/provider/jobs?state=new")
    await expect(rows).to_have_count(1)
    await page.click("tr[data-job]:has-text('RQ7788991') a")
    await page.click("#refuse")  # no reason chosen: the form says so and nothing is recorded
    await expect(page.locator(".error-summary")).to_contain_text("请选择拒绝原因")
    await page.check("#reason-arrears")
    await page.fill("#note", "尚欠燃气费 312.40 元，请缴清后办理")
    await staff.shot("provider-refuse")
    await page.click("#refuse")
    await expect(page.locator("#outcome")).to_contain_text("有欠费")
    await staff.shot("provider-refused")
    await staff.goto("/provider/jobs?state=refused")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("有欠费")

    # Another provider's staff see none of it.
    water = await person("water-staff")
    await water.sign_in(area="provider")
    await expect(water.page.locator("tr[data-job]")).to_have_count(0)

    # The registry's case page shows both answers.
    examiner = await person("examiner-a")
    await examiner.sign_in()
    await examiner.goto(f"/backoffice/cases/{case_id}")
    utilities = examiner.page.locator("#utilities")
    await utilities.scroll_into_view_if_needed()
    await expect(utilities.locator("tr[data-status=done]")).to_contain_text("已过户至刘洋")
    await expect(utilities.locator("tr[data-status=rejected]")).to_contain_text(
        "有欠费：尚欠燃气费 312.40 元"
    )
    await examiner.shot("case-utilities")
