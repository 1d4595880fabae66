"""The bank API over real HTTP against the simulated parties: ownership, idempotency, outages, the tax gate."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.jobs.retry import RetryPolicy
from sandbox.stage import Stage, StageOptions
from sandbox.story import SAMPLE_PDF, submission, terms
from tests.services import builders

FAST = RetryPolicy(schedule=(0, 0.3, 0.3, 0.5, 0.5, 1, 1, 1, 1, 2), jitter=0.1)


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage", retry_policy=FAST))
    try:
        yield running
    finally:
        await running.stop()


def registration(loan: str = "PSBC-DK-2026-1127", amount: str = "600000.00") -> dict[str, object]:
    case = builders.mortgage_registration(mortgage=terms(loan, amount))
    return submission(case, "松山湖支行", "柜员0101")


async def wait_for(stage: Stage, bank: str, case_id: str, predicate: object, seconds: float = 20) -> dict:  # type: ignore[type-arg]
    client = stage.bank(bank)
    for _ in range(int(seconds * 10)):
        case = (await client.get(f"/api/v1/cases/{case_id}")).json()
        if predicate(case):  # type: ignore[operator]
            return case  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} never got there: {case['state']} {case['tracks']}")


async def test_another_bank_gets_404_for_a_case_on_every_endpoint(stage: Stage) -> None:
    owner, other = stage.bank("psbc-dg"), stage.bank("icbc-dg")
    case = (await owner.post("/api/v1/cases", registration())).json()
    case_id = case["id"]
    pdf = SAMPLE_PDF
    attempts = {
        "detail": await other.get(f"/api/v1/cases/{case_id}"),
        "withdraw": await other.post(f"/api/v1/cases/{case_id}/withdraw", {"reason": "x"}),
        "resubmit": await other.post(f"/api/v1/cases/{case_id}/resubmit", {"note": ""}),
        "material": await other.request(
            "POST",
            f"/api/v1/cases/{case_id}/materials?name=a.pdf",
            body=pdf,
            content_type="application/pdf",
            idempotency_key=str(uuid.uuid4()),
        ),
        "certificate": await other.get(f"/api/v1/cases/{case_id}/certificates/x"),
        "utilities": await other.get(f"/api/v1/cases/{case_id}/utilities"),
        "contract callback": await other.post(
            "/callbacks/v1/banks/contract-confirmed", {"case_id": case_id, "confirmed": True}
        ),
    }
    assert {name: r.status for name, r in attempts.items()} == {name: 404 for name in attempts}
    listed = (await other.get("/api/v1/cases")).json()["cases"]
    assert case_id not in {c["id"] for c in listed}
    mine = (await owner.get(f"/api/v1/cases/{case_id}")).json()
    assert mine["id"] == case_id and mine["materials"][0]["sm3"]


async def test_identical_concurrent_submissions_make_one_case_and_a_retry_gets_the_same_bytes(
    stage: Stage,
) -> None:
    bank = stage.bank("psbc-dg")
    key = str(uuid.uuid4())
    payload = registration()
    first, second = await asyncio.gather(
        bank.post("/api/v1/cases", payload, idempotency_key=key),
        bank.post("/api/v1/cases", payload, idempotency_key=key),
    )
    statuses = sorted([first.status, second.status])
    assert statuses in ([201, 201], [201, 409]), statuses
    created = first if first.status == 201 else second
    replay = await bank.post("/api/v1/cases", payload, idempotency_key=key)
    assert replay.status == 201 and replay.body == created.body
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other_body = registration(amount="700000.00")
    assert (await bank.post("/api/v1/cases", other_body, idempotency_key=key)).status == 422
    cases = (await bank.get("/api/v1/cases")).json()["cases"]
    assert len(cases) == 1
    missing = await bank.request("POST", "/api/v1/cases", body=b"{}", content_type="application/json")
    assert missing.status == 400


async def test_a_case_waits_while_its_bank_is_down_and_completes_when_it_returns(stage: Stage) -> None:
    simulator = stage.parties.banks["psbc-dg"]
    await simulator.stop()
    bank = stage.bank("psbc-dg")
    case = (await bank.post("/api/v1/cases", registration())).json()
    await asyncio.sleep(1.0)
    waiting = (await bank.get(f"/api/v1/cases/{case['id']}")).json()
    assert waiting["tracks"]["bank"]["status"] == "pending"
    await simulator.start()
    await wait_for(stage, "psbc-dg", case["id"], lambda c: c["tracks"]["bank"]["status"] == "passed")
    assert simulator.ledger.effects_applied >= 1, "the accepted notice reached the bank once it was back"


async def test_a_transfer_cannot_be_registered_before_its_taxes_are_paid(stage: Stage) -> None:
    bank = stage.bank("boc-dg")
    transfer = builders.transfer(new_mortgage=terms("BOC-DK-2026-2001", "1500000.00"), utilities=[])
    case = (await bank.post("/api/v1/cases", submission(transfer, "东城支行", "柜员0303"))).json()
    examiner, senior, registrar = [await stage.staff(u) for u in ("examiner-a", "senior-b", "registrar-c")]
    path = f"/backoffice/api/v1/cases/{case['id']}"
    assert (await examiner.post(path + "/review", {"stage": "first"})).status == 200
    assert (await senior.post(path + "/review", {"stage": "second"})).status == 200
    await wait_for(stage, "boc-dg", case["id"], lambda c: c["tracks"]["tax"]["status"] == "assessed")
    refused = await registrar.post(path + "/register")
    assert refused.status == 409
    assert refused.json()["code"] in ("conflict", "rule_violation")
    db = await stage.database()  # the refused attempt is on the audit log: who, which action, why
    try:
        async with db.engine.connect() as conn:
            audited = (
                await conn.execute(
                    text("SELECT actor, subject, details FROM audit_log WHERE action = 'request.refused'")
                )
            ).all()
    finally:
        await db.dispose()
    assert [(actor, subject) for actor, subject, _ in audited] == [
        ("user:registrar-c", "POST /backoffice/api/v1/cases/{case_id}/register")
    ]
    assessment = (await bank.get(f"/api/v1/cases/{case['id']}")).json()["tracks"]["tax"]["detail"][
        "assessment"
    ]
    assert stage.parties.tax is not None
    stage.parties.tax.pay_at_counter(assessment["assessment_id"])
    await stage.parties.tax.post_payment_cleared(assessment["assessment_id"])
    await wait_for(stage, "boc-dg", case["id"], lambda c: c["state"] == "approved")
    assert (await registrar.post(path + "/register")).status == 200


async def test_materials_are_refused_by_content_with_reasons(stage: Stage) -> None:
    bank = stage.bank("psbc-dg")
    payload = registration()
    payload["materials"] = [
        {
            "name": "合同.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(b"MZ\x90\x00").decode(),
        }
    ]
    reply = await bank.post("/api/v1/cases", payload)
    assert reply.status == 422
    problem = reply.json()
    assert problem["errors"][0]["field"] == "materials.0.content"
    assert problem["errors"][0]["reason_zh"].startswith("材料“合同.pdf”")


async def test_unit_routes_refuse_a_malformed_unit_code_with_its_reason(stage: Stage) -> None:
    bank = stage.bank("psbc-dg")
    for path in ("/api/v1/units/{}", "/api/v1/units/{}/utility-accounts"):
        reply = await bank.get(path.format("441900003001GB00000F00010101"))  # 宗地顺序号 00000
        assert reply.status == 422, path
        assert reply.json()["errors"][0]["reason_zh"]
    known = await bank.get(f"/api/v1/units/{builders.UNITS.single_owner}")
    assert known.status == 200 and known.json()["owners"] == ["张*"]
