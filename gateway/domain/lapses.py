"""When an objection (异议登记) and a pre-registration (预告登记) stop having effect by lapse of time.

Periods are counted as the Civil Code counts them: 民法典 第二百零一条 "按照年、月、日计算期间的，开始的当日不计入，
自下一日开始计算"; 第二百零三条 "期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日" — so the
days are calendar days, and only a last day that falls on a rest day or holiday moves, to the next working
day of the working calendar (make-up workdays included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol

from gateway.domain.register import (
    Entry,
    EntryKind,
    ObjectionFacts,
    PreRegistrationFacts,
    RegisterView,
    Unit,
)

# 民法典 第二百二十条第二款: "登记机构予以异议登记的，申请人自异议登记之日起十五日内不提起诉讼的，异议登记失效。"
OBJECTION_DAYS = 15
# 民法典 第二百二十一条第二款: "预告登记后，债权消灭或者自能够进行不动产登记之日起九十日内未申请登记的，预告登记失效。"
PRE_REGISTRATION_DAYS = 90


class DayCalendar(Protocol):
    """What a lapse needs of the working calendar (gateway.domain.calendar.WorkingCalendar)."""

    def is_working_day(self, d: date) -> bool: ...


@dataclass(frozen=True)
class Lapse:
    """An entry's time limit: the last day it is in force (None: no time limit runs) and whether it passed."""

    lapses_on: date | None
    lapsed: bool


def period_end(start: date, days: int, calendar: DayCalendar) -> date:
    """The last day of a period of `days` days from `start` (民法典 §201: the start day is not counted;
    §203: a last day on a rest day or holiday moves to the next working day)."""
    last = start + timedelta(days=days)
    while not calendar.is_working_day(last):
        last += timedelta(days=1)
    return last


def objection_lapse(entry: Entry, opened_on: date, today: date, calendar: DayCalendar) -> Lapse:
    """An objection lapses 15 days after its registration unless a court has accepted the applicant's suit
    (民法典 §220): a recorded court acceptance keeps it in force without a time limit."""
    facts = entry.facts
    assert isinstance(facts, ObjectionFacts)
    if facts.court_case_no:
        return Lapse(None, False)
    last = period_end(facts.registered_on or opened_on, OBJECTION_DAYS, calendar)
    return Lapse(last, today > last)


def pre_registration_lapse(
    entry: Entry, opened_on: date, unit: Unit, today: date, calendar: DayCalendar
) -> Lapse:
    """A pre-registration lapses 90 days after the day the right can be registered (民法典 §221): the day
    the pre-registration records, else the 首次登记 of a pre-sale flat (recorded on the unit). Until that
    day is known no period runs; never before the pre-registration itself."""
    facts = entry.facts
    assert isinstance(facts, PreRegistrationFacts)
    registrable = facts.registrable_on or (unit.first_registered_on if unit.first_registered else None)
    if registrable is None:
        return Lapse(None, False)
    last = period_end(max(opened_on, registrable), PRE_REGISTRATION_DAYS, calendar)
    return Lapse(last, today > last)


def lapses(view: RegisterView, now: datetime, calendar: DayCalendar, tz: tzinfo) -> dict[str, Lapse]:
    """The time limit of every open objection and pre-registration on the unit, by entry id (days are the
    registry's local days)."""

    def local(at: datetime) -> date:
        return at.astimezone(tz).date()

    today = local(now)
    found: dict[str, Lapse] = {}
    for entry in view.open_of(EntryKind.OBJECTION):
        found[entry.id] = objection_lapse(entry, local(entry.opened_at), today, calendar)
    for entry in view.open_of(EntryKind.PRE_REGISTRATION):
        found[entry.id] = pre_registration_lapse(entry, local(entry.opened_at), view.unit, today, calendar)
    return found
