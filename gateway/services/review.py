"""Registry back-office use cases: 初审, 复审/核定, 补正, 不予登记, 登簿."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from gateway.domain import workflow
from gateway.domain.workflow import Case, CaseState, Track
from gateway.errors import Conflict, FieldReason, InputError
from gateway.ports.banks import CaseEvent
from gateway.services.context import ServiceContext
from gateway.services.registration import apply_registration, notify_bank


async def review(ctx: ServiceContext, actor: str, case_id: str, stage: Literal["first", "second"]) -> Case:
    """Record 初审 or 复审/核定 (two different examiners); the case is APPROVED once every track has passed."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is not CaseState.UNDER_REVIEW:
            raise Conflict(
                f"a case that is {case.state.value} cannot be reviewed",
                f"案件状态为“{case.state.label_zh}”，不能审核",
            )
        workflow.review(case.tracks[Track.REVIEW], actor=actor, at=now, stage=stage)
        uow.audit(actor=actor, action=f"case.review.{stage}", subject=f"case:{case.id}", case_id=case.id)
        join_tracks(case, now)
        await store.save_case(case, now)
    return case


def join_tracks(case: Case, now: datetime) -> None:
    """The join of the parallel tracks: APPROVED as soon as the last required track passes."""
    if case.state is CaseState.UNDER_REVIEW and case.tracks_passed():
        case.move(CaseState.APPROVED, actor="workflow", at=now, reason="并联审批全部通过")


async def request_material(ctx: ServiceContext, actor: str, case_id: str, reason: str) -> Case:
    """补正: tell the bank, once and completely, what is missing; the case waits for it."""
    return await _decide(
        ctx, actor, case_id, reason, CaseState.NEED_MORE_MATERIAL, CaseEvent.NEED_MORE_MATERIAL
    )


async def reject(ctx: ServiceContext, actor: str, case_id: str, reason: str) -> Case:
    """不予登记, with the reason the bank and the citizen will read."""
    return await _decide(ctx, actor, case_id, reason, CaseState.REJECTED, CaseEvent.REJECTED)


async def _decide(
    ctx: ServiceContext, actor: str, case_id: str, reason: str, target: CaseState, event: CaseEvent
) -> Case:
    """A decision with a reason: move the case, audit it, and tell the bank in the same transaction."""
    _need_reason(reason)
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        case.move(target, actor=actor, at=now, reason=reason)
        uow.audit(
            actor=actor,
            action=f"case.{target.value}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"reason": reason},
        )
        notify_bank(uow, case, event)
        await store.save_case(case, now)
    return case


async def register(ctx: ServiceContext, actor: str, case_id: str) -> Case:
    """登簿 by a registrar: every rule again (the register may have changed), then record the case."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is not CaseState.APPROVED:
            raise Conflict(
                f"only an approved case can be registered; this one is {case.state.value}",
                f"只有已核定的案件可以登簿，该案件状态为“{case.state.label_zh}”",
            )
        unit = await store.lock_unit(case.unit_code)
        view = await store.view(unit)
        await apply_registration(
            ctx, uow, store, case, view, ctx.institution(case.submitted_by), actor=actor, at=now
        )
        await store.save_case(case, now)
    return case


def _need_reason(reason: str) -> None:
    if not reason.strip():
        raise InputError(
            "a reason is required",
            "须填写理由",
            [FieldReason("reason", "须填写理由", "a reason is required")],
        )


async def assign(ctx: ServiceContext, actor: str, case_id: str, assignee: str) -> Case:
    """改派: a supervisor gives a case to another examiner."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state.is_final:
            raise Conflict("a closed case cannot be reassigned", "已结束的案件不能改派")
        previous, case.assignee = case.assignee, assignee
        uow.audit(
            actor=actor,
            action="case.assigned",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"from": previous, "to": assignee},
        )
        await store.save_case(case, now)
    return case
