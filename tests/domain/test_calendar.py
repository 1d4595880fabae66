"""Working days, deadlines and the certificate targets across holidays, make-up Saturdays and unknown years."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.domain.calendar import WorkingCalendar, YearTable, library_year_table
from gateway.errors import InputError

CST = ZoneInfo("Asia/Shanghai")

# Test data shaped like a State Council notice for 2027 (not the official 2027 table): New Year's Day
# Friday 1 January to Sunday the 3rd; Spring Festival 6–13 February with make-up workdays 14 and 20 Feb.
TABLE_2027 = YearTable(
    year=2027,
    holidays=(
        date(2027, 1, 1),
        date(2027, 1, 2),
        date(2027, 1, 3),
        *(date(2027, 2, day) for day in range(6, 14)),
    ),
    workdays=(date(2027, 2, 14), date(2027, 2, 20)),
    source="test data shaped like 国务院办公厅关于2027年部分节假日安排的通知",
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def test_2026_national_day_week_is_off_and_its_make_up_saturday_is_worked() -> None:
    cal = WorkingCalendar()
    assert cal.source_of(2026) == "library"
    assert not any(cal.is_working_day(date(2026, 10, day)) for day in range(1, 8))
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday, 调休上班
    assert not cal.is_working_day(date(2026, 10, 11))  # the Sunday after stays off


def test_deadline_skips_the_holiday_week_and_counts_the_make_up_saturday() -> None:
    cal = WorkingCalendar()
    received = local(2026, 9, 30, 10, 0)
    one = cal.add_working_days(received, 1)
    three = cal.add_working_days(received, 3)
    assert one.at == local(2026, 10, 8, 17, 0)
    assert three.at == local(2026, 10, 10, 17, 0)  # Thu 8, Fri 9, Sat 10 (make-up)
    assert three.at.tzinfo == UTC
    assert not three.provisional


def test_deadline_of_zero_days_is_the_close_of_the_next_working_day_when_received_on_a_holiday() -> None:
    cal = WorkingCalendar()
    assert cal.add_working_days(local(2026, 10, 3, 11, 0), 0).at == local(2026, 10, 8, 17, 0)


def test_a_2027_date_follows_the_loaded_table() -> None:
    cal = WorkingCalendar([TABLE_2027])
    assert cal.source_of(2027) == "table"
    assert not cal.is_working_day(date(2027, 2, 8))  # Monday inside Spring Festival
    assert cal.is_working_day(date(2027, 2, 20))  # make-up Saturday
    deadline = cal.add_working_days(local(2027, 2, 5, 15, 0), 2)
    assert deadline.at == local(2027, 2, 15, 17, 0)  # Sun 14 (make-up), Mon 15
    assert not deadline.provisional


def test_a_2027_date_without_a_table_counts_monday_to_friday_and_is_provisional() -> None:
    cal = WorkingCalendar()
    assert cal.source_of(2027) == "weekdays"
    assert cal.is_working_day(date(2027, 2, 8))
    assert not cal.is_working_day(date(2027, 2, 20))
    deadline = cal.add_working_days(local(2027, 2, 5, 15, 0), 2)
    assert deadline.at == local(2027, 2, 9, 17, 0)
    assert deadline.provisional


def test_a_deadline_spanning_the_year_end() -> None:
    received = local(2026, 12, 30, 10, 0)
    known = WorkingCalendar([TABLE_2027]).add_working_days(received, 3)
    unknown = WorkingCalendar().add_working_days(received, 3)
    assert known == type(known)(at=local(2027, 1, 5, 17, 0), provisional=False)  # Dec 31, Jan 4, Jan 5
    assert unknown.at == local(2027, 1, 4, 17, 0)  # Dec 31, Jan 1 (assumed worked), Jan 4
    assert unknown.provisional
    # A deadline that stays inside the known year is not provisional even though the next one is unknown.
    assert not WorkingCalendar().add_working_days(received, 1).provisional


def test_a_loaded_table_wins_over_the_library() -> None:
    # A registry correcting a known year: 9 October 2026 declared a day off (test data).
    corrected = YearTable(year=2026, holidays=(date(2026, 10, 9),), workdays=(), source="test correction")
    assert WorkingCalendar().is_working_day(date(2026, 10, 9))
    assert not WorkingCalendar([corrected]).is_working_day(date(2026, 10, 9))


def test_working_time_counts_only_office_hours_of_working_days() -> None:
    cal = WorkingCalendar()
    # Friday 16:00 → make-up Saturday 10:00: one hour each day.
    assert cal.working_time_between(local(2026, 10, 9, 16, 0), local(2026, 10, 10, 10, 0)) == timedelta(
        hours=2
    )
    # Across the whole holiday week: 30 minutes before, 20 minutes after.
    across = cal.working_time_between(local(2026, 9, 30, 16, 30), local(2026, 10, 8, 9, 20))
    assert across == timedelta(minutes=50)
    assert cal.working_time_between(local(2026, 10, 8, 9, 20), local(2026, 9, 30, 16, 30)) == -across


def test_certificate_targets() -> None:
    cal = WorkingCalendar()
    received = local(2026, 10, 9, 16, 0)
    assert cal.within_one_working_day(received, local(2026, 10, 10, 16, 0))  # 1 h + 7 h
    assert not cal.within_one_working_day(received, local(2026, 10, 12, 9, 30))  # 1 h + 8 h + 0.5 h
    assert cal.within_one_hour(local(2026, 9, 30, 16, 30), local(2026, 10, 8, 9, 20))
    assert not cal.within_one_hour(received, local(2026, 10, 10, 10, 0))


def test_year_table_json_round_trip_and_refusals() -> None:
    assert YearTable.from_json(TABLE_2027.to_json()) == TABLE_2027
    with pytest.raises(InputError) as caught:
        YearTable.from_json('{"year": 2027, "holidays": ["2026-12-31"], "source": "x"}')
    assert "outside 2027" in caught.value.message_en
    assert "不属于2027年" in caught.value.message_zh
    with pytest.raises(InputError):
        YearTable.from_json("not json")


def test_library_year_table_lists_the_days_and_ends_where_the_library_ends() -> None:
    table = library_year_table(2026)
    assert table is not None
    assert date(2026, 10, 1) in table.holidays
    assert date(2026, 10, 10) in table.workdays
    assert library_year_table(2027) is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        WorkingCalendar().add_working_days(datetime(2026, 10, 9, 10, 0), 1)
