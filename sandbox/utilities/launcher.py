"""Start the four simulated providers for a CA and hand back their addresses, keys, certificates, account
books and the adapter configuration entries pointing at them (`Settings.utilities`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import certs
from gateway.ports.utilities import UtilityService
from sandbox.utilities.base import UtilityServer
from sandbox.utilities.books import Account, AccountBook
from sandbox.utilities.gas import GasWebhookServer
from sandbox.utilities.network import NetworkPullProvider
from sandbox.utilities.power import PowerSoapServer
from sandbox.utilities.water import WaterWebhookServer

WATER = "dg-water"
POWER = "dg-power"
GAS = "dg-gas"
NETWORK = "dg-network"


@dataclass
class UtilityProviders:
    """Running providers: water (webhook), power (SOAP), gas (webhook, results by callback), network (pull)."""

    water: WaterWebhookServer
    power: PowerSoapServer
    gas: GasWebhookServer
    network: NetworkPullProvider

    @property
    def servers(self) -> list[UtilityServer]:
        return [self.water, self.power, self.gas]

    @property
    def all(self) -> dict[str, UtilityServer | NetworkPullProvider]:
        return {p.code: p for p in (self.water, self.power, self.gas, self.network)}

    def by_service(self, service: UtilityService | str) -> UtilityServer | NetworkPullProvider:
        return next(p for p in self.all.values() if p.service == service)

    def adapter_config(
        self, *, pull: Mapping[str, Any] | None = None, **overrides: Any
    ) -> dict[str, dict[str, Any]]:
        """{code: entry}: what `adapters.utilities.build_utility_providers` and `Settings.utilities` take.
        `overrides` (transport settings such as timeouts) apply to the pushed-to providers, `pull` to the
        pull provider's entry (e.g. `collect_within_seconds`)."""
        config = {server.code: server.adapter_entry(**overrides) for server in self.servers}
        config[self.network.code] = self.network.adapter_entry(**(pull or {}))
        return config

    def urls(self) -> dict[str, str]:
        return {server.code: server.endpoint for server in self.servers}

    def certificates(self) -> dict[str, certs.Certificate]:
        return {code: provider.certificate for code, provider in self.all.items()}

    def keys(self) -> dict[str, certs.SM2PrivateKey]:
        return {code: provider.key for code, provider in self.all.items()}

    def books(self) -> dict[str, AccountBook]:
        return {code: provider.book for code, provider in self.all.items()}

    def open_account(
        self,
        service: UtilityService | str,
        account_no: str,
        address: str,
        *holders: str,
        arrears: Decimal | str = "0.00",
        visit_required: bool = False,
    ) -> Account:
        book = self.by_service(service).book
        return book.open(account_no, address, *holders, arrears=arrears, visit_required=visit_required)

    async def attach_gateway(self, base_url: str) -> None:
        """Give the providers that call the gateway its address: gas reports there, network polls there."""
        self.gas.gateway.attach(base_url)
        await self.network.start(base_url)

    async def detach(self) -> None:
        """Stop calling the gateway (before it goes away): network stops polling, gas stops reporting."""
        await self.network.stop()
        self.gas.gateway.base_url = None

    async def stop(self) -> None:
        await asyncio.gather(self.water.stop(), self.power.stop(), self.gas.close(), self.network.close())

    async def __aenter__(self) -> UtilityProviders:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_utilities(
    ca: certs.CertificateAuthority,
    registry_certificate: certs.Certificate,
    *,
    gateway_url: str | None = None,
    gas_process_delay: float = 0.05,
    poll_interval: float = 0.2,
) -> UtilityProviders:
    """Start the providers on loopback, each with a fresh SM2 key and a certificate from `ca`, trusting the
    registry's certificate; with `gateway_url`, gas reports and network polls there at once."""
    trusted = [registry_certificate]
    providers = UtilityProviders(
        water=WaterWebhookServer(WATER, ca, trusted, name="东莞市东江水务有限公司"),
        power=PowerSoapServer(POWER, ca, trusted, name="广东电网有限责任公司东莞供电局"),
        gas=GasWebhookServer(GAS, ca, trusted, name="东莞新奥燃气有限公司", process_delay=gas_process_delay),
        network=NetworkPullProvider(
            NETWORK, ca, registry_certificate, name="东莞广电网络", poll_interval=poll_interval
        ),
    )
    try:
        await asyncio.gather(*(server.start() for server in providers.servers))
        if gateway_url is not None:
            await providers.attach_gateway(gateway_url)
    except BaseException:
        await providers.stop()
        raise
    return providers
