"""One launcher for every simulated party: the 17 reform banks and the tax bureau, for a given CA.

It hands back their addresses, keys and certificates, and the adapter configuration entries pointing at them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import certs
from adapters.base import SoapSettings
from adapters.registry import import_adapter_class
from sandbox.banks.base import BankPartyServer
from sandbox.banks.rest_envelope import EnvelopeRestBankServer
from sandbox.banks.rest_resource import ResourceRestBankServer
from sandbox.banks.soap_esb import EsbSoapBankServer
from sandbox.banks.soap_retcode import RetCodeSoapBankServer
from sandbox.tax import TaxBureauServer

RETCODE = "adapters.banks.soap_retcode:RetCodeSoapBank"
ESB = "adapters.banks.soap_esb:EsbSoapBank"
ENVELOPE = "adapters.banks.rest_envelope:EnvelopeRestBank"
RESOURCE = "adapters.banks.rest_resource:ResourceRestBank"
DGRCB = "adapters.banks.dgrcb:DgrcbAdapter"
TAX = "adapters.tax.etax:EtaxBureau"
TAX_CODE = "tax-dg"
DGRCB_BRANCH = "441900801"


@dataclass(frozen=True)
class BankEntry:
    code: str
    name: str
    adapter: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # wire-format settings beyond the transport's


# The 17 banks of the reform, each on one of the wire formats (config/parties.sample.toml mirrors this).
REFORM_BANKS: tuple[BankEntry, ...] = (
    BankEntry("icbc-dg", "中国工商银行东莞分行", RETCODE),
    BankEntry("abc-dg", "中国农业银行东莞分行", RETCODE),
    BankEntry("boc-dg", "中国银行东莞分行", ESB, {"channel_id": "BDCDJ"}),
    BankEntry("ccb-dg", "中国建设银行东莞市分行", ESB, {"channel_id": "DGBDC01"}),
    BankEntry("bocom-dg", "交通银行东莞分行", RETCODE),
    BankEntry("psbc-dg", "中国邮政储蓄银行东莞市分行", ENVELOPE),
    BankEntry("cmb-dg", "招商银行东莞分行", ENVELOPE),
    BankEntry("citic-dg", "中信银行东莞分行", RESOURCE),
    BankEntry("ceb-dg", "中国光大银行东莞分行", ESB, {"channel_id": "BDCDJ"}),
    BankEntry("cmbc-dg", "中国民生银行东莞分行", ENVELOPE),
    BankEntry("spdb-dg", "上海浦东发展银行东莞分行", RETCODE),
    BankEntry("cib-dg", "兴业银行东莞分行", RESOURCE),
    BankEntry("cgb-dg", "广发银行东莞分行", ENVELOPE),
    BankEntry("pab-dg", "平安银行东莞分行", RESOURCE),
    BankEntry("hxb-dg", "华夏银行东莞分行", ESB, {"channel_id": "BDCDJ"}),
    BankEntry("dgb", "东莞银行", RESOURCE),
    BankEntry("dgrcb", "东莞农村商业银行", DGRCB, {"channel_id": "BDCDJ", "branch_no": DGRCB_BRANCH}),
)
BANKS_BY_CODE = {entry.code: entry for entry in REFORM_BANKS}


def _bank_server(
    entry: BankEntry, ca: certs.CertificateAuthority, trusted: list[certs.Certificate]
) -> BankPartyServer:
    if entry.adapter == RETCODE:
        return RetCodeSoapBankServer(entry.code, ca, trusted, name=entry.name)
    if entry.adapter == ESB:
        return EsbSoapBankServer(entry.code, ca, trusted, name=entry.name)
    if entry.adapter == DGRCB:
        return EsbSoapBankServer(entry.code, ca, trusted, name=entry.name, branch_no=entry.extra["branch_no"])
    if entry.adapter == ENVELOPE:
        return EnvelopeRestBankServer(entry.code, ca, trusted, name=entry.name)
    if entry.adapter == RESOURCE:
        return ResourceRestBankServer(entry.code, ca, trusted, name=entry.name)
    raise ValueError(f"no simulator for adapter {entry.adapter}")


def _address_key(adapter: str) -> str:
    settings = import_adapter_class(adapter, adapter).Settings
    return "endpoint" if issubclass(settings, SoapSettings) else "base_url"


@dataclass
class Parties:
    """Running simulated parties; `adapter_config()` is what `adapters.registry.build_adapters` takes."""

    banks: dict[str, BankPartyServer]
    tax: TaxBureauServer | None

    def bank_entry(self, code: str, **overrides: Any) -> dict[str, Any]:
        server, entry = self.banks[code], BANKS_BY_CODE[code]
        return {
            "adapter": entry.adapter,
            "name": entry.name,
            _address_key(entry.adapter): server.endpoint,
            "certificate_pem": server.certificate.pem.decode(),
            **entry.extra,
            **overrides,
        }

    def tax_entry(self, **overrides: Any) -> dict[str, Any]:
        if self.tax is None:
            raise RuntimeError("the tax bureau simulator was not started")
        return {
            "code": self.tax.code,
            "adapter": TAX,
            "name": self.tax.name,
            "base_url": self.tax.endpoint,
            "certificate_pem": self.tax.certificate.pem.decode(),
            **overrides,
        }

    def adapter_config(self, **overrides: Any) -> dict[str, Any]:
        """{"banks": {code: entry}, "tax": entry}: the shape of Settings.banks and Settings.tax."""
        return {
            "banks": {code: self.bank_entry(code, **overrides) for code in self.banks},
            "tax": self.tax_entry(**overrides) if self.tax is not None else {},
        }

    def certificates(self) -> dict[str, certs.Certificate]:
        servers = [*self.banks.values(), *([self.tax] if self.tax else [])]
        return {server.code: server.certificate for server in servers}

    async def stop(self) -> None:
        servers = [*self.banks.values(), *([self.tax] if self.tax else [])]
        await asyncio.gather(*(server.stop() for server in servers))

    async def __aenter__(self) -> Parties:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_parties(
    ca: certs.CertificateAuthority,
    gateway_certificate: certs.Certificate,
    *,
    banks: Iterable[str] | None = None,
    tax: bool = True,
    tax_callback_url: str | None = None,
) -> Parties:
    """Start the simulated banks (`banks`: codes from REFORM_BANKS, default all 17) and the tax bureau on
    loopback, each with a fresh SM2 key and a certificate from `ca`, trusting the gateway's certificate."""
    trusted = [gateway_certificate]
    chosen = [BANKS_BY_CODE[code] for code in (banks if banks is not None else BANKS_BY_CODE)]
    parties = Parties({entry.code: _bank_server(entry, ca, trusted) for entry in chosen}, None)
    if tax:
        parties.tax = TaxBureauServer(
            TAX_CODE, ca, trusted, name="国家税务总局东莞市税务局", callback_url=tax_callback_url
        )
    servers = [*parties.banks.values(), *([parties.tax] if parties.tax else [])]
    try:
        await asyncio.gather(*(server.start() for server in servers))
    except BaseException:
        await parties.stop()
        raise
    return parties
