"""The demo story: real cases walked over HTTP with real signatures, as counters and examiners would.

A mortgage registration approved by two examiners and registered; a release completed at once; a
second-hand transfer with the seller's mortgage released and a new one granted, through the tax bureau,
both banks and the four utilities; once the building's first registration is done, the buyer's new-home
transfer combined with her bank's 按揭转抵押 (the conversion alone, before she owns the flat, is refused); a
contract filing; and a case refused with its reason.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.client import BackofficeClient, GatewayClient, Reply
from gateway.domain.cases import (
    ContractFilingInput,
    MortgageRegistrationInput,
    MortgageReleaseInput,
    MortgageTerms,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
    UtilityAccount,
)
from gateway.domain.parties import CoOwnership, Owner
from gateway.seed import (
    CERT_LI_WANG,
    CERT_ZHANG,
    CERT_ZHAO,
    CHEN_JING,
    DEVELOPER,
    LI_NA,
    LIU_YANG,
    PRE_MORTGAGE_CONTRACT,
    PRESALE_CONTRACT,
    PROOF_LI_WANG_ICBC,
    PROOF_SUN_DGB,
    UNITS,
    WANG_QIANG,
    ZHANG_WEI,
    ZHAO_MIN,
)
from sandbox.pdf import SAMPLE_PDF
from sandbox.stage import UTILITY_ACCOUNTS, Stage

__all__ = ["SAMPLE_PDF", "Outcome", "walk"]

Progress = Callable[[str], None]


@dataclass
class Outcome:
    """One case of the walk, as the summary table shows it."""

    title: str
    kind: str
    bank: str
    case_id: str = ""
    state: str = ""
    seconds_to_certificate: float | None = None
    within_one_hour: bool | None = None
    certificates: list[str] = field(default_factory=list)
    utilities: str = ""
    refusal: str = ""
    expected_state: str = "completed"

    @property
    def as_expected(self) -> bool:
        return self.state == self.expected_state


def terms(loan: str, amount: str, kind: str = "general") -> MortgageTerms:
    return MortgageTerms.model_validate(
        {
            "mortgage_kind": kind,
            "amount": Decimal(amount),
            "term_start": date(2026, 12, 1),
            "term_end": date(2046, 12, 1),
            "loan_contract_no": loan,
            "mortgage_contract_no": loan.replace("-DK-", "-DY-"),
        }
    )


def submission(case: Any, branch: str, clerk: str, *, with_material: bool = True) -> dict[str, Any]:
    materials = (
        [
            {
                "name": "抵押合同.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(SAMPLE_PDF).decode(),
            }
        ]
        if with_material
        else []
    )
    return {"branch": branch, "clerk": clerk, "case": case.model_dump(mode="json"), "materials": materials}


class Walker:
    def __init__(self, stage: Stage, progress: Progress, timeout: float) -> None:
        self.stage = stage
        self.say = progress
        self.timeout = timeout
        self.staff: dict[str, BackofficeClient] = {}

    async def person(self, username: str) -> BackofficeClient:
        if username not in self.staff:
            self.staff[username] = await self.stage.staff(username)
        return self.staff[username]

    async def submit(self, bank: GatewayClient, payload: dict[str, Any]) -> dict[str, Any]:
        reply = await bank.post("/api/v1/cases", payload)
        if reply.status != 201:
            raise RuntimeError(f"submission refused: {reply.status} {reply.body.decode()[:400]}")
        case: dict[str, Any] = reply.json()
        return case

    async def until(
        self, bank: GatewayClient, case_id: str, done: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            reply = await bank.get(f"/api/v1/cases/{case_id}")
            case: dict[str, Any] = reply.json()
            if done(case):
                return case
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"case {case_id} did not reach '{what}' in {self.timeout} s: now {case['state']} "
                    f"{case['reason']} {case['tracks']}"
                )
            await asyncio.sleep(0.1)

    async def act(self, username: str, path: str, payload: dict[str, Any] | None = None) -> Reply:
        reply = await (await self.person(username)).post(path, payload)
        if reply.status >= 300:
            raise RuntimeError(f"{username} {path}: {reply.status} {reply.body.decode()[:400]}")
        return reply

    async def review_and_register(self, case_id: str) -> None:
        base = f"/backoffice/api/v1/cases/{case_id}"
        await self.act("examiner-a", base + "/review", {"stage": "first"})
        self.say("   初审通过 (examiner-a)")
        await self.act("senior-b", base + "/review", {"stage": "second"})
        self.say("   复审/核定通过 (senior-b)")

    async def register(self, case_id: str) -> None:
        await self.act("registrar-c", f"/backoffice/api/v1/cases/{case_id}/register")
        self.say("   登簿 (registrar-c)")

    async def utilities_done(self, bank: GatewayClient, case_id: str) -> str:
        """Wait for the providers' answers; a summary such as "4/4 已办结"."""
        deadline = time.monotonic() + self.timeout
        while True:
            view = (await bank.get(f"/api/v1/cases/{case_id}/utilities")).json()
            finished = view["all_done"] or view["needs_citizen"] or view["dead"]
            if finished or time.monotonic() > deadline:
                done = sum(1 for j in view["jobs"] if j["status"] == "done")
                stuck = "" if view["all_done"] else f"（{view['needs_citizen'] or view['dead'] or '未完'}）"
                return f"{done}/{len(view['jobs'])} 已办结{stuck}"
            await asyncio.sleep(0.1)

    def finish(self, outcome: Outcome, case: dict[str, Any], certificates: list[str]) -> Outcome:
        outcome.case_id = case["id"]
        outcome.state = case["state"]
        outcome.seconds_to_certificate = case.get("seconds_to_certificate")
        outcome.within_one_hour = case.get("within_one_hour")
        outcome.certificates = certificates
        return outcome


