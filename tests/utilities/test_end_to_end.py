"""登簿 → four jobs → four providers (webhook, SOAP, webhook-then-callback, pull) done → the case shows it
→ the bank is told; on SQLite and PostgreSQL, over real HTTP, with the real dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.ports.banks import CaseEvent
from gateway.ports.utilities import UtilityService
from sandbox.utilities import UtilityProviders
from tests.utilities.harness import (
    ACCOUNTS,
    Gateway,
    open_accounts,
    register_transfer,
    running_gateway,
    submit_over_http,
)
from tests.utilities.support import Registry, eventually


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def gateway(
    registry: Registry, providers: UtilityProviders, database_url: str, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with running_gateway(registry, providers, database_url, tmp_path) as running:
        yield running


async def case_view(gateway: Gateway, case_id: str) -> dict[str, Any]:
    reply = await gateway.bank().get(f"/api/v1/cases/{case_id}/utilities")
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.json()
    return data


async def test_registration_moves_four_accounts_and_the_bank_is_told(gateway: Gateway) -> None:
    open_accounts(gateway.providers)
    submitted = await submit_over_http(gateway)  # the counter records the four accounts (户号)
    assert (await case_view(gateway, submitted))["jobs"] == []  # nothing goes out before 登簿
    case_id = await register_transfer(gateway.services, submitted=submitted)
    rows = await gateway.outbox()
    assert sorted(r.target for r in rows) == ["dg-gas", "dg-network", "dg-power", "dg-water"]

    async def all_done() -> bool:
        return (await case_view(gateway, case_id))["all_done"] is True

    await eventually(all_done)
    view = await case_view(gateway, case_id)
    assert {j["service"]: j["status"] for j in view["jobs"]} == {s.value: "done" for s in UtilityService}
    assert view["needs_citizen"] == [] and view["dead"] == []
    for service, account_no in ACCOUNTS.items():
        book = gateway.providers.by_service(service).book
        assert book.accounts[account_no].holders == ("刘洋",)
        assert book.applied_effects == 1

    async def told() -> bool:
        return len(gateway.notices(CaseEvent.UTILITIES_DONE.value)) == 1

    await eventually(told)
    notice = gateway.notices(CaseEvent.UTILITIES_DONE.value)[0]
    assert notice.data["case_id"] == case_id and "水电气网联动过户已全部办结" in notice.data["reason"]
    assert gateway.providers.network.polls >= 1  # the network provider collected its job itself
    assert gateway.providers.gas.callbacks_sent and gateway.providers.gas.callbacks_sent[0][1] == 200

    # The unit's next transfer is offered the accounts this one moved.
    accounts = await gateway.bank().get("/api/v1/units/441900003001GB00101F00010101/utility-accounts")
    assert {a["account_no"] for a in accounts.json()["accounts"]} == set(ACCOUNTS.values())


async def test_a_refusal_that_needs_the_citizen_is_shown_and_told(gateway: Gateway) -> None:
    open_accounts(gateway.providers)
    gateway.providers.gas.book.accounts[ACCOUNTS[UtilityService.GAS]].arrears = Decimal("312.40")
    case_id = await register_transfer(gateway.services)

    async def settled() -> bool:
        view = await case_view(gateway, case_id)
        return all(j["status"] in ("done", "rejected") for j in view["jobs"])

    await eventually(settled)
    view = await case_view(gateway, case_id)
    gas = next(j for j in view["jobs"] if j["service"] == "gas")
    assert gas["status"] == "rejected" and gas["refusal"]["code"] == "arrears"
    assert gas["refusal"]["zh"] == "有欠费" and gas["provider_code"] == "E102"
    assert view["needs_citizen"] == ["gas"] and view["all_done"] is False

    async def told() -> bool:
        return len(gateway.notices(CaseEvent.UTILITY_NEEDS_CITIZEN.value)) == 1

    await eventually(told)
    assert "有欠费" in gateway.notices(CaseEvent.UTILITY_NEEDS_CITIZEN.value)[0].data["reason"]
    assert gateway.notices(CaseEvent.UTILITIES_DONE.value) == []
    assert gateway.providers.gas.book.applied_effects == 0


async def test_another_bank_cannot_see_the_case_and_a_provider_cannot_use_bank_routes(
    gateway: Gateway,
) -> None:
    open_accounts(gateway.providers)
    case_id = await register_transfer(gateway.services)
    assert (await gateway.bank("dgb").get(f"/api/v1/cases/{case_id}/utilities")).status == 404
    water = gateway.provider("dg-water")
    assert (await water.get(f"/api/v1/cases/{case_id}/utilities")).status == 403
