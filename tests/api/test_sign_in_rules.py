"""Sign-in rules of 等保 2.0 level 3 over the JSON login: lockout, audited failures, password rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from gateway.db.tables.infra import AuditRecord
from gateway.errors import InputError
from gateway.security.passwords import check_password, temporary_password
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from tests.api.demo_routes import routes

LOGIN = "/backoffice/api/v1/login"
PASSWORD = "Examiner-pass-1"


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    client = await serve(routes)
    users = UserDirectory(database)
    await users.add("li", PASSWORD, [Role.EXAMINER], "李初审")
    await users.add("new", PASSWORD, [Role.EXAMINER], "新同事", must_change_password=True)
    return client


async def login(client: Any, username: str, password: str) -> Any:
    return await client.post(LOGIN, json={"username": username, "password": password})


async def test_twelve_wrong_passwords_lock_the_account_and_each_failure_is_audited(
    office: Any, database: Any, clock: Any
) -> None:
    for _ in range(12):
        assert (await login(office, "li", "Wrong-password-9")).status == 401
    right = await login(office, "li", PASSWORD)
    assert right.status == 401
    assert "锁定" in (await right.json(content_type=None))["detail_zh"]
    async with database.session() as session:
        rows = (await session.exec(select(AuditRecord).where(AuditRecord.subject == "username:li"))).all()
    actions = [r.action for r in rows]
    assert actions.count("backoffice.account_locked") == 1
    assert len(actions) == 13  # every attempt, the right password during the lock included
    assert all(r.details["client"] == "127.0.0.1" and r.details["username"] == "li" for r in rows)
    clock.advance(15 * 60 + 1)
    assert (await login(office, "li", PASSWORD)).status == 200


async def test_a_success_resets_the_count(office: Any) -> None:
    for _ in range(4):
        assert (await login(office, "li", "Wrong-password-9")).status == 401
    assert (await login(office, "li", PASSWORD)).status == 200
    for _ in range(4):
        assert (await login(office, "li", "Wrong-password-9")).status == 401
    assert (await login(office, "li", PASSWORD)).status == 200


async def test_an_initial_password_opens_no_api_session(office: Any) -> None:
    response = await login(office, "new", PASSWORD)
    assert response.status == 403
    assert "修改初始密码" in (await response.json(content_type=None))["detail_zh"]


@pytest.mark.parametrize("weak", ["Ab1!xyz", "abcdefgh12", "ABCDEFGH!!", "li"])
async def test_passwords_need_eight_characters_of_three_classes(database: Any, weak: str) -> None:
    with pytest.raises(InputError):
        await UserDirectory(database).add("li", weak, [Role.EXAMINER])


async def test_a_user_changes_an_initial_password(database: Any) -> None:
    users = UserDirectory(database)
    await users.add("new", PASSWORD, [Role.EXAMINER], must_change_password=True)
    with pytest.raises(InputError):
        await users.change_password("new", "not it", "Better-pass-2")
    with pytest.raises(InputError):
        await users.change_password("new", PASSWORD, "weakweakweak")
    await users.change_password("new", PASSWORD, "Better-pass-2")
    issued = await users.login("new", "Better-pass-2")
    assert not issued.actor.must_change_password


def test_every_temporary_password_an_administrator_hands_over_meets_the_rules() -> None:
    issued = {temporary_password() for _ in range(2000)}
    assert len(issued) == 2000  # never the same twice
    for password in issued:
        check_password(password, username="new-clerk")  # raises InputError on a weak one
