"""The stored calendar as a running process sees it: re-read after a load, looked at once per interval."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.db import Database
from gateway.db.calendar_store import CalendarSource, save_year_table
from gateway.domain.calendar import YearTable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def table(*holidays: date) -> YearTable:
    return YearTable(
        year=2099, holidays=holidays, source="test: a year table shaped like the State Council's"
    )


async def test_a_load_is_seen_after_the_check_interval_and_not_before(db: Database) -> None:
    clock = Clock()
    source = CalendarSource(db, check_every=2.0, clock=clock)
    monday = datetime(2099, 3, 2, 2, tzinfo=UTC)  # 10:00 in Shanghai, a Monday in a year nobody knows yet
    first = await source.current()
    assert first.add_working_days(monday, 1).provisional

    await save_year_table(db, table(date(2099, 3, 3)), actor="cli:test")
    clock.now = 1.0
    assert await source.current() is first  # within the interval: no query, the same calendar

    clock.now = 2.5
    loaded = await source.current()
    deadline = loaded.add_working_days(monday, 1)
    assert deadline.at.date() == date(2099, 3, 4) and not deadline.provisional  # 3-03 is now a day off

    clock.now = 5.0
    assert await source.current() is loaded  # looked again, nothing changed: not re-read

    await save_year_table(db, table(date(2099, 3, 3), date(2099, 3, 4)), actor="cli:test")  # replaced
    clock.now = 7.5
    assert (await source.current()).add_working_days(monday, 1).at.date() == date(2099, 3, 5)
