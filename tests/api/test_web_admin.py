"""Administration pages over HTTP: users (create, disable, reset, roles) and the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from tests.api.test_web_pages import PASSWORD, csrf_of, sign_in


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    await users.add("admin-e", PASSWORD, [Role.ADMIN, Role.SUPERVISOR], "戊管理")
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER], "甲初审")
    return await serve()


async def test_an_admin_creates_a_user_who_must_change_the_initial_password(office: Any, serve: Any) -> None:
    await sign_in(office, "admin-e")
    token = await csrf_of(office, "/backoffice/users")
    created = await office.post(
        "/backoffice/users",
        data={"csrf_token": token, "username": "clerk-f", "display_name": "己初审", "roles": "examiner"},
    )
    page = await created.text()
    initial = re.search(r'id="issued".*?<strong class="mono">([^<]+)</strong>', page, re.S)
    assert created.status == 200 and initial
    newcomer = await serve()
    first = await sign_in(newcomer, "clerk-f", initial.group(1))
    assert first.headers["Location"] == "/backoffice/password"
    missing = await office.post("/backoffice/users", data={"csrf_token": token, "username": "x"})
    assert missing.status == 422 and 'href="#roles"' in await missing.text()


async def test_only_an_admin_manages_users(office: Any) -> None:
    await sign_in(office, "examiner-a")
    assert (await office.get("/backoffice/users")).status == 403
    assert (await office.get("/backoffice/audit")).status == 403


async def test_disabling_ends_the_users_sessions(office: Any, serve: Any) -> None:
    examiner = await serve()
    await sign_in(examiner, "examiner-a")
    assert (await examiner.get("/backoffice/queue", allow_redirects=False)).status == 200
    await sign_in(office, "admin-e")
    token = await csrf_of(office, "/backoffice/users")
    await office.post("/backoffice/users/examiner-a/active", data={"csrf_token": token, "active": "0"})
    assert (await examiner.get("/backoffice/queue", allow_redirects=False)).status == 303
    assert (await sign_in(examiner, "examiner-a")).status == 401


async def test_a_reset_unlocks_and_the_audit_trail_names_the_address(office: Any, serve: Any) -> None:
    examiner = await serve()
    for _ in range(5):
        await sign_in(examiner, "examiner-a", "Wrong-pass-77")
    assert "锁定" in await (await sign_in(examiner, "examiner-a")).text()
    await sign_in(office, "admin-e")
    token = await csrf_of(office, "/backoffice/users")
    reset = await office.post("/backoffice/users/examiner-a/reset-password", data={"csrf_token": token})
    initial = re.search(r'<strong class="mono">([^<]+)</strong>', await reset.text())
    assert initial
    assert (await sign_in(examiner, "examiner-a", initial.group(1))).headers[
        "Location"
    ] == "/backoffice/password"
    trail = await (await office.get("/backoffice/audit?username=examiner-a")).text()
    assert "backoffice.account_locked" in trail and "127.0.0.1" in trail
    assert "backoffice.password_reset" in trail
    verified = await office.post("/backoffice/audit/verify", data={"csrf_token": token})
    assert verified.status == 200 and 'id="verified"' in await verified.text()
