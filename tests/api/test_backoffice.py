"""Back office over real HTTP: login, bearer tokens, role checks, expiry, logout, audit of actions."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from gateway.bootstrap import Container
from gateway.db.tables.infra import AuditRecord
from gateway.errors import Conflict, InputError
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from tests.api.demo_routes import routes

LOGIN = "/backoffice/api/v1/login"
PASSWORD = "Correct horse battery"


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    client = await serve(routes)
    users = UserDirectory(database)
    await users.add("zhang", PASSWORD, [Role.SENIOR_EXAMINER], "张审核")
    await users.add("li", PASSWORD, [Role.EXAMINER], "李初审")
    await users.add("wang", PASSWORD, [Role.ADMIN], "王管理")
    return client


async def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return await client.post(LOGIN, json={"username": username, "password": password})


async def bearer(client: Any, username: str) -> dict[str, str]:
    response = await login(client, username)
    assert response.status == 200
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def test_login_returns_a_token_that_opens_the_back_office(office: Any) -> None:
    response = await login(office, "zhang")
    body = await response.json()
    assert response.status == 200
    assert body["token_type"] == "Bearer" and body["user"]["roles"] == ["senior_examiner"]
    me = await office.get("/backoffice/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert (await me.json())["display_name"] == "张审核"


async def test_wrong_password_and_unknown_user_get_the_same_401(office: Any) -> None:
    wrong = await login(office, "zhang", "not the password")
    nobody = await login(office, "nobody")
    assert wrong.status == nobody.status == 401
    assert (await wrong.json())["detail"] == (await nobody.json())["detail"]


async def test_no_token_is_401_with_bearer_challenge(office: Any) -> None:
    response = await office.get("/backoffice/api/v1/me")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json(content_type=None))["code"] == "login_required"


async def test_wrong_role_is_403_and_right_role_is_audited_with_the_actor(office: Any, database: Any) -> None:
    denied = await office.post("/backoffice/api/v1/demo/approve", headers=await bearer(office, "li"))
    assert denied.status == 403
    problem = await denied.json(content_type=None)
    assert problem["code"] == "forbidden" and "复审人员" in problem["detail_zh"]
    allowed = await office.post("/backoffice/api/v1/demo/approve", headers=await bearer(office, "zhang"))
    assert allowed.status == 200
    actor_id = (await allowed.json())["approved_by"]
    async with database.session() as session:
        rows = (await session.exec(select(AuditRecord).where(AuditRecord.action == "demo.approve"))).all()
    assert [(r.actor, r.details["by"]) for r in rows] == [("user:zhang", actor_id)]


async def test_token_expires(office: Any, clock: Any) -> None:
    headers = await bearer(office, "zhang")
    clock.advance(8 * 3600 + 1)
    response = await office.get("/backoffice/api/v1/me", headers=headers)
    assert response.status == 401
    assert "过期" in (await response.json(content_type=None))["detail_zh"]


async def test_logout_ends_the_session(office: Any) -> None:
    headers = await bearer(office, "zhang")
    assert (await office.post("/backoffice/api/v1/logout", headers=headers)).status == 204
    assert (await office.get("/backoffice/api/v1/me", headers=headers)).status == 401


async def test_users_need_a_role_a_long_password_and_a_free_name(database: Any) -> None:
    users = UserDirectory(database)
    with pytest.raises(InputError):
        await users.add("short", "2short", [Role.EXAMINER])
    with pytest.raises(InputError):
        await users.add("norole", PASSWORD, [])
    await users.add("dup", PASSWORD, [Role.EXAMINER])
    with pytest.raises(Conflict):
        await users.add("dup", PASSWORD, [Role.EXAMINER])


async def test_passwords_are_stored_as_argon2id(database: Any, make_container: Any) -> None:
    await UserDirectory(database).add("hash", PASSWORD, [Role.REGISTRAR])
    container: Container = make_container()
    async with container.database.session() as session:
        from gateway.db.tables.api import BackofficeUser

        user = (await session.exec(select(BackofficeUser).where(BackofficeUser.username == "hash"))).one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
