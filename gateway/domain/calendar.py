"""Working days in mainland China: public holidays, make-up workdays, deadlines and the certificate targets.

Where a year's days come from, in order: an official year table loaded by the registry (the State Council's
notice, published each late autumn, loaded without a release), then the `chinesecalendar` library, then —
for a year nobody knows yet — Monday to Friday, with every result that depended on it marked provisional.

Working hours are 09:00–17:00 Asia/Shanghai (8 hours, the lunch break not subtracted): a deadline of n working
days ends at 17:00 on the n-th working day after the day of receipt, and "within one working day" means at
most 8 working hours between receipt and certificate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.errors import FieldReason, InputError

__all__ = ["Deadline", "WorkingCalendar", "YearSource", "YearTable", "library_year_table"]

YearSource = Literal["table", "library", "weekdays"]


_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)


class YearTable(BaseModel):
    """One year's official days off and make-up workdays (调休上班), as the State Council publishes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=2000, le=2100)
    holidays: tuple[
        date, ...
    ]  # every day off of the holiday periods (weekend days inside them may be listed)
    workdays: tuple[date, ...] = ()  # make-up workdays, usually Saturdays or Sundays
    source: str = Field(min_length=1, max_length=500)  # e.g. "国务院办公厅关于2027年部分节假日安排的通知"

    @model_validator(mode="after")
    def _dates_belong_to_the_year(self) -> YearTable:
        stray = [d for d in (*self.holidays, *self.workdays) if d.year != self.year]
        if stray:
            raise ValueError(
                f"dates outside {self.year}: {', '.join(map(str, stray))} / 日期不属于{self.year}年"
            )
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(
                f"dates both holiday and workday: {', '.join(map(str, both))} / 日期既是假日又是调休上班日"
            )
        return self

    @classmethod
    def from_json(cls, text: str | bytes) -> YearTable:
        """Parse the JSON a registry loads; raise `InputError` with the reason if it is not a year table."""
        try:
            return cls.model_validate(json.loads(text))
        except ValueError as exc:  # json.JSONDecodeError and pydantic.ValidationError are both ValueErrors
            raise InputError(
                f"not a valid year table: {exc}",
                f"年度节假日表格式错误：{exc}",
                [FieldReason("file", "年度节假日表格式错误", "not a valid year table")],
            ) from exc

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def library_year_table(year: int) -> YearTable | None:
    """The `chinesecalendar` library's view of a year as a table, or None beyond the years it knows."""
    holidays: list[date] = []
    workdays: list[date] = []
    day = date(year, 1, 1)
    try:
        while day.year == year:
            day_off, holiday_name = chinese_calendar.get_holiday_detail(day)
            if day_off and holiday_name:
                holidays.append(day)
            elif not day_off and day.weekday() >= 5:
                workdays.append(day)
            day += timedelta(days=1)
    except NotImplementedError:
        return None
    return YearTable(year=year, holidays=tuple(holidays), workdays=tuple(workdays), source="chinesecalendar")


@dataclass(frozen=True)
class Deadline:
    """When a time limit ends; provisional when it counted days of a year whose holidays are not known."""

    at: datetime
    provisional: bool


class WorkingCalendar:
    """Working days from loaded year tables, then `chinesecalendar`, then Monday–Friday (provisional)."""

    def __init__(
        self,
        tables: Iterable[YearTable] = (),
        *,
        timezone: str = "Asia/Shanghai",
        opens: time = time(9),
        closes: time = time(17),
    ) -> None:
        self._tables = {t.year: t for t in tables}
        self._days_off = {t.year: frozenset(t.holidays) for t in self._tables.values()}
        self._extra_workdays = {t.year: frozenset(t.workdays) for t in self._tables.values()}
        self.tz = ZoneInfo(timezone)
        self.opens = opens
        self.closes = closes
        # The calendar never changes once built (a loaded table makes a new one), so each day's answer is
        # kept: every submission counts 15 working days, and the library validates each date it is asked.
        self._working: dict[date, bool] = {}
        self._windows: dict[date, tuple[datetime, datetime] | None] = {}
        self._known_years: dict[int, bool] = {}

    # --- days ----------------------------------------------------------------------------------------

    def source_of(self, year: int) -> YearSource:
        """Where this calendar's knowledge of `year` comes from."""
        if year in self._tables:
            return "table"
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return "weekdays"
        return "library"

    def is_known_year(self, year: int) -> bool:
        known = self._known_years.get(year)
        if known is None:
            known = self._known_years[year] = self.source_of(year) != "weekdays"
        return known

    def is_working_day(self, d: date) -> bool:
        working = self._working.get(d)
        if working is None:
            working = self._working[d] = self._is_working_day(d)
        return working

    def _is_working_day(self, d: date) -> bool:
        if d.year in self._tables:
            if d in self._extra_workdays[d.year]:
                return True
            return d not in self._days_off[d.year] and d.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            return d.weekday() < 5

    def year_table(self, year: int) -> YearTable | None:
        """The loaded table for `year`, else the library's, else None."""
        return self._tables.get(year) or library_year_table(year)

    # --- deadlines -----------------------------------------------------------------------------------

    def add_working_days(self, start: datetime, n: int) -> Deadline:
        """The close of the n-th working day after `start`'s local day (n=0: close of the first working day
        on or after it). Returned in UTC; provisional if any day counted lies in an unknown year."""
        _require_aware(start)
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start.astimezone(self.tz).date()
        provisional = False
        if n == 0:
            provisional = not self.is_known_year(day.year)
            while not self.is_working_day(day):
                day += timedelta(days=1)
                provisional = provisional or not self.is_known_year(day.year)
        remaining = n
        while remaining:
            day += timedelta(days=1)
            provisional = provisional or not self.is_known_year(day.year)
            if self.is_working_day(day):
                remaining -= 1
        at = datetime.combine(day, self.closes, tzinfo=self.tz).astimezone(UTC)
        return Deadline(at=at, provisional=provisional)

    # --- measurement ---------------------------------------------------------------------------------

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working hours (opens–closes local time on working days) between two instants; negative if b < a."""
        _require_aware(a)
        _require_aware(b)
        if b < a:
            return -self.working_time_between(b, a)
        total = timedelta()
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                lo, hi = max(a, window[0]), min(b, window[1])
                if hi > lo:
                    total += hi - lo
            day += _ONE_DAY
        return total

    @property
    def working_day(self) -> timedelta:
        """The working hours of one day (opens to closes): 8 hours in Dongguan."""
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def targets_met(self, received_at: datetime, certified_at: datetime) -> tuple[bool, bool]:
        """(within one working hour, within one working day) of receipt, from one measurement."""
        worked = self.working_time_between(received_at, certified_at)
        return worked <= _ONE_HOUR, worked <= self.working_day

    def within_one_working_day(self, received_at: datetime, certified_at: datetime) -> bool:
        """The reform's target: certificate within one working day (8 working hours) of receipt."""
        return self.targets_met(received_at, certified_at)[1]

    def within_one_hour(self, received_at: datetime, certified_at: datetime) -> bool:
        """The aim: certificate within one working hour of receipt."""
        return self.targets_met(received_at, certified_at)[0]

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """A working day's opening hours as UTC instants (None on a day off), kept like the day's answer: the
        dashboard measures a week's certificates each time it is shown, and instants in one zone compare
        without converting."""
        try:
            return self._windows[day]
        except KeyError:
            pass
        window = None
        if self.is_working_day(day):
            window = (
                datetime.combine(day, self.opens, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(day, self.closes, tzinfo=self.tz).astimezone(UTC),
            )
        self._windows[day] = window
        return window


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
