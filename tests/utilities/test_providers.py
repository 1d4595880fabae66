"""Each provider adapter against its simulator over loopback: outcomes, refusals, dedupe, faults, config."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.utilities import build_utility_providers
from gateway.errors import ConfigError, PartyError, PartyProtocolError, PartyUnavailable
from gateway.ports.utilities import (
    DeliveryStyle,
    OutcomeKind,
    RefusalReason,
    UtilityProvider,
    UtilityService,
)
from sandbox.faults import FaultKind
from sandbox.utilities import UtilityProviders, start_utilities
from tests.utilities.support import ACCOUNTS, Registry, job, open_accounts

ROOT = Path(__file__).resolve().parents[2]
PUSHED = [UtilityService.WATER, UtilityService.POWER, UtilityService.GAS]


@pytest.fixture
async def adapters(
    registry: Registry, providers: UtilityProviders
) -> AsyncIterator[dict[str, UtilityProvider]]:
    open_accounts(providers)
    built = registry.adapters(providers, retry_attempts=1)
    await asyncio.gather(*(a.start() for a in built.values()))  # type: ignore[attr-defined]
    try:
        yield built
    finally:
        await asyncio.gather(*(a.close() for a in built.values()))  # type: ignore[attr-defined]


def adapter(
    adapters: dict[str, UtilityProvider], providers: UtilityProviders, service: UtilityService
) -> UtilityProvider:
    return adapters[providers.by_service(service).code]


async def settle(provider: UtilityProvider, service: UtilityService, **kw: object) -> tuple[str, object]:
    """Send one job, and send it again until the provider has decided (gas decides after accepting)."""
    sent = job(service, **kw)  # type: ignore[arg-type]
    outcome = await provider.transfer(sent)
    for _ in range(50):
        if outcome.kind is not OutcomeKind.LATER:
            break
        await asyncio.sleep(0.02)
        outcome = await provider.transfer(sent)
    return sent.delivery_id, outcome


@pytest.mark.parametrize("service", PUSHED)
async def test_a_transfer_is_done_once_however_often_it_is_sent(
    adapters: dict[str, UtilityProvider], providers: UtilityProviders, service: UtilityService
) -> None:
    provider = adapter(adapters, providers, service)
    delivery_id, outcome = await settle(provider, service)
    assert outcome.kind is OutcomeKind.DONE  # type: ignore[attr-defined]
    again = await provider.transfer(job(service).model_copy(update={"delivery_id": delivery_id}))
    assert again.kind is OutcomeKind.DONE
    book = providers.by_service(service).book
    assert book.applied[delivery_id] == 1 and book.applied_effects == 1
    assert book.accounts[ACCOUNTS[service]].holders == ("刘洋",)
    assert book.repeats >= 1


async def test_gas_accepts_first_and_decides_later(
    adapters: dict[str, UtilityProvider], providers: UtilityProviders
) -> None:
    provider = adapter(adapters, providers, UtilityService.GAS)
    first = await provider.transfer(job(UtilityService.GAS))
    assert first.kind is OutcomeKind.LATER and first.provider_reference.startswith("RQ")
    assert first.check_after_seconds == 3600.0  # the adapter's setting: when to send it again without news


@pytest.mark.parametrize("service", PUSHED)
@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"account_no": "NO-SUCH-1"}, RefusalReason.ACCOUNT_MISMATCH),
        ({"address": "东莞市莞城街道另一地址9号"}, RefusalReason.ACCOUNT_MISMATCH),
        ({"arrears": "86.50"}, RefusalReason.ARREARS),
        ({"visit_required": True}, RefusalReason.VISIT_REQUIRED),
    ],
)
async def test_refusals_carry_the_reason_and_the_providers_own_code(
    adapters: dict[str, UtilityProvider],
    providers: UtilityProviders,
    service: UtilityService,
    setup: dict[str, object],
    reason: RefusalReason,
) -> None:
    account = providers.by_service(service).book.accounts[ACCOUNTS[service]]
    if "arrears" in setup:
        account.arrears = account.arrears.__class__(str(setup["arrears"]))
    if "visit_required" in setup:
        account.visit_required = True
    sent = {k: v for k, v in setup.items() if k in ("account_no", "address")}
    _, outcome = await settle(adapter(adapters, providers, service), service, **sent)
    assert outcome.kind is OutcomeKind.REJECTED and outcome.reason is reason  # type: ignore[attr-defined]
    assert outcome.provider_code and outcome.message  # type: ignore[attr-defined]
    assert providers.by_service(service).book.applied_effects == 0
    assert account.holders == ("张伟",)


@pytest.mark.parametrize("service", PUSHED)
async def test_rate_limited_provider_surfaces_retry_after(
    adapters: dict[str, UtilityProvider], providers: UtilityProviders, service: UtilityService
) -> None:
    providers.by_service(service).faults.rate_limit(times=1, retry_after=30)  # type: ignore[union-attr]
    with pytest.raises(PartyUnavailable) as exc:
        await adapter(adapters, providers, service).transfer(job(service))
    assert exc.value.retry_after == 30
    assert providers.by_service(service).book.applied_effects == 0


@pytest.mark.parametrize("service", PUSHED)
@pytest.mark.parametrize("kind", [FaultKind.BUSY, FaultKind.STATUS, FaultKind.DISCONNECT])
async def test_outages_are_unavailable(
    adapters: dict[str, UtilityProvider],
    providers: UtilityProviders,
    service: UtilityService,
    kind: FaultKind,
) -> None:
    providers.by_service(service).faults.then(kind)  # type: ignore[union-attr]
    with pytest.raises(PartyUnavailable):
        await adapter(adapters, providers, service).transfer(job(service))


@pytest.mark.parametrize("service", PUSHED)
@pytest.mark.parametrize("kind", [FaultKind.WRONG_KEY, FaultKind.UNSIGNED, FaultKind.MALFORMED])
async def test_an_answer_that_is_not_the_providers_is_refused(
    adapters: dict[str, UtilityProvider],
    providers: UtilityProviders,
    service: UtilityService,
    kind: FaultKind,
) -> None:
    providers.by_service(service).faults.then(kind)  # type: ignore[union-attr]
    with pytest.raises(PartyProtocolError):
        await adapter(adapters, providers, service).transfer(job(service))


@pytest.mark.parametrize("service", [UtilityService.WATER, UtilityService.GAS])
async def test_a_retired_webhook_endpoint_stops_delivery(
    adapters: dict[str, UtilityProvider], providers: UtilityProviders, service: UtilityService
) -> None:
    providers.by_service(service).faults.fail(times=1, status=410)  # type: ignore[union-attr]
    with pytest.raises(PartyError) as exc:
        await adapter(adapters, providers, service).transfer(job(service))
    assert exc.value.party_code == "410"  # the delivery runner dead-letters on this code at once


async def test_a_forged_push_is_refused_by_the_provider(
    registry: Registry, providers: UtilityProviders
) -> None:
    open_accounts(providers)
    # Signed with a key that is not the registry's: not on the water company's trust list.
    impostor = AdapterContext(identity=GatewayIdentity(certs.SM2PrivateKey.generate()), ca=registry.ca)
    water = build_utility_providers(providers.adapter_config(retry_attempts=1), impostor)[
        providers.water.code
    ]
    await water.start()  # type: ignore[attr-defined]
    try:
        with pytest.raises(PartyProtocolError, match="401"):
            await water.transfer(job(UtilityService.WATER))
    finally:
        await water.close()  # type: ignore[attr-defined]
    assert providers.water.requests_refused == 1 and providers.water.book.applied_effects == 0


async def test_the_pull_provider_waits_to_be_collected(
    adapters: dict[str, UtilityProvider], providers: UtilityProviders
) -> None:
    provider = adapter(adapters, providers, UtilityService.NETWORK)
    assert provider.style is DeliveryStyle.PULL
    outcome = await provider.transfer(job(UtilityService.NETWORK))
    assert outcome.kind is OutcomeKind.LATER and outcome.check_after_seconds == 6 * 3600


async def test_a_provider_configured_with_another_providers_certificate_is_refused_at_start_up(
    registry: Registry, providers: UtilityProviders
) -> None:
    config = providers.adapter_config()
    config[providers.water.code]["certificate_pem"] = config[providers.gas.code]["certificate_pem"]
    with pytest.raises(ConfigError, match="dg-gas"):
        build_utility_providers(config, registry.context())


@pytest.mark.parametrize("service", [UtilityService.WATER, UtilityService.POWER])
async def test_a_provider_revoked_since_start_up_cannot_acknowledge_a_job(
    tmp_path: Path, service: UtilityService
) -> None:
    fresh = Registry.create()  # its own CA: this test revokes a provider's certificate
    fresh.ca.save(tmp_path / "ca")
    providers = await start_utilities(fresh.ca, fresh.certificate, gas_process_delay=0.01)
    open_accounts(providers)
    provider = fresh.adapters(providers, retry_attempts=1)[providers.by_service(service).code]
    await provider.start()  # type: ignore[attr-defined]
    try:
        _, outcome = await settle(provider, service)
        assert outcome.kind is OutcomeKind.DONE  # type: ignore[attr-defined]
        serial = format(providers.by_service(service).certificate.serial, "X")
        revoke = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "certs.cli", "revoke", "--dir", str(tmp_path / "ca"), serial,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, said = await revoke.communicate()
        assert revoke.returncode == 0, said
        await asyncio.sleep(certs.RevocationState.REFRESH_SECONDS + 0.1)
        with pytest.raises(PartyProtocolError, match="revoked"):
            await provider.transfer(job(service, account_no=ACCOUNTS[service]))
    finally:
        await provider.close()  # type: ignore[attr-defined]
        await providers.stop()
