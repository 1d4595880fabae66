"""The unit of work: state, audit records and outbox rows commit together or not at all, on both databases."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import select

from gateway.db import Database
from gateway.db.tables.infra import AuditRecord, CalendarYearRow, OutboxRow
from gateway.errors import ConfigError


class Boom(Exception):
    pass


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        years = (await session.exec(select(func.count()).select_from(CalendarYearRow))).one()
        audits = (await session.exec(select(func.count()).select_from(AuditRecord))).one()
        outbox = (await session.exec(select(func.count()).select_from(OutboxRow))).one()
    return years, audits, outbox


def year_row(year: int) -> CalendarYearRow:
    return CalendarYearRow(year=year, source="test", loaded_at=datetime.now(UTC), loaded_by="tester")


async def test_a_committed_unit_of_work_writes_the_row_the_audit_record_and_the_outbox_row(
    db: Database,
) -> None:
    woken: list[str] = []
    async with db.transaction() as uow:
        uow.session.add(year_row(2031))
        uow.audit(actor="clerk-1", action="case.received", subject="case:c1", case_id="c1", details={"n": 1})
        job_id = uow.outbox(job="utility.transfer", target="dg-water", payload={"unit": "U1"}, case_id="c1")

        async def wake() -> None:
            woken.append(job_id)

        uow.after_commit(wake)
        assert woken == []  # not before the commit
    assert woken == [job_id]
    assert await counts(db) == (1, 1, 1)
    async with db.session() as session:
        row = await session.get(OutboxRow, job_id)
    assert row is not None
    assert (row.status, row.attempts, row.case_id, row.payload) == ("pending", 0, "c1", {"unit": "U1"})
    assert len(job_id) == 32


async def test_an_exception_after_writing_leaves_no_row_no_audit_and_no_outbox(db: Database) -> None:
    callbacks: list[str] = []
    with pytest.raises(Boom):
        async with db.transaction() as uow:
            uow.session.add(year_row(2031))
            await uow.session.flush()  # the row really reached the database inside the transaction
            uow.audit(actor="clerk-1", action="case.received", subject="case:c1")
            uow.outbox(job="bank.notify", target="icbc-dg", payload={})
            uow.after_commit(lambda: callbacks.append("ran"))
            raise Boom
    assert await counts(db) == (0, 0, 0)
    assert callbacks == []


async def test_a_failure_at_commit_time_leaves_nothing_half_done(db: Database) -> None:
    async with db.transaction() as uow:
        uow.session.add(year_row(2030))
    with pytest.raises(IntegrityError):
        async with db.transaction() as uow:
            uow.session.add(year_row(2031))
            uow.session.add(year_row(2030))  # duplicate key: fails in the flush before commit
            uow.audit(actor="clerk-1", action="x", subject="y")
            uow.outbox(job="bank.notify", target="icbc-dg", payload={})
    assert await counts(db) == (1, 0, 0)


async def test_money_and_times_are_stored_exactly_and_times_come_back_in_utc(db: Database) -> None:
    beijing = timezone(timedelta(hours=8))
    later = datetime(2026, 10, 8, 9, 30, 0, 123456, tzinfo=beijing)
    async with db.transaction() as uow:
        job_id = uow.outbox(
            job="bank.notify",
            target="icbc-dg",
            payload={"amount": Decimal("1200000.10"), "due": later},
            not_before=later,
        )
        uow.audit(actor="a", action="b", subject="c", details={"amount": Decimal("0.30")})
    async with db.session() as session:
        row = await session.get(OutboxRow, job_id)
        audit = (await session.exec(select(AuditRecord))).one()
    assert row is not None
    assert row.payload == {"amount": "1200000.10", "due": "2026-10-08T01:30:00.123456Z"}
    assert row.next_attempt_at == later
    assert row.next_attempt_at.tzinfo == UTC
    assert row.created_at.tzinfo == UTC
    assert audit.details == {"amount": "0.30"}


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.transaction() as uow:
            uow.outbox(job="j", target="t", payload={}, not_before=datetime(2026, 1, 1))
    assert await counts(db) == (0, 0, 0)


async def test_a_failing_after_commit_callback_is_logged_and_the_commit_stands(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("dispatcher asleep")

    with caplog.at_level(logging.ERROR, logger="gateway.db.uow"):
        async with db.transaction() as uow:
            uow.audit(actor="a", action="b", subject="c")
            uow.after_commit(broken)
    assert await counts(db) == (0, 1, 0)
    assert "after-commit callback" in caplog.text


async def test_concurrent_writers_that_read_first_never_hit_database_is_locked(db: Database) -> None:
    # Read-then-write is what fails on SQLite without BEGIN IMMEDIATE (a lock upgrade is not retried).
    async def writer(i: int) -> None:
        async with db.transaction() as uow:
            await uow.session.exec(select(func.count()).select_from(CalendarYearRow))
            await asyncio.sleep(0)  # let the others start their transactions too
            uow.session.add(year_row(2100 + i))
            uow.audit(actor=f"w{i}", action="write", subject=f"year:{2100 + i}")

    await asyncio.gather(*(writer(i) for i in range(30)))
    assert await counts(db) == (30, 30, 0)


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        async with db.session() as session:
            conn = await session.connection()
            pragmas = [
                (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            ]
    finally:
        await db.dispose()
    assert pragmas == ["wal", 10000, 1]


def test_urls_people_type_are_accepted_and_bad_ones_refused() -> None:
    assert Database("sqlite:///var/gateway.db").url.drivername == "sqlite+aiosqlite"
    assert Database("postgresql://gw@127.0.0.1:1/nowhere").dialect == "postgresql"  # nothing connects yet
    for bad in ("sqlite://", "sqlite+aiosqlite:///:memory:", "mysql://x@y/z", "not a url"):
        with pytest.raises(ConfigError):
            Database(bad)


async def test_sqlite_an_open_reader_does_not_hold_up_a_writer(tmp_path: Path) -> None:
    # Read sessions begin DEFERRED; were they IMMEDIATE, this writer would wait out busy_timeout and fail.
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    await db.migrate()
    try:
        async with db.session() as reader:
            await reader.exec(select(func.count()).select_from(AuditRecord))
            async with asyncio.timeout(5):
                async with db.transaction() as uow:
                    uow.audit(actor="a", action="b", subject="c")
        assert await counts(db) == (0, 1, 0)
    finally:
        await db.dispose()
