"""The back office's pages over HTTP: redirects, security headers, session cookie, CSRF, idle timeout."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.security.roles import Role
from gateway.security.users import UserDirectory

PASSWORD = "Examiner-pass-1"


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER], "甲初审")
    await users.add("new-hire", PASSWORD, [Role.EXAMINER], "新同事", must_change_password=True)
    return await serve()


async def csrf_of(client: Any, path: str) -> str:
    html = await (await client.get(path)).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def sign_in(client: Any, username: str = "examiner-a", password: str = PASSWORD) -> Any:
    token = await csrf_of(client, "/backoffice/login")
    return await client.post(
        "/backoffice/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/backoffice/queue"},
        allow_redirects=False,
    )


async def test_the_root_paths_lead_to_sign_in_then_to_the_queue(office: Any) -> None:
    for path in ("/", "/backoffice", "/backoffice/"):
        response = await office.get(path, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/backoffice/login")
    signed_in = await sign_in(office)
    assert (signed_in.status, signed_in.headers["Location"]) == (303, "/backoffice/queue")
    for path in ("/", "/backoffice", "/backoffice/"):
        response = await office.get(path, allow_redirects=False)
        assert response.headers["Location"] == "/backoffice/queue"
    queue = await office.get("/backoffice/queue")
    assert queue.status == 200 and "待办" in await queue.text()


async def test_every_page_has_a_content_security_policy_and_no_outside_asset(office: Any) -> None:
    await sign_in(office)
    for path in ("/backoffice/login", "/backoffice/queue", "/backoffice/cases/nope", "/static/app.css"):
        response = await office.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "http" not in policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = await response.text()
        assert not re.search(r"(src|href)=\"(https?:)?//", body), path  # nothing from another origin
    assert (await office.get("/backoffice/cases/nope")).status == 404


async def test_the_session_cookie_is_httponly_strict_and_secure_behind_a_trusted_proxy(
    serve: Any, database: Any
) -> None:
    await UserDirectory(database).add("examiner-a", PASSWORD, [Role.EXAMINER])
    plain = await serve()
    cookie = (await sign_in(plain)).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    proxied = await serve(api={"trusted_proxies": ["127.0.0.1"]})
    token = await csrf_of(proxied, "/backoffice/login")
    response = await proxied.post(
        "/backoffice/login",
        data={"csrf_token": token, "username": "examiner-a", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    assert "Secure" in response.headers["Set-Cookie"]


async def test_a_form_post_without_the_csrf_token_is_refused(office: Any) -> None:
    await sign_in(office)
    refused = await office.post("/backoffice/logout", data={}, allow_redirects=False)
    assert refused.status == 403 and "表单已失效" in await refused.text()
    forged = await office.post("/backoffice/logout", data={"csrf_token": "0" * 64}, allow_redirects=False)
    assert forged.status == 403
    assert (await office.get("/backoffice/queue", allow_redirects=False)).status == 200  # still signed in
    token = await csrf_of(office, "/backoffice/queue")
    out = await office.post("/backoffice/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    assert (await office.get("/backoffice/queue", allow_redirects=False)).status == 303


async def test_an_examiner_gets_403_for_a_registrars_action(office: Any) -> None:
    await sign_in(office)
    token = await csrf_of(office, "/backoffice/queue")
    response = await office.post(
        "/backoffice/cases/0123456789abcdef0123456789abcdef/register",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 403 and "登簿人员" in await response.text()


async def test_an_idle_session_ends(office: Any, clock: Any) -> None:
    await sign_in(office)
    clock.advance(29 * 60)
    assert (await office.get("/backoffice/queue", allow_redirects=False)).status == 200
    clock.advance(29 * 60)  # used 29 minutes ago: still alive, the idle time counts from the last use
    assert (await office.get("/backoffice/queue", allow_redirects=False)).status == 200
    clock.advance(31 * 60)
    ended = await office.get("/backoffice/queue", allow_redirects=False)
    assert ended.status == 303 and "expired=1" in ended.headers["Location"]


async def test_an_initial_password_must_be_changed_before_anything_else(office: Any) -> None:
    first = await sign_in(office, "new-hire")
    assert first.headers["Location"] == "/backoffice/password"
    blocked = await office.get("/backoffice/queue", allow_redirects=False)
    assert blocked.headers["Location"] == "/backoffice/password"
    token = await csrf_of(office, "/backoffice/password")
    weak = await office.post(
        "/backoffice/password",
        data={"csrf_token": token, "current": PASSWORD, "new": "weakweak", "again": "weakweak"},
    )
    page = await weak.text()
    assert weak.status == 422 and 'class="error-summary"' in page and 'href="#new"' in page
    changed = await office.post(
        "/backoffice/password",
        data={"csrf_token": token, "current": PASSWORD, "new": "Own-choice-22", "again": "Own-choice-22"},
        allow_redirects=False,
    )
    assert changed.status == 303
    again = await sign_in(office, "new-hire", "Own-choice-22")
    assert again.headers["Location"] == "/backoffice/queue"


async def test_english_is_available(office: Any) -> None:
    page = await office.get("/backoffice/lang/en", headers={"Referer": "/backoffice/login"})
    assert "Sign in to the back office" in await page.text()
