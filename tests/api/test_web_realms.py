"""Three areas, three realms of users: a bank clerk's session is not a back-office one, and back-office
staff cannot sign in to the bank portal — the same answer as a wrong password."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.errors import InputError
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.web.security import SESSION_COOKIE

PASSWORD = "Counter-pass-1"


@pytest.fixture
async def portals(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER])
    await users.add("boc-clerk", PASSWORD, [Role.BANK_CLERK], institution="boc-dg", branch="营业部")
    return await serve()


async def sign_in(client: Any, area: str, username: str) -> Any:
    html = await (await client.get(f"/{area}/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html[:300]
    return await client.post(
        f"/{area}/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        allow_redirects=False,
    )


async def test_a_clerk_signs_in_to_the_bank_portal_and_is_a_stranger_in_the_back_office(portals: Any) -> None:
    signed_in = await sign_in(portals, "bank", "boc-clerk")
    assert (signed_in.status, signed_in.headers["Location"]) == (303, "/bank/cases")
    queue = await portals.get("/backoffice/queue", allow_redirects=False)
    assert queue.status == 303 and queue.headers["Location"].startswith("/backoffice/login?next=")
    token = portals.session.cookie_jar.filter_cookies(portals.make_url("/"))[SESSION_COOKIE].value
    me = await portals.get("/backoffice/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 401  # the portal session's token opens no back-office API either


@pytest.mark.parametrize(("area", "username"), [("backoffice", "boc-clerk"), ("bank", "examiner-a")])
async def test_signing_in_to_another_realms_area_is_refused_like_a_wrong_password(
    portals: Any, area: str, username: str
) -> None:
    refused = await sign_in(portals, area, username)
    assert refused.status == 401 and "用户名或密码错误" in await refused.text()
    assert SESSION_COOKIE not in refused.cookies


@pytest.mark.parametrize(
    ("roles", "institution", "branch", "field"),
    [
        ([Role.EXAMINER, Role.BANK_CLERK], "boc-dg", "营业部", "roles"),
        ([Role.BANK_ADMIN], None, None, "institution"),
        ([Role.BANK_CLERK], "boc-dg", None, "branch"),
        ([Role.EXAMINER], "boc-dg", None, "institution"),
        ([Role.PROVIDER_STAFF], None, None, "institution"),
    ],
)
async def test_a_user_belongs_to_one_realm_with_its_institution_and_branch(
    database: Any, roles: list[Role], institution: str | None, branch: str | None, field: str
) -> None:
    with pytest.raises(InputError) as refused:
        await UserDirectory(database).add("someone", PASSWORD, roles, institution=institution, branch=branch)
    assert [e.field for e in refused.value.errors] == [field]
