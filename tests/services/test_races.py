"""Races on one unit and failures between steps: the register stays consistent on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.infra import AuditRecord, OutboxRow
from gateway.db.tables.register import EntryRow
from gateway.domain.register import EntryKind
from gateway.domain.workflow import CaseState, Track, TrackStatus
from gateway.errors import RuleViolation
from gateway.services import cases, review, tracks
from gateway.services.context import ServiceContext
from gateway.services.register_admin import record_seizure
from gateway.services.store import Store
from tests.services import builders
from tests.services.conftest import make_context


async def _approved_mortgage(ctx: ServiceContext, bank: str, contract: str) -> str:
    case = await cases.submit(
        ctx, bank, "b", "c", builders.mortgage_registration(mortgage=builders.terms(contract))
    )
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor=f"bank:{bank}")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    return case.id


async def test_two_mortgages_at_once_get_ranks_one_and_two(ctx: ServiceContext) -> None:
    first, second = await asyncio.gather(
        cases.submit(
            ctx, "boc-dg", "b", "c", builders.mortgage_registration(mortgage=builders.terms("BOC-DK-1"))
        ),
        cases.submit(
            ctx, "icbc-dg", "b", "c", builders.mortgage_registration(mortgage=builders.terms("ICBC-DK-1"))
        ),
    )
    assert sorted([first.rank, second.rank]) == [1, 2]  # type: ignore[type-var]


async def test_concurrent_registrations_keep_acceptance_ranks_and_unique_numbers(ctx: ServiceContext) -> None:
    ids = [await _approved_mortgage(ctx, bank, f"{bank}-DK") for bank in ("boc-dg", "icbc-dg", "ccb-dg")]
    registered = await asyncio.gather(*(review.register(ctx, "registrar", i) for i in reversed(ids)))
    assert {c.state for c in registered} == {CaseState.REGISTERED}
    async with ctx.reading() as store:
        mortgages = [
            e for e in await store.entries_of(builders.UNITS.single_owner) if e.kind is EntryKind.MORTGAGE
        ]
    by_case = {m.opened_by_case: m for m in mortgages}
    assert [by_case[i].rank for i in ids] == [1, 2, 3], (
        "ranks follow acceptance order, not registration order"
    )
    numbers = [m.certificate_number for m in mortgages]
    assert len(set(numbers)) == 3 and all(numbers)


async def test_transfer_racing_a_seizure_ends_consistent(ctx: ServiceContext) -> None:
    case = await cases.submit(ctx, "boc-dg", "b", "c", builders.transfer())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank")
    await tracks.record_bank_result(
        ctx, case.id, f"settlement:{builders.PROOF_LI_WANG_ICBC}", confirmed=True, actor="bank"
    )
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A"}, actor="tax")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")

    outcome = await asyncio.gather(
        review.register(ctx, "registrar", case.id),
        record_seizure(
            ctx,
            "court-liaison",
            builders.UNITS.co_owned_mortgaged,
            "东莞市第二人民法院",
            "（2026）粤1972执保88号",
        ),
        return_exceptions=True,
    )
    async with ctx.reading() as store:
        after = await store.load_case(case.id)
        seizure = next(
            e
            for e in await store.entries_of(builders.UNITS.co_owned_mortgaged)
            if e.kind is EntryKind.SEIZURE
        )
    if isinstance(outcome[0], RuleViolation):
        # The seizure came first: 登簿 refused, the case still approved, the seller still the owner.
        assert after.state is CaseState.APPROVED
        assert "unit_not_seized" in {n for n, _, _ in outcome[0].failures}
    else:
        # The transfer came first: the seizure lies on the unit after the new ownership.
        assert after.state is CaseState.REGISTERED and after.registered_at is not None
        assert seizure.opened_at >= after.registered_at


async def _count(ctx: ServiceContext, model: type, **where: object) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    async with ctx.db.session() as s:
        return int((await s.execute(stmt)).scalar_one())


async def test_a_crash_during_registration_leaves_nothing_half_done(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = await _approved_mortgage(ctx, "boc-dg", "BOC-DK-9")
    before = {
        "entries": await _count(ctx, EntryRow),
        "certificates": await _count(ctx, CertificateRow),
        "outbox": await _count(ctx, OutboxRow),
        "audit": await _count(ctx, AuditRecord),
    }

    async def crash(self: Store, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the process died between writing the entries and saving the case")

    monkeypatch.setattr(Store, "save_case", crash)
    with pytest.raises(RuntimeError):
        await review.register(ctx, "registrar", case_id)
    monkeypatch.undo()

    assert (await cases.get_case(ctx, case_id)).state is CaseState.APPROVED
    assert before == {
        "entries": await _count(ctx, EntryRow),
        "certificates": await _count(ctx, CertificateRow),
        "outbox": await _count(ctx, OutboxRow),
        "audit": await _count(ctx, AuditRecord),
    }
    case = await review.register(ctx, "registrar", case_id)
    async with ctx.reading() as store:
        mortgage = next(e for e in await store.entries_of(case.unit_code) if e.opened_by_case == case_id)
    assert mortgage.certificate_number and mortgage.certificate_number.endswith("第0000001号"), (
        "no number lost"
    )
    from gateway.audit import verify_chain

    assert (await verify_chain(ctx.db)).ok


async def test_the_audit_chain_names_a_tampered_case_row(tmp_path: Path) -> None:
    from gateway.audit import verify_chain
    from tests.db.test_audit import switch_guard_off

    ctx = await make_context(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:
        await cases.submit(ctx, "dgb", "b", "c", builders.mortgage_release())
        report = await verify_chain(ctx.db)
        assert report.ok and report.rows_checked >= 2
        async with ctx.db.transaction() as uow:
            await switch_guard_off(uow.connection)  # as someone with the table owner's rights would
            row = (
                await uow.session.execute(select(AuditRecord).where(AuditRecord.action == "case.submitted"))
            ).scalar_one()
            row.actor = "bank:someone-else"
        report = await verify_chain(ctx.db)
        assert not report.ok and report.first_broken_seq == row.seq
    finally:
        await ctx.db.dispose()


async def test_the_parallel_tracks_answering_at_once_are_all_recorded(ctx: ServiceContext) -> None:
    """The bank's two confirmations and the tax clearance arrive together (three deliveries on a worker, or
    callbacks): each is recorded, none is refused as a conflict. A refused one went back to the delivery
    schedule (5 s, then 5 min) and held the case."""
    case = await cases.submit(ctx, "boc-dg", "b", "c", builders.transfer())
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A"}, actor="tax")
    outcome = await asyncio.gather(
        tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg"),
        tracks.record_bank_result(
            ctx, case.id, f"settlement:{builders.PROOF_LI_WANG_ICBC}", confirmed=True, actor="bank:icbc-dg"
        ),
        tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A"}, actor="tax"),
        return_exceptions=True,
    )
    assert [o for o in outcome if isinstance(o, BaseException)] == []
    after = await cases.get_case(ctx, case.id)
    assert after.tracks[Track.BANK].status is TrackStatus.PASSED
    assert after.tracks[Track.BANK].detail["awaiting"] == []
    assert after.tracks[Track.TAX].status is TrackStatus.PASSED
