"""The periods of 异议登记 (15 days) and 预告登记 (90 days), counted as 民法典 §201 and §203 count them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.domain.calendar import WorkingCalendar
from gateway.domain.lapses import objection_lapse, period_end, pre_registration_lapse
from gateway.domain.register import Entry, ObjectionFacts, PreRegistrationFacts, PreRegistrationKind, Unit
from gateway.seed import CHEN_JING, ZHOU_JIE
from tests.domain.test_calendar import TABLE_2027

CALENDAR = WorkingCalendar([TABLE_2027])


def entry(facts: ObjectionFacts | PreRegistrationFacts) -> Entry:
    return Entry(
        id="e1", unit_code="441900003002GB00102F00020101", facts=facts, opened_by_case=None,
        opened_at=datetime(2027, 1, 4, 2, tzinfo=UTC),
    )  # fmt: skip


def test_the_start_day_is_not_counted_and_a_working_last_day_stays() -> None:
    assert period_end(date(2027, 1, 4), 15, CALENDAR) == date(2027, 1, 19)  # a Tuesday


def test_a_last_day_in_a_holiday_moves_to_the_day_after_it_ends() -> None:
    # 27 January + 15 days = 11 February, inside the Spring Festival (6–13 Feb); the 14th is a make-up workday.
    assert period_end(date(2027, 1, 27), 15, CALENDAR) == date(2027, 2, 14)
    # 9 January + 15 days = Sunday 24 January: the next Monday.
    assert period_end(date(2027, 1, 9), 15, CALENDAR) == date(2027, 1, 25)


def test_an_objection_lapses_after_its_last_day_unless_the_court_accepted_the_suit() -> None:
    objection = ObjectionFacts(applicant=ZHOU_JIE, matter="主张共有")
    lapse = objection_lapse(entry(objection), date(2027, 1, 4), date(2027, 1, 19), CALENDAR)
    assert (lapse.lapses_on, lapse.lapsed) == (date(2027, 1, 19), False)
    assert objection_lapse(entry(objection), date(2027, 1, 4), date(2027, 1, 20), CALENDAR).lapsed
    accepted = objection.model_copy(update={"court_case_no": "（2027）粤1971民初1号"})
    kept = objection_lapse(entry(accepted), date(2027, 1, 4), date(2027, 6, 1), CALENDAR)
    assert (kept.lapses_on, kept.lapsed) == (None, False)


def test_a_pre_registration_runs_from_the_first_registration_not_before() -> None:
    pre = PreRegistrationFacts(pre_kind=PreRegistrationKind.PURCHASE, buyers=[CHEN_JING], contract_no="YS-1")
    unit = Unit(unit_code="441900003002GB00102F00020101", address="x", floor_area=90, first_registered=False)  # type: ignore[arg-type]
    assert (
        pre_registration_lapse(entry(pre), date(2025, 1, 2), unit, date(2027, 1, 4), CALENDAR).lapses_on
        is None
    )
    done = unit.model_copy(update={"first_registered": True, "first_registered_on": date(2027, 1, 4)})
    lapse = pre_registration_lapse(entry(pre), date(2025, 1, 2), done, date(2027, 4, 5), CALENDAR)
    assert (lapse.lapses_on, lapse.lapsed) == (date(2027, 4, 5), False)  # 90 days: Monday 5 April
