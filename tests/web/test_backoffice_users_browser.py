"""The registry's administrator onboards a bank in the browser: a bank administrator with the bank's
institution code, refused with the reason beside the field for an unknown code, who then signs in to the
bank portal with the password shown once and must change it first."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from sandbox.stage import Stage

NEW_PASSWORD = "Ccb-admin-pass-2026"


async def add_user(page: Any, username: str, institution: str, role: str) -> None:
    await page.fill("#username", username)
    await page.fill("#display_name", "建设银行管理员")
    await page.fill("#institution", institution)
    await page.check(f"#roles input[value='{role}']")
    await page.click("form[action='/backoffice/users'] button[type=submit]")


async def test_the_registry_admin_onboards_a_banks_administrator(stage: Stage, person: Any) -> None:
    admin = await person("supervisor-d")
    await admin.sign_in()
    await admin.goto("/backoffice/users")

    await add_user(admin.page, "ccb-admin", "no-such-bank", "bank_admin")
    refused = admin.page.locator(".field.has-error", has=admin.page.locator("#institution"))
    await expect(refused).to_contain_text("不是已配置的银行或联动单位代码")
    await expect(admin.page.locator("#institution")).to_have_value("no-such-bank")
    await expect(admin.page.locator("#roles input[value='bank_admin']")).to_be_checked()  # kept
    await admin.shot("backoffice-users-unknown-institution")

    await add_user(admin.page, "ccb-admin", "ccb-dg", "bank_admin")
    issued = admin.page.locator("#issued strong")
    await expect(issued).to_have_count(1)
    password = (await issued.inner_text()).strip()
    row = admin.page.locator("tr", has=admin.page.locator("td.mono", has_text="ccb-admin"))
    await expect(row).to_contain_text("建设银行")
    # Each row offers the roles of its user's realm only: a bank's administrator is never made an examiner.
    await expect(row.locator("input[name=roles]")).to_have_count(3)
    examiner = admin.page.locator("tr", has=admin.page.locator("td.mono", has_text="examiner-a"))
    await expect(examiner.locator("input[value='bank_clerk']")).to_have_count(0)
    await admin.shot("backoffice-users-bank-admin-added")

    # The new administrator: a back-office sign-in answers like a wrong password; the bank's works and
    # asks for a new password before anything else.
    ccb = await person("ccb-admin")
    await ccb.sign_in(password)
    await expect(ccb.page).to_have_url(f"{stage.base_url}/backoffice/login")
    await ccb.sign_in(password, area="bank")
    await expect(ccb.page.locator("#new")).to_have_count(1)
    await ccb.page.fill("#current", password)
    await ccb.page.fill("#new", NEW_PASSWORD)
    await ccb.page.fill("#again", NEW_PASSWORD)
    async with ccb.page.expect_navigation():
        await ccb.page.click("main button[type=submit]")
    # The change ended every session of the account, this one too: in again with the new password.
    await expect(ccb.page).to_have_url(f"{stage.base_url}/bank/login?changed=1")
    await ccb.sign_in(NEW_PASSWORD, area="bank")
    await ccb.goto("/bank/users")
    await expect(ccb.page.locator("main")).to_contain_text("建设银行")
    await ccb.shot("bank-users-ccb-admin-first-day")
