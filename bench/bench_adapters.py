"""Adapter round trips against the simulators on loopback, per wire format.

Also: start-up of all 18 adapters, and how fast hostile XML is refused. Run: .venv/bin/python bench/bench_adapters.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.registry import build_adapters
from gateway.errors import PartyProtocolError
from gateway.ports import ContractCheck, HomeCount, Person, TransferAssessmentRequest
from sandbox.faults import FaultKind
from sandbox.parties import start_parties

SEQUENTIAL = 300
CONCURRENT = 600
CONCURRENCY = 16
PERSON = Person(name="张三", id_number="441900199001011234")
CHECK = ContractCheck(
    case_id="bench",
    unit_code="441900001001GB00001F00010001",
    loan_contract_number="2026东莞个贷字第0001号",
    mortgage_contract_number="DY/2026/0001",
    borrower=PERSON,
    mortgagors=(PERSON,),
    amount=Decimal("1200000.00"),
)
TRANSFER = TransferAssessmentRequest(
    case_id="bench",
    unit_code="441900001001GB00001F00010001",
    contract_date=date(2025, 1, 10),
    price=Decimal("2100000.00"),
    area_m2=Decimal("141.00"),
    buyers=(PERSON,),
    sellers=(PERSON,),
    buyer_home_count=HomeCount.SECOND,
    seller_acquired_on=date(2024, 1, 10),
    seller_sole_home=False,
)
FORMATS = {
    "icbc-dg": "SOAP 1.1 RetCode",
    "boc-dg": "SOAP 1.2 ESB",
    "cmb-dg": "REST envelope",
    "citic-dg": "REST resource",
}


async def measure(call: Callable[[], Awaitable[object]]) -> tuple[float, float, float]:
    """(p50 ms, p99 ms) sequentially, and calls/s with CONCURRENCY in flight."""
    for _ in range(20):
        await call()
    samples = []
    for _ in range(SEQUENTIAL):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(CONCURRENT)))
    rate = CONCURRENT / (time.perf_counter() - started)
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], rate


async def main() -> None:
    print(f"SM2 backend: {certs.backend_name()}")
    ca = certs.CertificateAuthority.create("Bench CA")
    key = certs.SM2PrivateKey.generate()
    gateway = ca.issue(key.public_key, "registry", "registry")
    parties = await start_parties(ca, gateway)
    config = parties.adapter_config()
    started = time.perf_counter()
    adapters = build_adapters(config["banks"], config["tax"], AdapterContext(GatewayIdentity(key), ca))
    await adapters.start()
    print(
        f"build + start of {len(adapters.banks)} bank adapters and the tax adapter: "
        f"{(time.perf_counter() - started) * 1000:.0f} ms"
    )
    try:
        for server in parties.banks.values():
            server.ledger.add_contract(
                CHECK.loan_contract_number,
                CHECK.mortgage_contract_number,
                borrower=(PERSON.name, PERSON.id_number),
                mortgagor_id_numbers=[PERSON.id_number],
                amount=CHECK.amount,
                unit_code=CHECK.unit_code,
            )
        print(
            f"\n{'wire format':<18} {'operation':<18} {'p50 ms':>7} {'p99 ms':>7} {'calls/s':>8}  (x{CONCURRENCY})"
        )
        for code, label in FORMATS.items():
            bank = adapters.bank(code)
            p50, p99, rate = await measure(lambda bank=bank: bank.confirm_contracts(CHECK))  # type: ignore[misc]
            print(f"{label:<18} {'confirm_contracts':<18} {p50:7.2f} {p99:7.2f} {rate:8.0f}")
        tax = adapters.tax_bureau()
        p50, p99, rate = await measure(lambda: tax.assess(TRANSFER))
        print(f"{'tax e-tax REST':<18} {'assess':<18} {p50:7.2f} {p99:7.2f} {rate:8.0f}")

        print("\nhostile replies (signed by the party, refused by the XML guard):")
        bank = adapters.bank("icbc-dg")
        server = parties.banks["icbc-dg"]
        for kind in (FaultKind.BILLION_LAUGHS, FaultKind.EXTERNAL_ENTITY):
            times = []
            for _ in range(20):
                server.faults.then(kind)
                started = time.perf_counter()
                try:
                    await bank.confirm_contracts(CHECK)
                except PartyProtocolError:
                    times.append((time.perf_counter() - started) * 1000)
            print(
                f"  {kind.value:<16} refused {len(times)}/20, median {statistics.median(times):.2f} ms, "
                f"max {max(times):.2f} ms"
            )
    finally:
        await adapters.close()
        await parties.stop()


if __name__ == "__main__":
    asyncio.run(main())
