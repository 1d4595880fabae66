"""Fixtures for the adapter tests: a CA, the gateway's identity, adapters paired with their simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.registry import Adapters, build_adapters
from gateway.parties_file import read_parties_file
from gateway.ports import ContractCheck, HomeCount, Person, TransferAssessmentRequest
from sandbox.banks.base import BankPartyServer
from sandbox.common import PartyServer
from sandbox.parties import Parties, start_parties
from sandbox.tax import TaxBureauServer

SAMPLE_CONFIG = Path(__file__).parents[2] / "config" / "parties.sample.toml"
# Short budgets so timeouts are tested in fractions of a second.
FAST = {
    "timeout_seconds": 0.5,
    "connect_timeout_seconds": 0.5,
    "max_retry_wait_seconds": 1.0,
    "retry_backoff_seconds": 0.01,
}

BORROWER = Person(name="张三", id_number="441900199001011234")
SPOUSE = Person(name="李四", id_number="44190019910202123X")
LOAN = "2026东莞个贷字第0001号"  # contract numbers carry Chinese and '/' in real life
MORTGAGE = "DY/2026/0001"
UNIT = "441900001001GB00001F00010001"
AMOUNT = Decimal("1200000.00")


def contract_check(**changes: Any) -> ContractCheck:
    base = ContractCheck(
        case_id="case-1",
        unit_code=UNIT,
        loan_contract_number=LOAN,
        mortgage_contract_number=MORTGAGE,
        borrower=BORROWER,
        mortgagors=(BORROWER, SPOUSE),
        amount=AMOUNT,
    )
    return base.model_copy(update=changes)


def transfer_request(**changes: Any) -> TransferAssessmentRequest:
    base = TransferAssessmentRequest(
        case_id="case-9",
        unit_code=UNIT,
        contract_date=date(2025, 1, 10),
        price=Decimal("2100000.00"),
        area_m2=Decimal("141.00"),
        buyers=(SPOUSE,),
        sellers=(BORROWER,),
        buyer_home_count=HomeCount.SECOND,
        seller_acquired_on=date(2024, 1, 10),
        seller_sole_home=False,
    )
    return base.model_copy(update=changes)


def configured_banks() -> dict[str, dict[str, Any]]:
    banks = read_parties_file(SAMPLE_CONFIG).banks
    return banks


def one_bank_per_adapter_class() -> list[str]:
    """The first configured bank of each adapter class: every wire format (and bank module) once."""
    seen: dict[str, str] = {}
    for code, entry in configured_banks().items():
        seen.setdefault(entry["adapter"], code)
    return list(seen.values())


@pytest.fixture(scope="session")
def ca() -> certs.CertificateAuthority:
    return certs.CertificateAuthority.create("Adapter Test CA")


@pytest.fixture(scope="session")
def gateway_key() -> certs.SM2PrivateKey:
    return certs.SM2PrivateKey.generate()


@pytest.fixture(scope="session")
def gateway_certificate(
    ca: certs.CertificateAuthority, gateway_key: certs.SM2PrivateKey
) -> certs.Certificate:
    return ca.issue(gateway_key.public_key, "registry", "registry")


@pytest.fixture
def context(ca: certs.CertificateAuthority, gateway_key: certs.SM2PrivateKey) -> AdapterContext:
    return AdapterContext(GatewayIdentity(gateway_key), ca)


@dataclass
class Harness:
    """One configured adapter, started, and the simulator it talks to."""

    code: str
    adapter: Any  # BankCoreSystem or TaxBureau
    server: PartyServer
    adapter_path: str
    probe: Callable[[], Awaitable[object]]  # an idempotent call that succeeds against a healthy party

    @property
    def soap(self) -> bool:
        return ".soap_" in self.adapter_path or self.adapter_path.startswith("adapters.banks.dgrcb")


Launch = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def launch(
    ca: certs.CertificateAuthority, gateway_certificate: certs.Certificate, context: AdapterContext
) -> AsyncIterator[Launch]:
    """launch(code, context=None, **entry_overrides) → a started Harness; everything stops at teardown."""
    running: list[tuple[Parties, Adapters]] = []

    async def start(code: str, context_: AdapterContext | None = None, **overrides: Any) -> Harness:
        is_tax = code == "tax"
        parties = await start_parties(ca, gateway_certificate, banks=[] if is_tax else [code], tax=is_tax)
        entries = {**FAST, **overrides}
        if is_tax:
            adapters = build_adapters({}, parties.tax_entry(**entries), context_ or context)
        else:
            adapters = build_adapters({code: parties.bank_entry(code, **entries)}, None, context_ or context)
        running.append((parties, adapters))
        await adapters.start()
        if is_tax:
            tax = parties.tax
            assert tax is not None and adapters.tax is not None
            record = tax.file_assessment(transfer_request())
            bureau = adapters.tax
            return Harness(
                tax.code,
                bureau,
                tax,
                "adapters.tax.etax:EtaxBureau",
                lambda: bureau.clearance(record.assessment_id),
            )
        server = parties.banks[code]
        seed_contract(server)
        bank = adapters.bank(code)
        path = configured_banks()[code]["adapter"]
        return Harness(code, bank, server, path, lambda: bank.confirm_contracts(contract_check()))

    yield start
    for parties, adapters in running:
        await adapters.close()
        await parties.stop()


def seed_contract(server: BankPartyServer, *, settled_on: date | None = None) -> None:
    server.ledger.add_contract(
        LOAN,
        MORTGAGE,
        borrower=(BORROWER.name, BORROWER.id_number),
        mortgagor_id_numbers=[BORROWER.id_number, SPOUSE.id_number],
        amount=AMOUNT,
        unit_code=UNIT,
        term=(date(2026, 3, 1), date(2056, 2, 28)),
        settled_on=settled_on,
    )


def bank_ledger(harness: Harness) -> Any:
    assert isinstance(harness.server, BankPartyServer)
    return harness.server.ledger


def tax_server(harness: Harness) -> TaxBureauServer:
    assert isinstance(harness.server, TaxBureauServer)
    return harness.server
