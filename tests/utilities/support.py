"""Shared by the utilities tests: a CA and registry identity, providers on loopback, jobs as 登簿 writes them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.utilities import build_utility_providers
from gateway.ports.utilities import AccountHolder, UtilityProvider, UtilityService, UtilityTransferJob
from sandbox.utilities import UtilityProviders

ADDRESS = "东莞市南城街道鸿福路1号1栋101"
UNIT = "441900003001GB00101F00010101"
SELLER = {"name": "张伟", "id_type": "resident_id", "id_number": "441900198503120012", "phone": "13800000001"}
BUYER = {"name": "刘洋", "id_type": "resident_id", "id_number": "441900199009090070", "phone": "13800000007"}
ACCOUNTS = {  # service → (account number, holder), opened in each provider's book at ADDRESS
    UtilityService.WATER: "SW1020304",
    UtilityService.POWER: "DL5566778",
    UtilityService.GAS: "RQ7788990",
    UtilityService.NETWORK: "KD3344556",
}


@dataclass
class Registry:
    """The gateway's CA and the registry's signing identity, as the adapters and the providers know them."""

    ca: certs.CertificateAuthority
    key: certs.SM2PrivateKey
    certificate: certs.Certificate

    @classmethod
    def create(cls) -> Registry:
        ca = certs.CertificateAuthority.create("Utilities Test CA")
        key = certs.SM2PrivateKey.generate()
        return cls(ca, key, ca.issue(key.public_key, "registry", "registry"))

    def context(self) -> AdapterContext:
        return AdapterContext(identity=GatewayIdentity(self.key), ca=self.ca)

    def adapters(self, providers: UtilityProviders, **overrides: Any) -> dict[str, UtilityProvider]:
        return build_utility_providers(providers.adapter_config(**overrides), self.context())


def job(
    service: UtilityService, *, account_no: str | None = None, address: str = ADDRESS
) -> UtilityTransferJob:
    return UtilityTransferJob(
        delivery_id=uuid.uuid4().hex,
        service=service,
        account_no=account_no or ACCOUNTS[service],
        address=address,
        unit_code=UNIT,
        certificate_number="粤（2026）东莞市不动产权第0000001号",
        registered_at=datetime(2026, 11, 27, 10, 30, tzinfo=UTC),
        sellers=(AccountHolder.model_validate(SELLER),),
        buyers=(AccountHolder.model_validate(BUYER),),
    )


def open_accounts(providers: UtilityProviders, address: str = ADDRESS, **kwargs: Any) -> None:
    for service, account_no in ACCOUNTS.items():
        providers.open_account(service, account_no, address, SELLER["name"], **kwargs)


async def eventually(check: Callable[[], Coroutine[Any, Any, bool]], within: float = 15.0) -> None:
    """Wait until `check()` holds (the dispatcher and the providers work in the background)."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)
