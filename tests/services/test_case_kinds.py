"""Every case kind through the service layer, on SQLite and PostgreSQL: happy paths and failing rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.infra import OutboxRow
from gateway.domain.register import EntryKind, MortgageFacts, OwnershipFacts
from gateway.domain.workflow import CaseState, Track, TrackStatus
from gateway.errors import Conflict, Forbidden, RuleViolation
from gateway.privacy import outbox_payload
from gateway.seed import DEVELOPER, LIU_YANG, PROOF_LI_WANG_ICBC, PROOF_SUN_DGB, UNITS, ZHAO_MIN
from gateway.services import cases, kept_mortgages, review, tracks
from gateway.services.context import ServiceContext
from gateway.services.register_admin import record_first_registration
from tests.services import builders


async def outbox(ctx: ServiceContext, case_id: str) -> list[OutboxRow]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(OutboxRow).where(OutboxRow.case_id == case_id))).scalars())


async def entries(ctx: ServiceContext, unit_code: str) -> list[Any]:
    async with ctx.reading() as store:
        return await store.entries_of(unit_code)


async def certificate(ctx: ServiceContext, number: str) -> CertificateRow:
    async with ctx.db.session() as s:
        return (await s.execute(select(CertificateRow).where(CertificateRow.number == number))).scalar_one()


def failed_rules(exc: pytest.ExceptionInfo[RuleViolation]) -> set[str]:
    return {name for name, _, _ in exc.value.failures}


async def test_mortgage_registration_goes_through_review_bank_and_registration(ctx: ServiceContext) -> None:
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    assert case.state is CaseState.UNDER_REVIEW
    assert set(case.tracks) == {Track.REVIEW, Track.BANK}
    assert case.rank == 1
    assert {r.job for r in await outbox(ctx, case.id)} == {"bank.notify", "bank.confirm_contracts"}

    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, "examiner-a", case.id, "first")
    with pytest.raises(Forbidden):
        await review.review(ctx, "examiner-a", case.id, "second")
    case = await review.review(ctx, "examiner-b", case.id, "second")
    assert case.state is CaseState.APPROVED

    case = await review.register(ctx, "registrar-c", case.id)
    assert case.state is CaseState.REGISTERED
    mortgage = next(e for e in await entries(ctx, UNITS.single_owner) if e.kind is EntryKind.MORTGAGE)
    assert isinstance(mortgage.facts, MortgageFacts)
    assert mortgage.rank == 1 and mortgage.facts.mortgagee.code == "boc-dg"
    assert mortgage.opened_by_case == case.id
    year = case.registered_at.year if case.registered_at else 0
    assert mortgage.certificate_number == f"粤（{year}）东莞市不动产证明第0000001号"
    jobs = {r.job for r in await outbox(ctx, case.id)}
    assert {"certificate.issue", "bank.release_loan"} <= jobs
    async with ctx.reading() as store:
        history = [(t.from_state, t.to_state, t.actor) for t in await store.history(case.id)]
    assert history[0] == (None, "received", "bank:boc-dg/clerk-01")
    assert ("approved", "registered", "registrar-c") in history


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"mortgagors": [LIU_YANG]}, "mortgagors_are_owners"),
        (
            {"ownership_certificate_number": "粤（2019）东莞市不动产权第0099999号"},
            "ownership_certificate_current",
        ),
        ({"unit_code": UNITS.seized, "mortgagors": [ZHAO_MIN]}, "unit_not_seized"),
        ({"unit_code": UNITS.with_objection}, "no_objection"),
    ],
)
async def test_mortgage_registration_refused_with_the_failing_rule(
    ctx: ServiceContext, change: dict[str, Any], rule: str
) -> None:
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(ctx, "boc-dg", "b", "c", builders.mortgage_registration(**change))
    assert rule in failed_rules(exc)
    assert all(zh and en for name, zh, en in exc.value.failures)
    async with ctx.reading() as store:
        assert await store.count_cases() == 0


async def test_release_by_the_mortgagee_of_record_completes_at_once(ctx: ServiceContext) -> None:
    case = await cases.submit(ctx, "dgb", "莞城支行", "clerk-02", builders.mortgage_release())
    assert case.state is CaseState.COMPLETED
    mortgage = next(e for e in await entries(ctx, UNITS.mortgaged_to_dgb) if e.kind is EntryKind.MORTGAGE)
    assert mortgage.closed_by_case == case.id
    assert (await certificate(ctx, PROOF_SUN_DGB)).status == "cancelled"


async def test_release_by_another_bank_is_refused(ctx: ServiceContext) -> None:
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(ctx, "icbc-dg", "b", "c", builders.mortgage_release())
    assert failed_rules(exc) == {"releaser_is_mortgagee"}
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(ctx, "dgb", "b", "c", builders.mortgage_release(proof_number=PROOF_LI_WANG_ICBC))
    assert failed_rules(exc) == {"mortgage_of_record"}


async def _approve_transfer(ctx: ServiceContext, case_id: str, *, pay_tax: bool) -> None:
    await tracks.record_bank_result(ctx, case_id, "contracts", confirmed=True, actor="bank:boc-dg")
    await tracks.record_bank_result(
        ctx, case_id, f"settlement:{PROOF_LI_WANG_ICBC}", confirmed=True, actor="bank:icbc-dg"
    )
    await tracks.record_tax_assessment(
        ctx, case_id, {"assessment_id": "A1", "total": "23500.00"}, actor="tax"
    )
    await review.review(ctx, "examiner-a", case_id, "first")
    await review.review(ctx, "examiner-b", case_id, "second")
    if pay_tax:
        await tracks.record_tax_cleared(ctx, case_id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")


async def test_transfer_with_release_and_new_mortgage(ctx: ServiceContext) -> None:
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.transfer())
    assert set(case.tracks) == {Track.REVIEW, Track.TAX, Track.BANK}
    assert case.rank == 1, "the seller's mortgage is released in this case, so the new one ranks first"
    targets = {(r.job, r.target) for r in await outbox(ctx, case.id)}
    assert {
        ("tax.assess", "tax"),
        ("bank.confirm_contracts", "boc-dg"),
        ("bank.confirm_settlement", "icbc-dg"),
    } <= targets

    await _approve_transfer(ctx, case.id, pay_tax=False)
    case = await cases.get_case(ctx, case.id)
    assert case.state is CaseState.UNDER_REVIEW and case.tracks[Track.TAX].status is TrackStatus.ASSESSED
    with pytest.raises(Conflict):
        await review.register(ctx, "registrar-c", case.id)  # taxes unpaid: not approved, no 登簿

    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    case = await review.register(ctx, "registrar-c", case.id)
    assert case.state is CaseState.REGISTERED

    unit_entries = await entries(ctx, UNITS.co_owned_mortgaged)
    owners = [e for e in unit_entries if e.kind is EntryKind.OWNERSHIP and e.is_open]
    assert len(owners) == 1 and isinstance(owners[0].facts, OwnershipFacts)
    assert owners[0].facts.parties == [LIU_YANG]
    open_mortgages = [e for e in unit_entries if e.kind is EntryKind.MORTGAGE and e.is_open]
    assert [
        (m.facts.mortgagee.code, m.rank) for m in open_mortgages if isinstance(m.facts, MortgageFacts)
    ] == [("boc-dg", 1)]
    assert (await certificate(ctx, PROOF_LI_WANG_ICBC)).status == "cancelled"
    old_cert = next(
        e for e in unit_entries if e.kind is EntryKind.OWNERSHIP and not e.is_open
    ).certificate_number
    assert old_cert and (await certificate(ctx, old_cert)).status == "void"

    utility = [r for r in await outbox(ctx, case.id) if r.job == "utility.transfer"]
    assert {r.target for r in utility} == {"dg-water", "dg-power"}
    stored = utility[0].payload
    assert stored["certificate_number"] == owners[0].certificate_number
    assert LIU_YANG.id_number not in str(stored), "ID numbers are encrypted at rest in the outbox"
    revealed = ctx.protector.reveal(stored, outbox_payload(utility[0].id))
    assert revealed["buyers"][0]["id_number"] == LIU_YANG.id_number


async def test_a_kept_mortgage_waits_for_its_mortgagee_notice_or_consent(ctx: ServiceContext) -> None:
    """带押过户 (民法典 §406): a kept mortgage's mortgagee of record is told, or consents where agreed."""
    told = await cases.submit(
        ctx, "boc-dg", "b", "c", builders.transfer(release_proof_numbers=[], new_mortgage=None)
    )
    bank = told.tracks[Track.BANK]
    assert bank.detail["awaiting"] == [f"notice:{PROOF_LI_WANG_ICBC}"]
    kept = bank.detail["kept_mortgages"][PROOF_LI_WANG_ICBC]
    [notice] = [r for r in await outbox(ctx, told.id) if r.id == kept["notice_delivery"]]
    assert (notice.target, notice.payload["event"]) == ("icbc-dg", "mortgaged_unit_transferred")
    assert "第四百零六条" in notice.payload["reason"]

    await cases.withdraw(ctx, "boc-dg", told.id, "换一种办法")
    asked = await cases.submit(
        ctx,
        "boc-dg",
        "b",
        "c",
        builders.transfer(release_proof_numbers=[], new_mortgage=None, mortgagee_consent=True),
    )
    assert asked.tracks[Track.BANK].detail["awaiting"] == [f"consent:{PROOF_LI_WANG_ICBC}"]


