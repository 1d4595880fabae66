"""Whose turn a case is (its work stage), who works each stage, and how much time is left.

The back office's 待办 lists cases by stage: an examiner's 初审, a senior examiner's 复审/核定, a
registrar's 登簿. The deadline counts working time on the registry's calendar (DESIGN §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.domain.calendar import WorkingCalendar
from gateway.domain.workflow import Case, CaseState, Track, TrackStatus

__all__ = ["OPEN_STAGES", "TimeLeft", "WorkStage", "time_left", "work_stage"]


class WorkStage(StrEnum):
    RECEIVED = "received"  # 受理, rules running
    FIRST_REVIEW = "first_review"  # 初审
    SECOND_REVIEW = "second_review"  # 复审/核定
    WAITING_PARTIES = "waiting_parties"  # review done; tax or bank track still open
    CORRECTION = "correction"  # 补正: the bank's turn
    REGISTER = "register"  # 登簿
    SUSPENDED = "suspended"  # 中止 at 登簿: a rule failed
    CERTIFY = "certify"  # 缮证
    CLOSED = "closed"


OPEN_STAGES = tuple(s for s in WorkStage if s is not WorkStage.CLOSED)


def work_stage(case: Case) -> WorkStage:
    state = case.state
    if state is CaseState.UNDER_REVIEW:
        review = case.tracks.get(Track.REVIEW)
        if review is None or review.status is TrackStatus.PENDING:
            return WorkStage.FIRST_REVIEW
        if review.status is TrackStatus.FIRST_REVIEWED:
            return WorkStage.SECOND_REVIEW
        return WorkStage.WAITING_PARTIES
    return {
        CaseState.RECEIVED: WorkStage.RECEIVED,
        CaseState.NEED_MORE_MATERIAL: WorkStage.CORRECTION,
        CaseState.APPROVED: WorkStage.REGISTER,
        CaseState.SUSPENDED: WorkStage.SUSPENDED,
        CaseState.REGISTERED: WorkStage.CERTIFY,
        CaseState.CERTIFIED: WorkStage.CERTIFY,
    }.get(state, WorkStage.CLOSED)


@dataclass(frozen=True)
class TimeLeft:
    """Until the deadline, on the working calendar: whole working days and working hours, or overdue."""

    working_days: int
    working_hours: float
    overdue: bool


def time_left(calendar: WorkingCalendar, deadline: datetime, now: datetime) -> TimeLeft:
    if deadline <= now:
        late = calendar.working_time_between(deadline, now)
        return TimeLeft(0, -round(late / timedelta(hours=1), 1), True)
    hours = calendar.working_time_between(now, deadline) / timedelta(hours=1)
    day_hours = (
        datetime.combine(datetime.min, calendar.closes) - datetime.combine(datetime.min, calendar.opens)
    ) / timedelta(hours=1)
    return TimeLeft(int(hours // day_hours), round(hours, 1), False)
