"""The bank's confirmation of a case's loan is compared with the application: amount and 债务履行期限."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.stage import Stage
from sandbox.story import submission
from tests.services import builders


async def bank_refusal(stage: Stage, bank: str, case_id: str) -> dict[str, Any]:
    client = stage.bank(bank)
    for _ in range(200):
        case: dict[str, Any] = (await client.get(f"/api/v1/cases/{case_id}")).json()
        if case["tracks"]["bank"]["status"] != "pending":
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"the bank never answered for {case_id}: {case['tracks']}")


async def test_a_loan_term_other_than_the_applications_goes_back_to_the_counter_named(staged: Stage) -> None:
    # The bank's core system records the loan for 30 years; the counter applied for 20.
    staged.parties.banks["psbc-dg"].ledger.add_contract(
        "PSBC-DK-2026-3001",
        "PSBC-DY-2026-3001",
        borrower=(builders.ZHANG_WEI.name, builders.ZHANG_WEI.id_number),
        mortgagor_id_numbers=[builders.ZHANG_WEI.id_number],
        amount=Decimal("600000.00"),
        unit_code=builders.UNITS.single_owner,
        term=(date(2026, 12, 1), date(2056, 12, 1)),
    )
    case_input = builders.mortgage_registration(mortgage=builders.terms("PSBC-DK-2026-3001"))
    reply = await staged.bank("psbc-dg").post(
        "/api/v1/cases", submission(case_input, "松山湖支行", "柜员0101")
    )
    assert reply.status == 201, reply.body

    case = await bank_refusal(staged, "psbc-dg", reply.json()["id"])

    assert case["state"] == "need_more_material"
    assert "债务履行期限" in case["reason"] and "2056-12-01" in case["reason"]
    [rule] = case["tracks"]["bank"]["detail"]["failed_rules"]
    assert rule["name"] == "bank_term_matches"
    assert "2026-12-01—2046-12-01" in rule["reason_zh"]
    assert "loan term" in rule["reason_en"] and "2056-12-01" in rule["reason_en"]


async def test_the_same_term_and_amount_are_confirmed(staged: Stage) -> None:
    case_input = builders.mortgage_registration(mortgage=builders.terms("PSBC-DK-2026-1127"))
    reply = await staged.bank("psbc-dg").post(
        "/api/v1/cases", submission(case_input, "松山湖支行", "柜员0101")
    )
    case = await bank_refusal(staged, "psbc-dg", reply.json()["id"])
    assert case["tracks"]["bank"]["status"] == "passed" and case["state"] == "under_review"