def tracks_passed(*names: str) -> Callable[[dict[str, Any]], bool]:
    return lambda case: all(case["tracks"].get(n, {}).get("status") == "passed" for n in names)


def state_is(*states: str) -> Callable[[dict[str, Any]], bool]:
    return lambda case: case["state"] in states


async def numbers_of(bank: GatewayClient, case_id: str) -> list[str]:
    case = (await bank.get(f"/api/v1/cases/{case_id}")).json()
    return [c["number"] for c in case["certificates"]]


async def mortgage_registration(w: Walker) -> Outcome:
    outcome = Outcome("抵押权首次登记（两级审核）", "mortgage_registration", "psbc-dg")
    bank = w.stage.bank("psbc-dg")
    case_input = MortgageRegistrationInput(
        unit_code=UNITS.single_owner,
        ownership_certificate_number=CERT_ZHANG,
        mortgagors=[ZHANG_WEI],
        mortgage=terms("PSBC-DK-2026-1127", "600000.00"),
    )
    case = await w.submit(bank, submission(case_input, "松山湖支行", "柜员0101"))
    w.say(f"① {outcome.title} — 邮储银行受理 {case['id'][:8]}…，抵押顺位 {case['rank']}")
    await w.until(bank, case["id"], tracks_passed("bank"), "bank confirmed")
    w.say("   银行核心系统核验借款、抵押合同")
    await w.review_and_register(case["id"])
    await w.register(case["id"])
    case = await w.until(bank, case["id"], state_is("completed"), "completed")
    w.say(f"   缮证、签章并送达银行，办结（{case['seconds_to_certificate']:.1f} 秒出证）")
    return w.finish(outcome, case, await numbers_of(bank, case["id"]))


async def mortgage_release(w: Walker) -> Outcome:
    outcome = Outcome("抵押权注销（即办）", "mortgage_release", "dgb")
    bank = w.stage.bank("dgb")
    case = await w.submit(
        bank,
        submission(
            MortgageReleaseInput(unit_code=UNITS.mortgaged_to_dgb, proof_number=PROOF_SUN_DGB),
            "莞城支行",
            "柜员0202",
        ),
    )
    w.say(
        f"② {outcome.title} — 东莞银行申请，规则全部通过，当即{case['state_zh']}；原证明 {PROOF_SUN_DGB} 已注销"
    )
    return w.finish(outcome, case, [])


