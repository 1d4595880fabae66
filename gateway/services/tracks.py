"""Results of the parallel tracks that outside parties close: the bank's confirmations and the tax bureau's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select

from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.domain.workflow import Case, CaseState, Track, TrackStatus
from gateway.ports.banks import CaseEvent
from gateway.services import effects
from gateway.services.cases import get_case as cases_get
from gateway.services.context import Finisher, ServiceContext
from gateway.services.registration import notify_bank
from gateway.services.review import join_tracks

OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]


async def record_bank_result(
    ctx: ServiceContext,
    case_id: str,
    item: str,
    *,
    confirmed: bool,
    actor: str,
    message: str = "",
    finish: Finisher | None = None,
) -> Case:
    """A bank confirmed (or refused) one awaited item: "contracts" or "settlement:<proof number>".

    A refusal sends the case to 补正 with the bank's own reason: the counter fixes the contract and resubmits.
    Repeated results for an item already settled change nothing (callbacks and retries may repeat).
    """
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.BANK)
        awaiting: list[str] = list(track.detail.get("awaiting", [])) if track else []
        if track is None or item not in awaiting or case.state is not CaseState.UNDER_REVIEW:
            if finish:
                await finish(uow, case)
            return case
        if confirmed:
            awaiting.remove(item)
            track.detail["awaiting"] = awaiting
            track.detail.setdefault("confirmed", []).append(item)
            if not awaiting:
                track.status = TrackStatus.PASSED
                track.decided_at = now
                track.decided_by = actor
        else:
            track.status = TrackStatus.FAILED
            reason = f"银行核验未通过（{item}）：{message}"
            case.move(CaseState.NEED_MORE_MATERIAL, actor=actor, at=now, reason=reason)
            notify_bank(uow, case, CaseEvent.NEED_MORE_MATERIAL)
        uow.audit(
            actor=actor,
            action=f"case.bank.{'confirmed' if confirmed else 'refused'}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"item": item, "message": message},
        )
        join_tracks(case, now)
        await store.save_case(case, now)
        if finish:
            await finish(uow, case)
    return case


async def record_tax_assessment(
    ctx: ServiceContext, case_id: str, assessment: dict[str, Any], actor: str
) -> Case:
    """The bureau assessed the transfer's taxes; the tax track now waits for payment."""
    return await _tax_step(ctx, case_id, actor, TrackStatus.ASSESSED, assessment)


async def record_tax_cleared(
    ctx: ServiceContext,
    case_id: str,
    clearance: dict[str, Any],
    actor: str,
    *,
    finish: Finisher | None = None,
) -> Case:
    """The bureau confirmed payment (完税): the tax track passes, and 登簿 may follow (契税法 第11条)."""
    return await _tax_step(ctx, case_id, actor, TrackStatus.PASSED, clearance, finish)


async def _tax_step(
    ctx: ServiceContext,
    case_id: str,
    actor: str,
    status: TrackStatus,
    detail: dict[str, Any],
    finish: Finisher | None = None,
) -> Case:
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.TAX)
        unchanged = (
            track is None
            or track.status is TrackStatus.PASSED
            or case.state.is_final
            or (status is TrackStatus.ASSESSED and track.status is not TrackStatus.PENDING)
        )
        if unchanged or track is None:
            if finish:
                await finish(uow, case)
            return case
        track.status = status
        track.detail.update({"assessment" if status is TrackStatus.ASSESSED else "clearance": detail})
        if status is TrackStatus.PASSED:
            track.decided_at, track.decided_by = now, actor
        uow.audit(
            actor=actor,
            action=f"case.tax.{status.value}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details=detail,
        )
        join_tracks(case, now)
        await store.save_case(case, now)
        if finish:
            await finish(uow, case)
    return case


async def mark_certified(ctx: ServiceContext, case_id: str, at: datetime | None = None) -> Case:
    """缮证 done: every certificate of the case is rendered and signed."""
    now = at or ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is CaseState.REGISTERED:
            case.move(CaseState.CERTIFIED, actor="registry", at=now)
            uow.audit(actor="registry", action="case.certified", subject=f"case:{case.id}", case_id=case.id)
            await store.save_case(case, now)
    return case


async def mark_completed(ctx: ServiceContext, case_id: str, actor: str = "registry") -> Case:
    """发证 done (the certificate reached the bank): the case is archived."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is CaseState.CERTIFIED:
            case.move(CaseState.COMPLETED, actor=actor, at=now)
            uow.audit(actor=actor, action="case.completed", subject=f"case:{case.id}", case_id=case.id)
            await store.save_case(case, now)
    return case


async def mark_completed_when_delivered(ctx: ServiceContext, case_id: str, *, delivered: str) -> Case:
    """After one certificate reached the bank: archive the case once every certificate of it has.

    `delivered` is the outbox row just delivered (the dispatcher marks it after this returns).
    """
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.payload).where(
                OUTBOX.c.case_id == case_id, OUTBOX.c.job == effects.BANK_NOTIFY
            )
        )
        pending = [
            r.id
            for r in rows
            if r.payload.get("event") == CaseEvent.CERTIFICATE_ISSUED.value
            and r.id != delivered
            and r.status != OutboxStatus.DELIVERED.value
        ]
    if pending:
        return await cases_get(ctx, case_id)
    return await mark_completed(ctx, case_id, actor="registry:发证")
