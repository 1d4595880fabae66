"""The supervisor's dashboard: time to certificate against the targets, volumes, backlog, overdue cases,
refusals by rule, workload, utility jobs and dead letters — every number counted from the database.

Each count reads either what is open now (bounded by the work in hand) or what happened in the window
(bounded by a week's work), never the register's whole history: after ten years the closed cases and the
finished utility jobs are millions of rows, and the page must cost what it cost in the first year."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, select, union_all

from gateway.db.tables.cases import CaseRow, TransitionRow
from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.db.tables.utilities import UtilityJobRow, UtilityJobStatus
from gateway.domain.workflow import CaseState
from gateway.services.context import ServiceContext
from gateway.services.store import LIVE_STATES

__all__ = ["Dashboard", "KindTiming", "dashboard"]

CASE = cast(Table, CaseRow.__table__)  # type: ignore[attr-defined]
TRANSITION = cast(Table, TransitionRow.__table__)  # type: ignore[attr-defined]
OUTBOX = cast(Table, OutboxRow.__table__)  # type: ignore[attr-defined]
UTILITY = cast(Table, UtilityJobRow.__table__)  # type: ignore[attr-defined]
OPEN = [s.value for s in LIVE_STATES] + [CaseState.REGISTERED.value]
FINAL_JOB_STATES = [s.value for s in UtilityJobStatus if s.is_final]
OPEN_JOB_STATES = [s.value for s in UtilityJobStatus if not s.is_final]
OVERDUE_SHOWN = 20
AGE_BANDS = ((timedelta(hours=1), "≤1h"), (timedelta(hours=8), "≤8h"), (timedelta(days=1), "≤1d"),
             (timedelta(days=3), "≤3d"))  # fmt: skip


@dataclass
class KindTiming:
    """受理→出证 of the cases of one kind certified in the window."""

    kind: str
    certified: int = 0
    within_hour: int = 0  # within one working hour of receipt
    within_day: int = 0  # within one working day
    median_minutes: float = 0.0
    bands: dict[str, int] = field(default_factory=dict)  # ≤10 min, ≤1 h, ≤1 working day, more

    @property
    def pct_hour(self) -> float:
        return 100.0 * self.within_hour / self.certified if self.certified else 0.0

    @property
    def pct_day(self) -> float:
        return 100.0 * self.within_day / self.certified if self.certified else 0.0


@dataclass
class Dashboard:
    since: datetime
    timing: list[KindTiming]
    volumes: dict[tuple[str, str], int]  # (bank, kind) → cases received since `since`
    backlog: dict[str, dict[str, int]]  # state → age band → open cases
    overdue: list[dict[str, Any]]  # the open cases past their deadline, most overdue first (OVERDUE_SHOWN)
    overdue_count: int
    refusals: dict[str, int]  # rule name → cases suspended now, or refused since `since`, failing it
    workload: dict[str, dict[str, int]]  # user → {"held": open cases assigned, "decided": decisions since}
    # (provider, status) → jobs: those still open (whenever written), and those finished since `since`
    utility_jobs: dict[tuple[str, str], int]
    dead_letters: int


async def dashboard(ctx: ServiceContext, *, days: int = 7) -> Dashboard:
    now = ctx.clock()
    since = now - timedelta(days=days)
    c = CASE.c
    async with ctx.reading() as store:
        session = store.session
        usernames = {m.id: m.username for m in await store.staff()}
        certified = (
            await session.execute(
                select(c.kind, c.received_at, c.certified_at).where(c.certified_at >= since)
            )
        ).all()
        volumes = (
            await session.execute(
                select(c.submitted_by, c.kind, func.count())
                .where(c.received_at >= since)
                .group_by(c.submitted_by, c.kind)
            )
        ).all()
        age = case(*((c.received_at >= now - limit, label) for limit, label in AGE_BANDS), else_=">3d").label(
            "band"
        )
        backlog = (
            await session.execute(
                select(c.state, age, func.count()).where(c.state.in_(OPEN)).group_by(c.state, age)
            )
        ).all()
        late = (c.state.in_(OPEN), c.deadline_at < now)
        overdue_count = (
            await session.execute(select(func.count()).select_from(CASE).where(*late))
        ).scalar_one()
        # The most overdue: each open state's first OVERDUE_SHOWN from its range of
        # ix_case_record_state_deadline, then the first of those, rather than every overdue case read from
        # its heap page and sorted.
        shown = (c.id, c.kind, c.state, c.unit_code, c.received_at, c.deadline_at, c.assignee)
        per_state = [
            select(*shown)
            .where(c.state == state, c.deadline_at < now)
            .order_by(c.deadline_at)
            .limit(OVERDUE_SHOWN)
            for state in OPEN
        ]
        firsts = union_all(*(select(*first.subquery().c) for first in per_state)).subquery("firsts")
        overdue = (
            await session.execute(
                select(firsts).order_by(firsts.c.deadline_at, firsts.c.id).limit(OVERDUE_SHOWN)
            )
        ).all()
        held = (
            await session.execute(
                select(c.assignee, func.count())
                .where(c.state.in_(OPEN), c.assignee.is_not(None))
                .group_by(c.assignee)
            )
        ).all()
        refused_since = select(TRANSITION.c.case_id).where(
            TRANSITION.c.at >= since, TRANSITION.c.to_state == CaseState.REJECTED.value
        )
        failing = (
            await session.execute(
                select(c.rule_results)
                .where(c.state == CaseState.SUSPENDED.value)
                .union_all(
                    select(c.rule_results).where(c.state == CaseState.REJECTED.value, c.id.in_(refused_since))
                )
            )
        ).all()
        decided = (
            await session.execute(
                select(TRANSITION.c.actor, func.count())
                .where(TRANSITION.c.at >= since, ~TRANSITION.c.actor.like("bank:%"))
                .group_by(TRANSITION.c.actor)
            )
        ).all()
        u = UTILITY.c
        jobs = select(u.provider, u.status, func.count()).group_by(u.provider, u.status)
        utilities = (
            await session.execute(
                jobs.where(u.status.in_(OPEN_JOB_STATES)).union_all(
                    jobs.where(u.status.in_(FINAL_JOB_STATES), u.updated_at >= since)
                )
            )
        ).all()
        dead = (
            await session.execute(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == OutboxStatus.DEAD.value)
            )
        ).scalar_one()

    return Dashboard(
        since=since,
        timing=_timing(ctx, certified),
        volumes={(bank, kind): n for bank, kind, n in volumes},
        backlog=_backlog(backlog),
        overdue=[dict(r._mapping) for r in overdue],
        overdue_count=int(overdue_count),
        refusals=_refusals(failing),
        workload=_workload(held, decided, usernames),
        utility_jobs={(p, s): n for p, s, n in utilities},
        dead_letters=int(dead),
    )


def _timing(ctx: ServiceContext, rows: Sequence[Any]) -> list[KindTiming]:
    by_kind: dict[str, KindTiming] = {}
    minutes: dict[str, list[float]] = {}
    for kind, received, done in rows:
        t = by_kind.setdefault(
            kind, KindTiming(kind, bands=dict.fromkeys(("≤10min", "≤1h", "≤1d", ">1d"), 0))
        )
        t.certified += 1
        # One measurement answers both targets (the page's main cost: a week's certificates, each measured).
        hour, day = ctx.calendar.targets_met(received, done)
        t.within_hour += hour
        t.within_day += day
        elapsed = (done - received).total_seconds() / 60
        minutes.setdefault(kind, []).append(elapsed)
        band = "≤10min" if elapsed <= 10 and hour else "≤1h" if hour else "≤1d" if day else ">1d"
        t.bands[band] += 1
    for kind, t in by_kind.items():
        ordered = sorted(minutes[kind])
        t.median_minutes = round(ordered[len(ordered) // 2], 1)
    return sorted(by_kind.values(), key=lambda t: t.kind)


def _backlog(rows: Sequence[Any]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for state, band, n in rows:
        found.setdefault(state, {})[band] = int(n)
    return dict(sorted(found.items()))


def _refusals(rows: Sequence[Any]) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for (results,) in rows:
        counted.update({r["name"] for r in results or [] if not r.get("passed", True)})
    return dict(counted.most_common())


def _workload(
    held: Sequence[Any], decided: Sequence[Any], usernames: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Per user name: open cases held, and decisions (history steps) taken in the window."""
    found: dict[str, dict[str, int]] = {}
    for assignee, n in held:
        found.setdefault(assignee, {"held": 0, "decided": 0})["held"] += int(n)
    for actor, n in decided:
        user = usernames.get(actor) or actor.removeprefix("user:")
        if ":" in user or user in ("rules", "workflow", "registry"):  # the system or a party, not staff
            continue
        found.setdefault(user, {"held": 0, "decided": 0})["decided"] += int(n)
    return dict(sorted(found.items()))