async def transfer(w: Walker) -> Outcome:
    outcome = Outcome("二手房转移+注销+抵押（房税银、水电气网联动）", "transfer", "boc-dg")
    bank = w.stage.bank("boc-dg")
    case_input = TransferInput(
        unit_code=UNITS.co_owned_mortgaged,
        ownership_certificate_number=CERT_LI_WANG,
        sellers=[LI_NA, WANG_QIANG],
        buyers=[Owner(party=LIU_YANG)],
        co_ownership=CoOwnership.SOLE,
        price=Decimal("2350000.00"),
        contract_no="WQ-2026-112233",
        contract_date=date(2026, 11, 20),
        seller_acquired_on=date(2018, 5, 20),
        seller_only_home=True,
        buyer_home_count=1,
        release_proof_numbers=[PROOF_LI_WANG_ICBC],
        new_mortgage=terms("BOC-DK-2026-2001", "1500000.00"),
        utilities=[
            UtilityAccount.model_validate({"provider": f"dg-{s}", "service": s, "account_no": a})
            for s, a in UTILITY_ACCOUNTS.items()
        ],
    )
    case = await w.submit(bank, submission(case_input, "东城支行", "柜员0303"))
    w.say(f"③ {outcome.title} — 中国银行受理 {case['id'][:8]}…，并联：登记审核、税务、买卖双方银行")
    case = await w.until(
        bank, case["id"], lambda c: c["tracks"]["tax"]["status"] in ("assessed", "passed"), "tax assessed"
    )
    assessment = case["tracks"]["tax"]["detail"]["assessment"]
    w.say(f"   税务核定应纳税额 {assessment['total']} 元（契税、增值税、个税）")
    bureau = w.stage.parties.tax
    assert bureau is not None
    bureau.pay_at_counter(assessment["assessment_id"])  # the citizen pays at the bank counter
    await bureau.post_payment_cleared(assessment["assessment_id"])
    await w.until(bank, case["id"], tracks_passed("tax", "bank"), "tax cleared and banks confirmed")
    w.say("   完税回调已到；工商银行确认原贷款结清，中国银行确认新贷款合同")
    await w.review_and_register(case["id"])
    await w.register(case["id"])
    case = await w.until(bank, case["id"], state_is("completed"), "completed")
    w.say(f"   缮证：新不动产权证书与抵押登记证明已签发送达（{case['seconds_to_certificate']:.1f} 秒）")
    utilities = await w.utilities_done(bank, case["id"])
    outcome.utilities = utilities
    w.say(f"   水电气网联动过户：{utilities}")
    return w.finish(outcome, case, await numbers_of(bank, case["id"]))


