"""Registry back-office use cases: 初审, 复审/核定 (or 退回初审), 补正, 不予登记, 登簿 (or 中止), 改派."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from gateway.domain import rules, workflow
from gateway.domain.workflow import Case, CaseState, Track, TrackStatus, Transition
from gateway.domain.worklist import work_stage
from gateway.errors import Conflict, FieldReason, InputError, RuleViolation
from gateway.ports.banks import CaseEvent
from gateway.security.roles import Role
from gateway.services.context import ServiceContext
from gateway.services.registration import apply_registration, notify_bank, registration_rule_context
from gateway.services.worklist import may_act

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork


async def review(
    ctx: ServiceContext,
    actor: str,
    case_id: str,
    stage: Literal["first", "second"],
    opinion: str = "",
) -> Case:
    """Record 初审 or 复审/核定 (two different examiners) with the 审核意见, on the case's review track and in
    its history; the case is APPROVED once every track has passed. The case leaves the examiner's hands
    for the next stage's pool."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is not CaseState.UNDER_REVIEW:
            raise Conflict(
                f"a case that is {case.state.value} cannot be reviewed",
                f"案件状态为“{case.state.label_zh}”，不能审核",
            )
        track = case.tracks[Track.REVIEW]
        workflow.review(track, actor=actor, at=now, stage=stage)
        track.detail[f"{stage}_opinion"] = opinion
        track.detail[f"{stage}_by"] = actor
        track.detail[f"{stage}_at"] = now.isoformat()
        label = "初审通过" if stage == "first" else "复审/核定通过"
        _note(case, actor, now, f"{label}：{opinion}" if opinion else label)
        case.assignee = None
        uow.audit(
            actor=actor,
            action=f"case.review.{stage}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"opinion": opinion},
        )
        join_tracks(case, now)
        await store.save_case(case, now)
    return case


async def send_back(ctx: ServiceContext, actor: str, case_id: str, opinion: str) -> Case:
    """退回初审: the senior examiner returns the first review with the reason; 初审 starts again."""
    _need_reason(opinion, "opinion")
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.REVIEW)
        if (
            case.state is not CaseState.UNDER_REVIEW
            or track is None
            or track.status is not TrackStatus.FIRST_REVIEWED
        ):
            raise Conflict("only a case waiting for 复审 can be sent back", "只有待复审的案件可以退回初审")
        track.status, track.first_reviewer, track.decided_at = TrackStatus.PENDING, None, now
        track.detail["returned_opinion"] = opinion
        _note(case, actor, now, f"退回初审：{opinion}")
        case.assignee = None
        uow.audit(
            actor=actor,
            action="case.review.sent_back",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"opinion": opinion},
        )
        await store.save_case(case, now)
    return case


def _note(case: Case, actor: str, at: datetime, reason: str) -> None:
    """A step in the case's history that leaves its state as it is (a review, a return to 初审)."""
    case.new_transitions.append(
        Transition(from_state=case.state, to_state=case.state, actor=actor, at=at, reason=reason)
    )


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
    """登簿 by a registrar: every rule again (the register may have changed), then record the case.

    A rule that fails now suspends the case (中止, with the failing rules as its reason and results) in a
    transaction of its own, and the RuleViolation is raised after that commit: the case does not stay
    APPROVED with stale results.
    """
    now = ctx.clock()
    violation: RuleViolation | None = None
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is not CaseState.APPROVED:
            raise Conflict(
                f"only an approved case can be registered; this one is {case.state.value}",
                f"只有已核定的案件可以登簿，该案件状态为“{case.state.label_zh}”",
            )
        unit = await store.lock_unit(case.unit_code)
        view = await store.view(unit)
        try:
            await apply_registration(
                ctx, uow, store, case, view, ctx.institution(case.submitted_by), actor=actor, at=now
            )
        except RuleViolation as exc:  # raised by the rule check, before anything was written
            violation = exc
            _suspend(uow, case, actor, now, exc)
        await store.save_case(case, now)
    if violation is not None:
        raise violation
    return case


async def recheck(ctx: ServiceContext, actor: str, case_id: str) -> Case:
    """A suspended case's rules again: back to APPROVED (ready for 登簿) once every rule passes."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state is not CaseState.SUSPENDED:
            raise Conflict("only a suspended case is rechecked", "只有已中止的案件需要重新检查")
        view = await store.view(await store.lock_unit(case.unit_code))
        results = rules.check(case.input, view, await registration_rule_context(ctx, store, case, view, now))
        case.rule_results = [r.__dict__ for r in results]
        failed = rules.failures(results)
        if not failed:
            case.move(CaseState.APPROVED, actor=actor, at=now, reason="重新检查：全部规则通过")
        uow.audit(
            actor=actor,
            action="case.rechecked",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"failed": [name for name, _, _ in failed]},
        )
        await store.save_case(case, now)
    return case


def _suspend(uow: UnitOfWork, case: Case, actor: str, at: datetime, exc: RuleViolation) -> None:
    failed = {name: (zh, en) for name, zh, en in exc.failures}
    case.rule_results = [
        {**r, "passed": False, "reason_zh": failed[r["name"]][0], "reason_en": failed[r["name"]][1]}
        if r.get("name") in failed
        else r
        for r in case.rule_results
    ] + [
        {"name": n, "passed": False, "reason_zh": zh, "reason_en": en}
        for n, (zh, en) in failed.items()
        if n not in {r.get("name") for r in case.rule_results}
    ]
    case.move(CaseState.SUSPENDED, actor=actor, at=at, reason="登簿前复核未通过：" + exc.message_zh)
    uow.audit(
        actor=actor,
        action="case.suspended",
        subject=f"case:{case.id}",
        case_id=case.id,
        details={"failed": list(failed)},
    )


def _need_reason(reason: str, field: str = "reason") -> None:
    if not reason.strip():
        raise InputError(
            "a reason is required",
            "须填写理由",
            [FieldReason(field, "须填写理由", "a reason is required")],
        )


async def assign(ctx: ServiceContext, actor: str, case_id: str, assignee: str) -> Case:
    """改派: a supervisor gives a case to a named, active colleague whose role works the case's stage."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        if case.state.is_final:
            raise Conflict("a closed case cannot be reassigned", "已结束的案件不能改派")
        member = await store.staff_member(assignee)
        if member is None or not member.active:
            raise InputError(
                f"no active back-office user {assignee!r}",
                f"没有名为 {assignee} 的在岗用户",
                [FieldReason("assignee", "没有该在岗用户", "no such active user")],
            )
        stage = work_stage(case)
        if not may_act(frozenset(Role(r) for r in member.roles), stage):
            raise InputError(
                f"{assignee} has no role that works this case's stage ({stage.value})",
                f"{assignee} 的岗位不办理该案件当前环节",
                [FieldReason("assignee", "该用户的岗位不办理此环节", "their role does not work this stage")],
            )
        previous, case.assignee = case.assignee, member.username
        uow.audit(
            actor=actor,
            action="case.assigned",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"from": previous, "to": member.username},
        )
        await store.save_case(case, now)
    return case
