"""Official year tables kept in the database (`gateway calendar load`), so every gateway process sees them."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col, select

from gateway.db.database import Database
from gateway.db.tables.infra import CalendarYearRow
from gateway.db.types import utcnow
from gateway.domain.calendar import WorkingCalendar, YearTable

__all__ = ["load_year_tables", "save_year_table", "working_calendar"]


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
