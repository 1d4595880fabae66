"""A provider whose endpoint answers 410 Gone: the delivery ends dead-lettered as gone after one request, in
every push style (signed webhook, webhook then callback, SOAP), not retried for days (README: stop on 410)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.db.tables.infra import OutboxStatus
from gateway.ports.utilities import UtilityService
from sandbox.utilities import UtilityProviders
from tests.utilities.harness import (
    Gateway,
    open_accounts,
    register_transfer,
    running_gateway,
    transfer_input,
)
from tests.utilities.support import Registry, eventually

PUSHED = [UtilityService.WATER, UtilityService.GAS, UtilityService.POWER]  # webhook, webhook + callback, SOAP


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


@pytest.mark.parametrize("service", PUSHED)
async def test_a_retired_endpoint_ends_the_delivery_as_gone_in_every_style(
    gateway: Gateway, service: UtilityService
) -> None:
    open_accounts(gateway.providers)
    provider = gateway.providers.by_service(service)
    provider.faults.fail(times=5, status=410)  # type: ignore[union-attr]  # retired: 410 to every request
    await register_transfer(gateway.services, transfer_input(services=(service,)))

    async def settled() -> bool:
        rows = await gateway.outbox()
        return len(rows) == 1 and rows[0].status != OutboxStatus.PENDING.value and rows[0].attempts >= 1

    async def final() -> bool:
        rows = await gateway.outbox()
        return rows[0].status in (OutboxStatus.DEAD.value, OutboxStatus.DELIVERED.value)

    await eventually(settled)
    await eventually(final, within=10)  # with the test schedule, retries would take about 5 s more
    [row] = await gateway.outbox()
    assert row.status == OutboxStatus.DEAD.value, (row.status, row.last_error)
    assert row.last_http_status == 410 and row.last_error.startswith("gone"), row.last_error
    assert row.attempts == 1
    assert len(provider.faults) == 4  # type: ignore[union-attr]  # one request reached it, none after
    assert provider.book.applied_effects == 0
