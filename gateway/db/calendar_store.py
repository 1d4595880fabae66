"""Official year tables kept in the database (`gateway calendar load`), so every gateway process sees them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from gateway.db.database import Database
from gateway.db.tables.infra import CalendarYearRow
from gateway.db.types import utcnow
from gateway.domain.calendar import WorkingCalendar, YearTable
from gateway.logging import get_logger

__all__ = ["CalendarSource", "load_year_tables", "save_year_table", "working_calendar"]

log = get_logger("gateway.calendar")


async def save_year_table(db: Database, table: YearTable, *, actor: str) -> None:
    """Store (or replace) one year's table and audit who loaded it from which notice."""
    async with db.transaction() as uow:
        row = await uow.session.get(CalendarYearRow, table.year)
        previous_source = row.source if row else None
        if row is None:
            row = CalendarYearRow(year=table.year, source=table.source, loaded_at=utcnow(), loaded_by=actor)
        row.holidays = [d.isoformat() for d in sorted(table.holidays)]
        row.workdays = [d.isoformat() for d in sorted(table.workdays)]
        row.source, row.loaded_at, row.loaded_by = table.source, utcnow(), actor
        uow.session.add(row)
        details: dict[str, Any] = {
            "source": table.source,
            "holidays": len(table.holidays),
            "workdays": len(table.workdays),
            "replaced_source": previous_source,
        }
        uow.audit(
            actor=actor, action="calendar.year_loaded", subject=f"calendar:{table.year}", details=details
        )


async def load_year_tables(db: Database) -> list[YearTable]:
    async with db.session() as session:
        rows = (await session.exec(select(CalendarYearRow).order_by(col(CalendarYearRow.year)))).all()
    return [
        YearTable(
            year=row.year,
            holidays=tuple(date.fromisoformat(d) for d in row.holidays),
            workdays=tuple(date.fromisoformat(d) for d in row.workdays),
            source=row.source,
        )
        for row in rows
    ]


async def working_calendar(db: Database) -> WorkingCalendar:
    """The calendar every deadline should use: the library plus the tables loaded into this database."""
    return WorkingCalendar(await load_year_tables(db))


class CalendarSource:
    """The stored calendar as a running process sees it: `gateway calendar load` takes effect without a restart.

    `current()` looks at the stored tables' version (their count and newest `loaded_at`: one aggregate over a
    table of a few rows) at most every `check_every` seconds, and re-reads the tables only when it changed.
    So a deadline computed more than `check_every` seconds after a load uses the new table, in every process,
    and the hot path pays one tiny query per interval, not one per request."""

    def __init__(
        self, db: Database, *, check_every: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.check_every = check_every
        self.clock = clock
        self.calendar = WorkingCalendar()
        self._version: tuple[int, Any] | None = None
        self._next_check = float("-inf")

    async def current(self) -> WorkingCalendar:
        now = self.clock()
        if now < self._next_check:
            return self.calendar
        self._next_check = now + self.check_every  # before awaiting: concurrent callers do not all check
        async with self.db.session() as session:
            found = await session.exec(select(func.count(), func.max(CalendarYearRow.loaded_at)))
            count, newest = found.one()
        version = (int(count), newest)
        if version != self._version:
            # Read after the version: a load in between makes the next check read again, never miss it.
            self.calendar = WorkingCalendar(await load_year_tables(self.db))
            if self._version is not None:
                log.info("calendar reloaded", tables=int(count), newest_loaded_at=str(newest))
            self._version = version
        return self.calendar
