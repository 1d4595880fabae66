"""The register's pre-registration and rank paths through the services, on SQLite and PostgreSQL:
按揭转抵押 only once the buyer owns, a third party's 预告登记 and its consent, 预告 extinguished by the
transfer that realises it, and ranks without holes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from gateway.domain.cases import CaseInput
from gateway.domain.materials import MaterialKind
from gateway.domain.parties import Owner
from gateway.domain.register import (
    Entry,
    EntryKind,
    MortgageFacts,
    OwnershipFacts,
    PreRegistrationFacts,
    PreRegistrationKind,
)
from gateway.domain.workflow import Case, CaseState, Track
from gateway.errors import RuleViolation
from gateway.seed import (
    CERT_LI_WANG,
    CERT_WU,
    CHEN_JING,
    DEVELOPER,
    LI_NA,
    LIU_YANG,
    SALE_CONTRACT_WU_LIU,
    UNITS,
    WANG_QIANG,
    WU_FANG,
    ZHAO_MIN,
)
from gateway.services import cases, review, tracks
from gateway.services.context import ServiceContext
from gateway.services.materials import MaterialUpload
from gateway.services.register_admin import record_first_registration
from tests.services import builders

PDF = b"%PDF-1.4\n%%EOF\n"


def consent() -> MaterialUpload:
    return MaterialUpload(
        "预告登记权利人同意书.pdf", "application/pdf", PDF, MaterialKind.PRE_REGISTRANT_CONSENT
    )


async def entries(ctx: ServiceContext, unit_code: str) -> list[Entry]:
    async with ctx.reading() as store:
        return await store.entries_of(unit_code)


def open_of(found: list[Entry], kind: EntryKind) -> list[Entry]:
    return [e for e in found if e.kind is kind and e.is_open]


def failed(exc: pytest.ExceptionInfo[RuleViolation]) -> dict[str, tuple[str, str]]:
    return {name: (zh, en) for name, zh, en in exc.value.failures}


async def approve_and_register(ctx: ServiceContext, case: Case) -> Case:
    """Every track passes (banks confirm, taxes paid, two examiners), then 登簿."""
    awaiting = case.tracks[Track.BANK].detail["awaiting"] if Track.BANK in case.tracks else []
    for item in awaiting:
        await tracks.record_bank_result(ctx, case.id, item, confirmed=True, actor="bank:test")
    if Track.TAX in case.tracks:
        await tracks.record_tax_assessment(
            ctx, case.id, {"assessment_id": "A1", "total": "1.00"}, actor="tax"
        )
        await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    return await review.register(ctx, "registrar-c", case.id)


async def submit(ctx: ServiceContext, bank: str, case_input: CaseInput, **kw: Any) -> Case:
    return await cases.submit(ctx, bank, "支行", "柜员", case_input, **kw)


# --- defect 1: 按揭转抵押 only once the buyer owns the flat ---------------------------------------------


async def test_conversion_before_the_buyer_owns_is_refused_and_the_pre_registrations_stay_open(
    ctx: ServiceContext,
) -> None:
    await record_first_registration(ctx, "registrar-c", UNITS.presale, DEVELOPER)
    with pytest.raises(RuleViolation) as exc:
        await submit(ctx, "ccb-dg", builders.conversion())
    reasons = failed(exc)
    assert set(reasons) == {"buyers_are_owners"}
    zh, en = reasons["buyers_are_owners"]
    assert "转移登记" in zh and "transfer" in en

    found = await entries(ctx, UNITS.presale)
    [owner] = open_of(found, EntryKind.OWNERSHIP)
    assert isinstance(owner.facts, OwnershipFacts) and owner.facts.parties == [DEVELOPER.as_party()]
    assert len(open_of(found, EntryKind.PRE_REGISTRATION)) == 2, "both pre-registrations stay open"
    assert not open_of(found, EntryKind.MORTGAGE)


async def test_new_home_transfer_combined_with_the_conversion_ends_both_pre_registrations(
    ctx: ServiceContext,
) -> None:
    await record_first_registration(ctx, "registrar-c", UNITS.presale, DEVELOPER)
    case = await submit(ctx, "ccb-dg", builders.new_home_transfer())
    case = await approve_and_register(ctx, case)
    assert case.state is CaseState.REGISTERED

    found = await entries(ctx, UNITS.presale)
    [owner] = open_of(found, EntryKind.OWNERSHIP)
    assert isinstance(owner.facts, OwnershipFacts) and owner.facts.parties == [CHEN_JING]
    [mortgage] = open_of(found, EntryKind.MORTGAGE)
    assert isinstance(mortgage.facts, MortgageFacts)
    assert mortgage.facts.mortgagee.code == "ccb-dg" and mortgage.facts.mortgagors == [CHEN_JING]
    pre = [e for e in found if e.kind is EntryKind.PRE_REGISTRATION]
    assert len(pre) == 2 and all(e.closed_by_case == case.id for e in pre)


async def test_conversion_after_the_transfer_registers_at_once_and_closes_the_pre_mortgage(
    ctx: ServiceContext,
) -> None:
    await record_first_registration(ctx, "registrar-c", UNITS.presale, DEVELOPER)
    transfer = await submit(ctx, "boc-dg", builders.new_home_transfer(new_mortgage=None))
    transfer = await approve_and_register(ctx, transfer)
    found = await entries(ctx, UNITS.presale)
    [pre_mortgage] = open_of(found, EntryKind.PRE_REGISTRATION)
    assert isinstance(pre_mortgage.facts, PreRegistrationFacts)
    assert pre_mortgage.facts.pre_kind is PreRegistrationKind.MORTGAGE, "the 预抵押 waits for its conversion"

    conversion = await submit(ctx, "ccb-dg", builders.conversion())
    assert conversion.state is CaseState.REGISTERED
    found = await entries(ctx, UNITS.presale)
    assert not open_of(found, EntryKind.PRE_REGISTRATION)
    assert next(e for e in found if e.id == pre_mortgage.id).closed_by_case == conversion.id
    [mortgage] = open_of(found, EntryKind.MORTGAGE)
    assert isinstance(mortgage.facts, MortgageFacts) and mortgage.facts.mortgagors == [CHEN_JING]


async def test_a_conversion_applied_for_after_the_pre_mortgage_lapsed_is_refused(ctx: ServiceContext) -> None:
    await record_first_registration(ctx, "registrar-c", UNITS.presale, DEVELOPER)
    await approve_and_register(
        ctx, await submit(ctx, "boc-dg", builders.new_home_transfer(new_mortgage=None))
    )
    later = ctx.clock() + timedelta(days=100)  # past the 90 days of 民法典 §221 from the 首次登记
    ctx.clock = lambda: later
    with pytest.raises(RuleViolation) as exc:
        await submit(ctx, "ccb-dg", builders.conversion())
    assert set(failed(exc)) == {"pre_mortgage_matches"}
    assert "失效" in failed(exc)["pre_mortgage_matches"][0]


# --- defect 3: a third party's 预告登记 needs its holder's written consent -------------------------------


def sale_to(buyer: Any, **kw: Any) -> CaseInput:
    return builders.transfer(
        unit_code=UNITS.pre_registered_sale,
        ownership_certificate_number=CERT_WU,
        sellers=[WU_FANG],
        buyers=[Owner(party=buyer)],
        contract_no=SALE_CONTRACT_WU_LIU,
        release_proof_numbers=[],
        new_mortgage=None,
        utilities=[],
        **kw,
    )


def mortgage_by_owner() -> CaseInput:
    return builders.mortgage_registration(
        unit_code=UNITS.pre_registered_sale, ownership_certificate_number=CERT_WU, mortgagors=[WU_FANG]
    )


@pytest.mark.parametrize("disposal", ["mortgage", "transfer to another buyer"])
async def test_a_disposal_against_a_third_partys_pre_registration_needs_its_written_consent(
    ctx: ServiceContext, disposal: str
) -> None:
    case_input = mortgage_by_owner() if disposal == "mortgage" else sale_to(ZHAO_MIN)
    with pytest.raises(RuleViolation) as exc:
        await submit(ctx, "boc-dg", case_input)
    reasons = failed(exc)
    assert set(reasons) == {"pre_registrations_consented"}
    zh, en = reasons["pre_registrations_consented"]
    assert "书面同意" in zh and "刘*" in zh and "consent" in en
    async with ctx.reading() as store:
        assert await store.count_cases() == 0

    case = await submit(ctx, "boc-dg", case_input, materials=[consent()])
    rule = next(r for r in case.rule_results if r["name"] == "pre_registrations_consented")
    assert rule["passed"] and "书面同意" in rule["reason_zh"], "the consent is recorded with the rule"
    async with ctx.reading() as store:
        [material] = await store.materials(case.id)
    assert material.kind is MaterialKind.PRE_REGISTRANT_CONSENT


# --- defect 4: the transfer to the pre-registered buyer extinguishes the 预告登记 --------------------------


async def test_second_hand_transfer_to_the_pre_registered_buyer_closes_the_pre_registration(
    ctx: ServiceContext,
) -> None:
    case = await submit(ctx, "boc-dg", sale_to(LIU_YANG))
    case = await approve_and_register(ctx, case)
    found = await entries(ctx, UNITS.pre_registered_sale)
    [owner] = open_of(found, EntryKind.OWNERSHIP)
    assert isinstance(owner.facts, OwnershipFacts) and owner.facts.parties == [LIU_YANG]
    assert not open_of(found, EntryKind.PRE_REGISTRATION)
    [pre] = [e for e in found if e.kind is EntryKind.PRE_REGISTRATION]
    assert pre.closed_by_case == case.id


# --- defect 7: ranks are the order of the mortgages on the register --------------------------------------


async def test_a_withdrawn_application_leaves_no_hole_in_the_ranks(ctx: ServiceContext) -> None:
    mortgaged = UNITS.co_owned_mortgaged  # icbc-dg's mortgage ranks first
    first = await submit(ctx, "boc-dg", _second_mortgage("BOC-DK-2026-0001"))
    second = await submit(ctx, "ccb-dg", _second_mortgage("CCB-DK-2026-0002"))
    await cases.withdraw(ctx, "boc-dg", first.id, "客户取消贷款")
    await approve_and_register(ctx, second)

    async with ctx.reading() as store:
        unit = await store.lock_unit(mortgaged)
        view = await store.view(unit)
    assert [view.mortgage_rank(e) for e in view.mortgages] == [1, 2]
    assert [e.facts.mortgagee.code for e in view.mortgages if isinstance(e.facts, MortgageFacts)] == [
        "icbc-dg",
        "ccb-dg",
    ]


def _second_mortgage(loan: str) -> CaseInput:
    return builders.mortgage_registration(
        unit_code=UNITS.co_owned_mortgaged,
        ownership_certificate_number=CERT_LI_WANG,
        mortgagors=[LI_NA, WANG_QIANG],
        mortgage=builders.terms(loan),
    )


async def test_the_first_registration_dates_the_unit(ctx: ServiceContext) -> None:
    await record_first_registration(ctx, "registrar-c", UNITS.presale, DEVELOPER)
    async with ctx.reading() as store:
        unit = await store.lock_unit(UNITS.presale)
    assert unit.first_registered and isinstance(unit.first_registered_on, date)
