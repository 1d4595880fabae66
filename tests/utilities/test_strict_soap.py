"""A power company's SOAP reply that is not the WSDL's answer ends as a protocol error whose diagnosis —
which element, which namespace — is on the outbox row, where an integrator reads why."""

from __future__ import annotations

from pathlib import Path

from gateway.ports.utilities import UtilityService
from sandbox.faults import Fault, FaultKind
from sandbox.utilities import UtilityProviders
from tests.utilities.harness import open_accounts, register_transfer, running_gateway, transfer_input
from tests.utilities.support import Registry, eventually


async def test_a_hy_answered_with_a_gh_response_is_diagnosed_on_the_outbox_row(
    registry: Registry, providers: UtilityProviders, tmp_path: Path
) -> None:
    # Was: the GhResponse (code 0) taken as the Hy verification, and the transfer went ahead on it.
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    async with running_gateway(registry, providers, url, tmp_path) as gateway:
        power = gateway.providers.by_service(UtilityService.POWER)
        power.faults.add(Fault(FaultKind.TAMPERED, element="GhResponse"), times=1000)
        open_accounts(gateway.providers)
        await register_transfer(gateway.services, transfer_input((UtilityService.POWER,)))

        async def diagnosed() -> bool:
            rows = [r for r in await gateway.outbox() if r.target == power.code]
            return bool(rows and rows[0].last_error)

        await eventually(diagnosed)
        [row] = [r for r in await gateway.outbox() if r.target == power.code]
        assert row.last_error is not None
        assert "bad_xml" in row.last_error, row.last_error
        assert "<GhResponse>" in row.last_error and "<HyResponse>" in row.last_error, row.last_error
        account = next(iter(power.book.accounts.values()))
        assert account.holders != ("刘洋",)  # nothing was transferred on the strength of a wrong answer
