"""Bench-only register: N units, each with one owner and a current certificate, so every submission passes.

Unit i is derived from i alone (code, owner, certificate number), so the seeding process and the load
generator agree without sharing state; every submission goes to its own unit, so no two requests wait for
one unit's row lock and no mortgage ranks collide.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from gateway.db import Database
from gateway.domain.parties import CoOwnership, Owner, Party
from gateway.domain.register import OwnershipFacts, Unit
from gateway.privacy import entry_facts
from gateway.seed import person
from gateway.services.store import ENTRY, UNIT
from gateway.wiring import build_services

# Submitting banks: requests are spread over them (each has its own key and certificate).
BENCH_BANKS = ("icbc-dg", "ccb-dg", "boc-dg", "dgb")
_SEEDED_AT = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
_FIRST_BIRTHDAY = date(1960, 1, 1)


@dataclass(frozen=True)
class BenchUnit:
    index: int
    unit_code: str
    owner: Party
    certificate_number: str


def bench_unit(i: int) -> BenchUnit:
    # Building 0001–9999, room 0001–9999 of one bench parcel (no 0000: GB/T 37346 keeps it for "none").
    code = f"441900003009GB00109F{1 + i // 9999:04d}{1 + i % 9999:04d}"
    birthday = (_FIRST_BIRTHDAY + timedelta(days=i % 15000)).strftime("%Y%m%d")
    owner = person(f"业主{i}", f"441900{birthday}{1 + i % 997:03d}", f"139{i % 100_000_000:08d}")
    return BenchUnit(i, code, owner, f"粤（2024）东莞市不动产权第{1_000_000 + i:07d}号")


def submission_body(i: int) -> tuple[str, bytes]:
    """(bank, body) of a valid 抵押权首次登记 on unit i: the owner mortgages it to the submitting bank."""
    unit = bench_unit(i)
    bank = BENCH_BANKS[i % len(BENCH_BANKS)]
    loan = f"{bank.split('-')[0].upper()}-DK-2026-{i:06d}"
    payload: dict[str, Any] = {
        "branch": "松山湖支行",
        "clerk": f"柜员 {i % 50:04d}",
        "case": {
            "kind": "mortgage_registration",
            "unit_code": unit.unit_code,
            "ownership_certificate_number": unit.certificate_number,
            "mortgagors": [unit.owner.model_dump(mode="json")],
            "mortgage": {
                "mortgage_kind": "general",
                "amount": "800000.00",
                "term_start": "2026-12-01",
                "term_end": "2046-12-01",
                "loan_contract_no": loan,
                "mortgage_contract_no": loan.replace("-DK-", "-DY-"),
            },
        },
    }
    return bank, json.dumps(payload, ensure_ascii=False).encode()


async def seed_units(db: Database, settings: Any, count: int, *, batch: int = 1000) -> None:
    """Insert `count` bench units with their ownership entries (ID numbers encrypted as the store does)."""
    protector = build_services(settings, db).protector
    street = "广东省东莞市松山湖高新技术产业开发区研发路"
    for start in range(0, count, batch):
        units, entries = [], []
        for i in range(start, min(start + batch, count)):
            unit = bench_unit(i)
            facts = Unit(
                unit_code=unit.unit_code,
                address=f"{street}{i}号",
                floor_area=Decimal("90.00"),
                land_term="2005年07月01日起2075年06月30日止",
            )
            units.append(
                {
                    "unit_code": unit.unit_code,
                    "facts": facts.model_dump(mode="json"),
                    "created_at": _SEEDED_AT,
                }
            )
            ownership = OwnershipFacts(owners=[Owner(party=unit.owner)], co_ownership=CoOwnership.SOLE)
            entry_id = secrets.token_hex(16)
            entries.append(
                {
                    "id": entry_id,
                    "unit_code": unit.unit_code,
                    "kind": ownership.kind.value,
                    "facts": protector.protect(ownership.model_dump(mode="json"), entry_facts(entry_id)),
                    "rank": None,
                    "certificate_number": unit.certificate_number,
                    "opened_by_case": None,
                    "opened_at": _SEEDED_AT,
                }
            )
        async with db.engine.begin() as conn:
            await conn.execute(insert(UNIT), units)
            await conn.execute(insert(ENTRY), entries)
