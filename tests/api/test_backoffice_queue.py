"""The JSON work queue over HTTP: every case reachable by cursor, and 改派 by user name reaching `mine`."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.api.keys import CONTAINER
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import INSTITUTIONS, seed_demo_register
from gateway.services import cases
from tests.services import builders

PASSWORD = "Registry-pass-1"
CASES = "/backoffice/api/v1/cases"


@pytest.fixture
async def office(serve: Any, database: Any) -> Any:
    users = UserDirectory(database)
    await users.add("examiner-a", PASSWORD, [Role.EXAMINER])
    await users.add("supervisor-d", PASSWORD, [Role.SUPERVISOR])
    institutions = {c: {"name": i.name, "credit_code": i.credit_code} for c, i in INSTITUTIONS.items()}
    client = await serve(institutions=institutions)
    ctx = client.server.app[CONTAINER].services
    await seed_demo_register(ctx)
    for n in range(5):
        mortgage = builders.terms(f"BOC-DK-2026-{n:04d}")
        await cases.submit(ctx, "boc-dg", "支行", "clerk", builders.mortgage_registration(mortgage=mortgage))
    return client


async def bearer(client: Any, username: str) -> dict[str, str]:
    reply = await client.post("/backoffice/api/v1/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {(await reply.json())['token']}"}


async def test_following_the_cursor_reaches_every_case_soonest_deadline_first(office: Any) -> None:
    headers = await bearer(office, "supervisor-d")
    seen, url = [], f"{CASES}?limit=2"
    while url:
        page = await (await office.get(url, headers=headers)).json()
        seen += page["cases"]
        url = f"{CASES}?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert len({c["id"] for c in seen}) == 5
    assert [c["deadline_at"] for c in seen] == sorted(c["deadline_at"] for c in seen)
    bad = await office.get(f"{CASES}?cursor=not-a-cursor", headers=headers)
    assert bad.status == 422


async def test_a_case_assigned_by_user_name_is_in_the_examiners_own_queue(office: Any) -> None:
    supervisor, examiner = await bearer(office, "supervisor-d"), await bearer(office, "examiner-a")
    case_id = (await (await office.get(CASES, headers=supervisor)).json())["cases"][0]["id"]
    assert (await (await office.get(f"{CASES}?mine=true", headers=examiner)).json())["cases"] == []
    unknown = await office.post(f"{CASES}/{case_id}/assign", json={"assignee": "nobody"}, headers=supervisor)
    assert unknown.status == 422
    assigned = await office.post(
        f"{CASES}/{case_id}/assign", json={"assignee": "examiner-a"}, headers=supervisor
    )
    assert assigned.status == 200 and (await assigned.json())["assignee"] == "examiner-a"
    mine = (await (await office.get(f"{CASES}?mine=true", headers=examiner)).json())["cases"]
    assert [c["id"] for c in mine] == [case_id]