async def test_a_mortgage_registered_after_acceptance_is_not_carried_over_untold(ctx: ServiceContext) -> None:
    """The rule at 登簿 reads the register then: a mortgage added after 受理 was never told of the transfer."""
    case = await cases.submit(
        ctx, "boc-dg", "b", "c", builders.transfer(release_proof_numbers=[], new_mortgage=None, utilities=[])
    )
    delivery = case.tracks[Track.BANK].detail["kept_mortgages"][PROOF_LI_WANG_ICBC]["notice_delivery"]
    await kept_mortgages.notice_delivered(ctx, case.id, PROOF_LI_WANG_ICBC, delivery)
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A1"}, actor="tax")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")

    # Meanwhile the sellers, still the owners, mortgage the flat to another bank.
    second = await cases.submit(
        ctx,
        "ccb-dg",
        "b",
        "c",
        builders.mortgage_registration(
            unit_code=UNITS.co_owned_mortgaged,
            ownership_certificate_number=builders.CERT_LI_WANG,
            mortgagors=[builders.LI_NA, builders.WANG_QIANG],
            mortgage=builders.terms("CCB-DK-2026-0909"),
        ),
    )
    await tracks.record_bank_result(ctx, second.id, "contracts", confirmed=True, actor="bank:ccb-dg")
    await review.review(ctx, "examiner-a", second.id, "first")
    await review.review(ctx, "examiner-b", second.id, "second")
    await review.register(ctx, "registrar-c", second.id)
    new_proof = next(
        e.certificate_number
        for e in await entries(ctx, UNITS.co_owned_mortgaged)
        if e.kind is EntryKind.MORTGAGE and e.opened_by_case == second.id
    )

    with pytest.raises(RuleViolation) as exc:
        await review.register(ctx, "registrar-c", case.id)
    assert failed_rules(exc) == {"mortgages_released_or_consented"}
    [(_, zh, en)] = exc.value.failures
    assert new_proof in zh and new_proof in en and PROOF_LI_WANG_ICBC not in zh


