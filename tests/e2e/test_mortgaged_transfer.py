"""带押过户 (民法典 §406) over HTTP against the simulated banks, on SQLite and PostgreSQL.

A transfer that keeps the seller's mortgage: the mortgagee of record is told by the registry (its own system
takes the notice) or, where the parties agreed it must consent, consents itself through its signed callback;
the case records which, and 登簿 waits for it. A combined transfer that cancels a mortgage tells its bank.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.jobs.retry import RetryPolicy
from gateway.seed import PROOF_LI_WANG_ICBC
from sandbox.stage import Stage, StageOptions
from sandbox.story import submission, terms
from tests.services import builders

FAST = RetryPolicy(schedule=(0, 0.3, 0.3, 0.5, 0.5, 1, 1, 1, 1, 2), jitter=0.1)
PROOF = PROOF_LI_WANG_ICBC  # 李娜+王强's flat, mortgaged to icbc-dg; the buyer's bank is boc-dg


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def stage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stage]:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    running = await Stage.start(
        StageOptions(data_dir=tmp_path / "stage", database_url=url, retry_policy=FAST)
    )
    try:
        yield running
    finally:
        await running.stop()


async def wait_for(stage: Stage, case_id: str, predicate: Any, seconds: float = 20) -> dict[str, Any]:
    case: dict[str, Any] = {}
    for _ in range(int(seconds * 10)):
        case = (await stage.bank("boc-dg").get(f"/api/v1/cases/{case_id}")).json()
        if predicate(case):
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} never got there: {case.get('state')} {case.get('tracks')}")


async def submit_and_review(stage: Stage, transfer: Any) -> tuple[dict[str, Any], str]:
    """Submit as boc-dg, pass both reviews and pay the taxes; returns the case and its back-office path."""
    reply = await stage.bank("boc-dg").post("/api/v1/cases", submission(transfer, "东城支行", "柜员0303"))
    assert reply.status == 201, reply.json()
    case = reply.json()
    path = f"/backoffice/api/v1/cases/{case['id']}"
    examiner, senior = [await stage.staff(u) for u in ("examiner-a", "senior-b")]
    assert (await examiner.post(path + "/review", {"stage": "first"})).status == 200
    assert (await senior.post(path + "/review", {"stage": "second"})).status == 200
    assessed = await wait_for(stage, case["id"], lambda c: c["tracks"]["tax"]["status"] == "assessed")
    assessment = assessed["tracks"]["tax"]["detail"]["assessment"]
    assert stage.parties.tax is not None
    stage.parties.tax.pay_at_counter(assessment["assessment_id"])
    await stage.parties.tax.post_payment_cleared(assessment["assessment_id"])
    return case, path


async def open_mortgages(stage: Stage) -> list[str]:
    """The proof numbers of the mortgages on the flat's register."""
    unit = (await stage.bank("boc-dg").get(f"/api/v1/units/{builders.UNITS.co_owned_mortgaged}")).json()
    return [m["certificate_number"] for m in unit["mortgages"]]


async def test_a_kept_mortgage_is_notified_to_its_mortgagee_and_the_case_records_the_delivery(
    stage: Stage,
) -> None:
    transfer = builders.transfer(release_proof_numbers=[], new_mortgage=None, utilities=[])
    case, path = await submit_and_review(stage, transfer)
    told = await wait_for(stage, case["id"], lambda c: c["state"] == "approved")
    kept = told["tracks"]["bank"]["detail"]["kept_mortgages"][PROOF]
    assert kept["mortgagee"] == "icbc-dg" and kept["basis"] == "notice" and kept["notified_at"]
    # The delivery the case names is the one the mortgagee's own system applied.
    icbc = stage.parties.banks["icbc-dg"].ledger
    assert kept["notice_delivery"] in icbc.deliveries
    assert PROOF in str(icbc.deliveries[kept["notice_delivery"]].data)

    registrar = await stage.staff("registrar-c")
    assert (await registrar.post(path + "/register")).status == 200
    assert await open_mortgages(stage) == [PROOF], "the mortgage follows the flat (民法典 §406)"


