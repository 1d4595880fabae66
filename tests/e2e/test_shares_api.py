"""按份共有 over the bank API: shares sent as "1/3" are recorded exactly and shown as fractions, and a
co-owner's share sale names the waiver it needs, then takes it as a typed material."""

from __future__ import annotations

import asyncio
import base64
from datetime import date
from typing import Any

from gateway.domain.cases import TransferType
from gateway.domain.parties import CoOwnership, Owner
from gateway.seed import CHEN_JING, LIU_YANG, SUN_LI, UNITS, ZHOU_JIE
from sandbox.stage import Stage
from sandbox.story import SAMPLE_PDF, submission
from tests.services import builders


async def until(stage: Stage, bank: str, case_id: str, state: str) -> dict[str, Any]:
    client = stage.bank(bank)
    for _ in range(300):
        case: dict[str, Any] = (await client.get(f"/api/v1/cases/{case_id}")).json()
        if case["state"] == state:
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} never reached {state}: {case['state']} {case['tracks']}")


async def test_thirds_over_the_api_and_a_share_sale_with_the_waiver(staged: Stage) -> None:
    bank = staged.bank("icbc-dg")
    transfer = submission(
        builders.transfer(
            buyers=[Owner(party=p) for p in (LIU_YANG, CHEN_JING, ZHOU_JIE)],
            co_ownership=CoOwnership.JOINT,
            new_mortgage=None,
            utilities=[],
        ),
        "东城支行",
        "柜员0303",
    )
    transfer["case"]["co_ownership"] = "shares"
    for buyer in transfer["case"]["buyers"]:
        buyer["share"] = "1/3"  # as a counter types it: three equal thirds
    reply = await bank.post("/api/v1/cases", transfer)
    assert reply.status == 201, reply.body
    case = reply.json()
    assert [b["share"] for b in case["input"]["buyers"]] == ["1/3", "1/3", "1/3"]

    assert staged.parties.tax is not None
    for _ in range(200):
        tax = (await bank.get(f"/api/v1/cases/{case['id']}")).json()["tracks"]["tax"]
        if tax["status"] == "assessed":
            break
        await asyncio.sleep(0.1)
    assessment_id = tax["detail"]["assessment"]["assessment_id"]
    staged.parties.tax.pay_at_counter(assessment_id)
    await staged.parties.tax.post_payment_cleared(assessment_id)
    base = f"/backoffice/api/v1/cases/{case['id']}"
    assert (await (await staged.staff("examiner-a")).post(base + "/review", {"stage": "first"})).status == 200
    assert (await (await staged.staff("senior-b")).post(base + "/review", {"stage": "second"})).status == 200
    await until(staged, "icbc-dg", case["id"], "approved")
    assert (await (await staged.staff("registrar-c")).post(base + "/register")).status == 200
    registered = await until(staged, "icbc-dg", case["id"], "completed")

    unit = (await bank.get(f"/api/v1/units/{UNITS.co_owned_mortgaged}")).json()
    assert unit["co_ownership"] == "按份共有：刘*占三分之一，陈*占三分之一，周*占三分之一"

    [certificate] = [c["number"] for c in registered["certificates"] if c["kind"] == "ownership"]
    sale = builders.transfer(
        transfer_type=TransferType.CO_OWNER_SHARE,
        ownership_certificate_number=certificate,
        sellers=[CHEN_JING],
        buyers=[Owner(party=SUN_LI, share="1/3")],  # type: ignore[arg-type]
        co_ownership=CoOwnership.SHARES,
        contract_date=date(2026, 12, 1),
        seller_acquired_on=date(2026, 11, 30),
        release_proof_numbers=[],
        new_mortgage=None,
        utilities=[],
    )
    without = await bank.post("/api/v1/cases", submission(sale, "东城支行", "柜员0303", with_material=False))
    assert without.status == 409
    [rule] = without.json()["rules"]
    assert rule["name"] == "co_owners_waived_pre_emption" and "第三百零五条" in rule["reason_zh"]

    payload = submission(sale, "东城支行", "柜员0303", with_material=False)
    payload["materials"] = [
        {
            "name": "其他共有人放弃优先购买权声明.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(SAMPLE_PDF).decode(),
            "kind": "co_owner_pre_emption_waiver",
        }
    ]
    accepted = await bank.post("/api/v1/cases", payload)
    assert accepted.status == 201, accepted.body
    detail = (await bank.get(f"/api/v1/cases/{accepted.json()['id']}")).json()
    assert [m["kind"] for m in detail["materials"]] == ["co_owner_pre_emption_waiver"]