async def presale_conversion(w: Walker) -> Outcome:
    """首次登记, then 陈静's new-home transfer and CCB's 按揭转抵押 in one case (转移 + 抵押 合并).

    The conversion alone is refused first: the 预抵押 becomes a mortgage only on the buyer's own flat.
    """
    outcome = Outcome("新房转移+按揭转抵押（首次登记后合并办理）", "transfer", "ccb-dg")
    await w.act(
        "registrar-c",
        f"/backoffice/api/v1/units/{UNITS.presale}/first-registration",
        {"developer": DEVELOPER.code},
    )
    w.say("④ 松湖壹号2栋完成首次登记（registrar-c）")
    bank = w.stage.bank("ccb-dg")
    mortgage = terms("CCB-DK-2025-0606", "800000.00")
    alone = PresaleMortgageConversionInput(
        unit_code=UNITS.presale,
        buyers=[CHEN_JING],
        pre_mortgage_contract_no=PRE_MORTGAGE_CONTRACT,
        mortgage=mortgage,
    )
    reply = await bank.post("/api/v1/cases", submission(alone, "南城支行", "柜员0404"))
    if reply.status != 409:
        raise RuntimeError(f"a conversion before the transfer was not refused: {reply.status}")
    reasons = "；".join(r["reason_zh"] for r in reply.json().get("rules", []))
    w.say(f"   按揭转抵押单独申请 — 409：{reasons}")
    case_input = TransferInput(
        unit_code=UNITS.presale,
        transfer_type=TransferType.NEW_HOME,
        sellers=[DEVELOPER.as_party()],
        buyers=[Owner(party=CHEN_JING)],
        co_ownership=CoOwnership.SOLE,
        price=Decimal("1500000.00"),
        contract_no=PRESALE_CONTRACT,
        contract_date=date(2025, 6, 6),
        buyer_home_count=1,
        new_mortgage=mortgage,
    )
    case = await w.submit(bank, submission(case_input, "南城支行", "柜员0404"))
    w.say(f"   {outcome.title} — 建设银行受理 {case['id'][:8]}…，并联：登记审核、税务、银行")
    case = await w.until(
        bank, case["id"], lambda c: c["tracks"]["tax"]["status"] in ("assessed", "passed"), "tax assessed"
    )
    assessment = case["tracks"]["tax"]["detail"]["assessment"]
    bureau = w.stage.parties.tax
    assert bureau is not None
    bureau.pay_at_counter(assessment["assessment_id"])
    await bureau.post_payment_cleared(assessment["assessment_id"])
    await w.until(bank, case["id"], tracks_passed("tax", "bank"), "tax cleared and bank confirmed")
    w.say(f"   完税（{assessment['total']} 元）；建设银行确认借款、抵押合同")
    await w.review_and_register(case["id"])
    await w.register(case["id"])
    case = await w.until(bank, case["id"], state_is("completed"), "completed")
    w.say("   陈静取得不动产权证书，建设银行取得抵押登记证明；预告登记、预抵押随之注销")
    return w.finish(outcome, case, await numbers_of(bank, case["id"]))


async def contract_filing(w: Walker) -> Outcome:
    outcome = Outcome("商品房买卖合同备案（即办）", "contract_filing", "dgrcb")
    bank = w.stage.bank("dgrcb")
    case_input = ContractFilingInput(
        unit_code=UNITS.for_sale,
        contract_no="WQ-XF-2026-0001",
        developer=DEVELOPER,
        buyers=[LIU_YANG],
        price=Decimal("1980000.00"),
        signed_on=date(2026, 11, 26),
    )
    case = await w.submit(bank, submission(case_input, "松山湖支行", "柜员0505", with_material=False))
    w.say(f"⑤ {outcome.title} — 东莞农商银行代开发企业提交，当即{case['state_zh']}")
    return w.finish(outcome, case, [])


async def refused(w: Walker) -> Outcome:
    outcome = Outcome(
        "抵押登记（已查封，不予受理）", "mortgage_registration", "cmb-dg", expected_state="refused"
    )
    bank = w.stage.bank("cmb-dg")
    case_input = MortgageRegistrationInput(
        unit_code=UNITS.seized,
        ownership_certificate_number=CERT_ZHAO,
        mortgagors=[ZHAO_MIN],
        mortgage=terms("CMB-DK-2026-0001", "300000.00"),
    )
    reply = await bank.post("/api/v1/cases", submission(case_input, "东城支行", "柜员0606"))
    problem = reply.json()
    reasons = "；".join(r["reason_zh"] for r in problem.get("rules", []))
    outcome.state = "refused" if reply.status == 409 else f"HTTP {reply.status}"
    outcome.refusal = reasons
    w.say(f"⑥ {outcome.title} — {reply.status}：{reasons}")
    return outcome


STEPS: list[Callable[[Walker], Awaitable[Outcome]]] = [
    mortgage_registration,
    mortgage_release,
    transfer,
    presale_conversion,
    contract_filing,
    refused,
]


async def walk(stage: Stage, progress: Progress = print, patience: float = 60.0) -> list[Outcome]:
    """Every step in order; `patience` is how long one case may take to reach each awaited state."""
    walker = Walker(stage, progress, patience)
    return [await step(walker) for step in STEPS]
