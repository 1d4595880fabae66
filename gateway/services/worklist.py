"""The back office's 待办: whose queue holds which cases, 领件 (claim), and the names behind actor ids."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from gateway.domain.workflow import Case
from gateway.domain.worklist import TimeLeft, WorkStage, time_left, work_stage
from gateway.errors import Conflict, Forbidden
from gateway.security.roles import Role
from gateway.security.users import Actor
from gateway.services.context import ServiceContext
from gateway.services.store_queue import QueueFilter, StaffMember, decode_cursor, encode_cursor

__all__ = [
    "ROLE_STAGES",
    "QueueItem",
    "QueuePage",
    "Scope",
    "claim",
    "default_scope",
    "may_act",
    "names",
    "queue",
]

Scope = Literal["mine", "team", "all"]

# The stages each role acts on: what "my team" (我岗位) lists for it.
ROLE_STAGES: dict[Role, tuple[WorkStage, ...]] = {
    Role.EXAMINER: (WorkStage.FIRST_REVIEW,),
    Role.SENIOR_EXAMINER: (WorkStage.SECOND_REVIEW,),
    Role.REGISTRAR: (WorkStage.REGISTER, WorkStage.SUSPENDED),
}
OVERSEERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def default_scope(actor: Actor) -> Scope:
    """Supervisors and admins start from every open case; the others from their role's stage."""
    return "all" if actor.roles & OVERSEERS or not stages_of(actor.roles) else "team"


def stages_of(roles: frozenset[Role]) -> tuple[WorkStage, ...]:
    return tuple(s for r in sorted(roles) for s in ROLE_STAGES.get(r, ()))


@dataclass(frozen=True)
class QueueItem:
    case: Case
    stage: WorkStage
    left: TimeLeft


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None


async def queue(
    ctx: ServiceContext,
    actor: Actor,
    scope: Scope,
    where: QueueFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> QueuePage:
    """The cases of `scope`, soonest deadline first, with the working time left; follow `next_cursor`
    to reach every one."""
    if scope == "all" and not actor.roles & OVERSEERS:
        raise Forbidden(
            "only supervisors and admins see every case", "只有业务主管和系统管理员可查看全部案件"
        )
    if scope == "mine":
        where = replace(where, assignee=actor.username)
    elif scope == "team":
        own = stages_of(actor.roles)
        stages = where.stages
        where = replace(where, stages=tuple(s for s in stages if s in own) if stages else own)
        if stages and not where.stages:
            return QueuePage([], None)
    after = decode_cursor(cursor) if cursor else None
    async with ctx.reading() as store:
        cases, more = await store.work_queue(where, limit=limit, after=after)
    now = ctx.clock()
    items = [QueueItem(c, work_stage(c), time_left(ctx.calendar, c.deadline_at, now)) for c in cases]
    return QueuePage(items, encode_cursor(*more) if more else None)


def may_act(roles: frozenset[Role], stage: WorkStage) -> bool:
    return stage in stages_of(roles)


async def claim(ctx: ServiceContext, actor: Actor, case_id: str) -> Case:
    """领件: take a case of one's own stage that nobody holds (or that one holds already)."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id)
        stage = work_stage(case)
        if not may_act(actor.roles, stage):
            raise Forbidden(
                f"a case at stage {stage.value} is not for your role", "该案件当前环节不属于您的岗位"
            )
        if case.assignee not in (None, actor.username):
            raise Conflict(
                f"the case is held by {case.assignee}; a supervisor can reassign it",
                f"该案件已由 {case.assignee} 领取，如需调整请业务主管改派",
            )
        case.assignee = actor.username
        uow.audit(
            actor=actor.audit_name,
            action="case.claimed",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"assignee": actor.username, "stage": stage.value},
        )
        await store.save_case(case, now)
    return case


async def names(ctx: ServiceContext) -> dict[str, str]:
    """Display names by every spelling a record may use for a user: id, user name, `user:<name>`."""
    async with ctx.reading() as store:
        staff = await store.staff()
    return _names(staff)


def _names(staff: list[StaffMember]) -> dict[str, str]:
    found: dict[str, str] = {}
    for m in staff:
        label = m.display_name if m.display_name == m.username else f"{m.display_name}（{m.username}）"
        found[m.id] = found[m.username] = found[f"user:{m.username}"] = label
    return found