async def test_an_agreed_consent_comes_from_the_mortgagee_of_record_alone(stage: Stage) -> None:
    transfer = builders.transfer(
        release_proof_numbers=[], new_mortgage=None, utilities=[], mortgagee_consent=True
    )
    case, path = await submit_and_review(stage, transfer)
    registrar = await stage.staff("registrar-c")
    await wait_for(stage, case["id"], lambda c: c["tracks"]["tax"]["status"] == "passed")
    # The buyer's bare flag is not the mortgagee's consent: 登簿 waits.
    refused = await registrar.post(path + "/register")
    assert refused.status == 409
    consent = {"case_id": case["id"], "proof_number": PROOF, "consented": True}
    for other in ("boc-dg", "ccb-dg"):  # the submitting bank, a stranger: neither is the mortgagee of record
        reply = await stage.bank(other).post("/callbacks/v1/banks/mortgage-transfer-consent", consent)
        assert reply.status == 404
    reply = await stage.bank("icbc-dg").post("/callbacks/v1/banks/mortgage-transfer-consent", consent)
    assert reply.status == 200, reply.json()
    approved = await wait_for(stage, case["id"], lambda c: c["state"] == "approved")
    kept = approved["tracks"]["bank"]["detail"]["kept_mortgages"][PROOF]
    assert (kept["basis"], kept["consented_by"], kept["via"]) == ("consent", "bank:icbc-dg", "callback")
    assert kept["consented_at"]
    assert (await registrar.post(path + "/register")).status == 200
    assert await open_mortgages(stage) == [PROOF]


async def test_a_refused_consent_sends_the_case_back_with_the_mortgagees_reason(stage: Stage) -> None:
    transfer = builders.transfer(
        release_proof_numbers=[], new_mortgage=None, utilities=[], mortgagee_consent=True
    )
    reply = await stage.bank("boc-dg").post("/api/v1/cases", submission(transfer, "东城支行", "柜员0303"))
    case_id = reply.json()["id"]
    answer = {
        "case_id": case_id,
        "proof_number": PROOF,
        "consented": False,
        "message": "贷款逾期，不同意转让",
    }
    assert (
        await stage.bank("icbc-dg").post("/callbacks/v1/banks/mortgage-transfer-consent", answer)
    ).status == 200
    back = await wait_for(stage, case_id, lambda c: c["state"] == "need_more_material")
    assert "不同意带押转让" in back["reason"] and "贷款逾期" in back["reason"]


async def test_the_sellers_bank_is_told_when_a_combined_transfer_cancels_its_mortgage(stage: Stage) -> None:
    transfer = builders.transfer(new_mortgage=terms("BOC-DK-2026-2001", "1500000.00"), utilities=[])
    case, path = await submit_and_review(stage, transfer)
    await wait_for(stage, case["id"], lambda c: c["state"] == "approved")
    registrar = await stage.staff("registrar-c")
    assert (await registrar.post(path + "/register")).status == 200
    done = await wait_for(stage, case["id"], lambda c: "cancelled_mortgages" in c["tracks"]["bank"]["detail"])
    cancelled = done["tracks"]["bank"]["detail"]["cancelled_mortgages"][PROOF]
    assert cancelled["mortgagee"] == "icbc-dg"
    icbc = stage.parties.banks["icbc-dg"].ledger
    for _ in range(300):  # delivered after commit, by the outbox
        if cancelled["notice_delivery"] in icbc.deliveries:
            break
        await asyncio.sleep(0.1)
    assert cancelled["notice_delivery"] in icbc.deliveries, "the seller's bank never got the notice"
    assert PROOF in str(icbc.deliveries[cancelled["notice_delivery"]].data)
    remaining = await open_mortgages(stage)
    assert PROOF not in remaining and len(remaining) == 1  # the buyer's new mortgage only
