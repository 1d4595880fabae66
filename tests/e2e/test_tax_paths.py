"""Taxes through the gateway and the simulated bureau over HTTP, on SQLite and PostgreSQL: a new home is
taxed as one, a second-hand sale that owes VAT pays its surcharges before 登簿, and a transfer whose facts
can never be assessed is refused at the counter."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.domain.cases import TransferInput
from gateway.domain.parties import CoOwnership, Owner
from gateway.ports import TransactionKind
from gateway.seed import CHEN_JING, DEVELOPER, UNITS
from sandbox.stage import Stage
from sandbox.story import submission
from tests.services import builders


async def assessed(stage: Stage, bank: str, case_id: str) -> dict[str, Any]:
    client = stage.bank(bank)
    for _ in range(200):
        case: dict[str, Any] = (await client.get(f"/api/v1/cases/{case_id}")).json()
        if case["tracks"]["tax"]["status"] in ("assessed", "passed"):
            return case["tracks"]["tax"]["detail"]["assessment"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} was never assessed: {case['tracks']}")


def amounts(assessment: dict[str, Any]) -> dict[str, Decimal]:
    return {line["kind"]: Decimal(line["amount"]) for line in assessment["lines"]}


async def test_a_new_home_purchase_owes_the_deed_tax_only(staged: Stage) -> None:
    registrar = await staged.staff("registrar-c")
    done = await registrar.post(
        f"/backoffice/api/v1/units/{UNITS.presale}/first-registration", {"developer": DEVELOPER.code}
    )
    assert done.status < 300, done.body
    new_home = TransferInput(
        unit_code=UNITS.presale,
        transfer_type="new_home",
        sellers=[DEVELOPER.as_party()],
        buyers=[Owner(party=CHEN_JING)],
        co_ownership=CoOwnership.SOLE,
        price=Decimal("1900000.00"),
        contract_no="YS-2025-0088",
        contract_date=date(2026, 11, 20),
        buyer_home_count=1,
    )
    reply = await staged.bank("ccb-dg").post("/api/v1/cases", submission(new_home, "南城支行", "柜员0404"))
    assert reply.status == 201, reply.body

    assessment = await assessed(staged, "ccb-dg", reply.json()["id"])

    # Taxed as a private sale held 0 days it owed VAT 90476.19 and 个税 18095.24: 126666.67 before 登簿.
    # 1900000 / 1.09 (the developer's VAT is in the price) = 1743119.27 × 1 % (first home, 92.10 m²).
    assert amounts(assessment) == {"deed_tax": Decimal("17431.19")}
    assert Decimal(assessment["total"]) == Decimal("17431.19")
    assert staged.parties.tax is not None
    [filed] = [a.request for a in staged.parties.tax.assessments.values()]
    assert filed.transaction is TransactionKind.NEW_HOME and filed.seller_acquired_on is None


async def test_a_second_hand_sale_owing_vat_pays_its_surcharges_before_registration(staged: Stage) -> None:
    transfer = builders.transfer(
        seller_acquired_on=date(2025, 6, 1),  # held under two years on 2026-11-20: VAT is due
        new_mortgage=builders.terms("BOC-DK-2026-2001", "1500000.00"),
        utilities=[],
    )
    reply = await staged.bank("boc-dg").post("/api/v1/cases", submission(transfer, "东城支行", "柜员0303"))
    assert reply.status == 201, reply.body

    assessment = await assessed(staged, "boc-dg", reply.json()["id"])

    # 2350000 / 1.05 = 2238095.24 → VAT 111904.76; on it 7 %, 3 %, 2 %, halved (公告2023年第12号).
    assert amounts(assessment) == {
        "deed_tax": Decimal("22380.95"),  # 1 % of 2238095.24 (first home ≤ 140 m²)
        "vat": Decimal("111904.76"),
        "urban_maintenance_tax": Decimal("3916.67"),
        "education_surcharge": Decimal("1678.57"),
        "local_education_surcharge": Decimal("1119.05"),
        "individual_income_tax": Decimal("22380.95"),  # 核定 1 %: not 满五
    }
    due = Decimal(assessment["total"])
    assert due == Decimal("163380.95")
    assert staged.parties.tax is not None
    record = staged.parties.tax.assessments[assessment["assessment_id"]]
    assert record.outstanding == due, "the amount due before 登簿 includes the surcharges"


async def test_a_seller_acquisition_after_the_contract_date_is_refused_at_the_counter(staged: Stage) -> None:
    bank = staged.bank("boc-dg")
    payload = submission(builders.transfer(utilities=[]), "东城支行", "柜员0303")
    payload["case"]["seller_acquired_on"] = "2026-11-21"  # the contract is dated 2026-11-20

    reply = await bank.post("/api/v1/cases", payload)

    assert reply.status == 422, reply.body
    assert reply.headers["Content-Type"] == "application/problem+json"
    [error] = reply.json()["errors"]
    assert error["field"].endswith("seller_acquired_on")
    assert "出卖人取得日期" in error["reason_zh"] and "晚于买卖合同签订日期" in error["reason_zh"]
    assert "after contract_date" in error["reason_en"]
    assert (await bank.get("/api/v1/cases")).json()["cases"] == [], "nothing was recorded"
