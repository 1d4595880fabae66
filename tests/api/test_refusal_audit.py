"""Refused attempts (403, 409) by a known party or user land in the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from gateway.db import Database
from gateway.db.tables.infra import AuditRecord
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from tests.api.demo_routes import routes
from tests.api.support import SignedClient

PASSWORD = "Correct horse battery 9"  # 等保 rules: three character classes


@pytest.fixture
async def client(serve: Any, database: Database) -> Any:
    await UserDirectory(database).add("li", PASSWORD, [Role.EXAMINER], "李初审")
    return await serve(routes)


async def refusals(database: Database) -> list[AuditRecord]:
    async with database.session() as session:
        found = await session.exec(
            select(AuditRecord).where(AuditRecord.action == "request.refused").order_by(AuditRecord.id)  # type: ignore[arg-type]
        )
        return list(found.all())


async def test_a_partys_409_and_a_users_403_are_audited_with_who_what_and_why(
    client: Any, bank: Any, database: Database
) -> None:
    signed: SignedClient = bank(client)
    refused = await signed.post("/api/v1/demo/rule", {})
    assert refused.status == 409
    login = await client.post("/backoffice/api/v1/login", json={"username": "li", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    denied = await client.post("/backoffice/api/v1/demo/approve", headers=headers)
    assert denied.status == 403

    party, user = await refusals(database)
    assert (party.actor, party.subject) == ("party:icbc-dg", "POST /api/v1/demo/rule")
    assert party.details["code"] == "rule_violation" and party.details["rules"] == ["unit_not_seized"]
    assert party.details["reason_zh"] == "unit_not_seized：不动产单元已被查封"
    assert party.details["request_id"] == refused.headers["X-Request-ID"]
    assert (user.actor, user.subject) == ("user:li", "POST /backoffice/api/v1/demo/approve")
    assert user.details["status"] == 403 and "复审人员" in user.details["reason_zh"]
    # The token and the signature never reach the record.
    assert headers["Authorization"].split()[1] not in str(user.details)


async def test_an_id_number_in_a_reason_is_masked_and_the_case_is_linked(
    client: Any, bank: Any, database: Database
) -> None:
    signed: SignedClient = bank(client)
    assert (await signed.post("/api/v1/demo/cases/c-123/release", {})).status == 409
    (record,) = await refusals(database)
    assert record.subject == "POST /api/v1/demo/cases/{case_id}/release" and record.case_id == "c-123"
    assert "441900199001011237" not in str(record.details)
    assert "441900********1237" in record.details["reason_en"]


async def test_anonymous_401s_404s_and_422s_are_not_audited(
    client: Any, bank: Any, database: Database
) -> None:
    signed: SignedClient = bank(client)
    assert (await client.post("/api/v1/demo/rule", json={})).status == 401  # unsigned
    assert (await client.post("/backoffice/api/v1/demo/approve")).status == 401  # no token
    assert (await signed.get("/api/v1/demo/things/abc")).status == 404
    assert (await signed.post("/api/v1/demo/input", {})).status == 422
    assert await refusals(database) == []
