"""Whose turn a case is (its work stage), who works each stage, and how much time is left.

The back office's 待办 lists cases by stage: an examiner's 初审, a senior examiner's 复审/核定, a
registrar's 登簿. The deadline counts working time on the registry's calendar (DESIGN §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from weakref import WeakKeyDictionary

from gateway.domain.calendar import WorkingCalendar
from gateway.domain.workflow import Case, CaseState, Track, TrackStatus

__all__ = [
    "OPEN_STAGES",
    "TimeLeft",
    "WorkStage",
    "add_working_hours",
    "resumed_deadline",
    "time_left",
    "work_stage",
    "working_hours",
]


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
    day_hours = _day_hours(calendar)
    if deadline <= now:
        late = working_hours(calendar, deadline, now)
        return TimeLeft(int(late // day_hours), -round(late, 1), True)
    hours = working_hours(calendar, now, deadline)
    return TimeLeft(int(hours // day_hours), round(hours, 1), False)


def _day_hours(calendar: WorkingCalendar) -> float:
    span = datetime.combine(date.min, calendar.closes) - datetime.combine(date.min, calendar.opens)
    return span / timedelta(hours=1)


def working_hours(calendar: WorkingCalendar, a: datetime, b: datetime) -> float:
    """Working hours from a to b (a <= b). Over more than a week the whole days between are counted as
    days, not as windows: a case a year overdue costs a loop over dates, not a year of datetimes."""
    if b - a <= timedelta(days=7):
        return calendar.working_time_between(a, b) / timedelta(hours=1)
    first, last = a.astimezone(calendar.tz).date(), b.astimezone(calendar.tz).date()
    midnight = datetime.combine(first + timedelta(days=1), time(), tzinfo=calendar.tz)
    head = calendar.working_time_between(a, midnight)
    tail = calendar.working_time_between(datetime.combine(last, time(), tzinfo=calendar.tz), b)
    days = _working_days(calendar, first + timedelta(days=1), last)
    return (head + tail) / timedelta(hours=1) + days * _day_hours(calendar)


def add_working_hours(calendar: WorkingCalendar, start: datetime, hours: float) -> datetime:
    """The instant `hours` working hours after `start` (the close of the day it ends on, at most)."""
    remaining = timedelta(hours=hours)
    day = start.astimezone(calendar.tz).date()
    for _ in range(3660):  # ten years of days: any real remainder ends long before
        if calendar.is_working_day(day):
            opens = datetime.combine(day, calendar.opens, tzinfo=calendar.tz)
            closes = datetime.combine(day, calendar.closes, tzinfo=calendar.tz)
            begin = max(start, opens)
            if begin < closes:
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError("working hours beyond ten years")


def resumed_deadline(
    calendar: WorkingCalendar, deadline: datetime, paused_at: datetime, resumed_at: datetime
) -> datetime:
    """补正 time does not count against the deadline: the working time left when the examiner asked for
    material is what is left when the bank answers. A case already late when paused stays late."""
    if deadline <= paused_at:
        return deadline
    return add_working_hours(calendar, resumed_at, working_hours(calendar, paused_at, deadline))


# Per calendar: a first date and the running count of working days from it, so the working days between
# two dates are one subtraction (a queue page shows 30 cases, some a year overdue).
_COUNTS: WeakKeyDictionary[WorkingCalendar, tuple[date, list[int]]] = WeakKeyDictionary()


def _working_days(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days in [start, end)."""
    if end <= start:
        return 0
    base, counts = _COUNTS.get(calendar, (start, [0]))
    if start < base or (end - base).days >= len(counts):
        base = min(base, start) - timedelta(days=366)
        stop = max(end, base + timedelta(days=len(counts))) + timedelta(days=366)
        counts = [0]
        for k in range((stop - base).days):
            counts.append(counts[-1] + calendar.is_working_day(base + timedelta(days=k)))
        _COUNTS[calendar] = (base, counts)
    return counts[(end - base).days] - counts[(start - base).days]