async def test_transfer_of_a_seized_unit_is_refused(ctx: ServiceContext) -> None:
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(
            ctx,
            "boc-dg",
            "b",
            "c",
            builders.transfer(
                unit_code=UNITS.seized,
                sellers=[ZHAO_MIN],
                ownership_certificate_number="x",
                release_proof_numbers=[],
                new_mortgage=None,
            ),
        )
    assert {"unit_not_seized", "ownership_certificate_current"} <= failed_rules(exc)


async def test_presale_conversion_waits_for_first_registration_and_the_transfer(ctx: ServiceContext) -> None:
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(ctx, "ccb-dg", "b", "c", builders.conversion())
    assert failed_rules(exc) == {"unit_first_registered", "buyers_are_owners"}

    await record_first_registration(ctx, "registrar-c", UNITS.presale, DEVELOPER)
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(ctx, "icbc-dg", "b", "c", builders.conversion())
    assert "pre_mortgage_matches" in failed_rules(exc)
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(ctx, "ccb-dg", "b", "c", builders.conversion())
    assert failed_rules(exc) == {"buyers_are_owners"}, "the buyer does not own the flat yet"


async def test_contract_filing_is_instant_and_only_once(ctx: ServiceContext) -> None:
    case = await cases.submit(ctx, "dg-dev", "网签系统", "api", builders.contract_filing())
    assert case.state is CaseState.COMPLETED
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(
            ctx, "dg-dev", "网签系统", "api", builders.contract_filing(contract_no="WQ-XF-2026-0002")
        )
    assert failed_rules(exc) == {"not_already_filed"}
    with pytest.raises(RuleViolation) as exc:
        await cases.submit(
            ctx, "dg-dev", "网签系统", "api", builders.contract_filing(unit_code=UNITS.single_owner)
        )
    assert "unit_for_sale" in failed_rules(exc)


async def test_material_request_resubmission_rejection_and_withdrawal(ctx: ServiceContext) -> None:
    case = await cases.submit(ctx, "boc-dg", "b", "c", builders.mortgage_registration())
    await review.review(ctx, "examiner-a", case.id, "first")
    case = await review.request_material(ctx, "examiner-b", case.id, "缺少抵押合同原件扫描件")
    assert case.state is CaseState.NEED_MORE_MATERIAL and case.reason == "缺少抵押合同原件扫描件"
    case = await cases.resubmit(ctx, "boc-dg", case.id, "已补充抵押合同")
    assert case.state is CaseState.UNDER_REVIEW
    assert case.tracks[Track.REVIEW].status is TrackStatus.PENDING, "after 补正 the review starts again"
    with pytest.raises(Exception, match="not found"):
        await cases.withdraw(ctx, "icbc-dg", case.id, "not mine")
    case = await cases.withdraw(ctx, "boc-dg", case.id, "客户取消贷款")
    assert case.state is CaseState.WITHDRAWN
    with pytest.raises(Conflict):
        await review.reject(ctx, "examiner-a", case.id, "too late")
