"""Statements run on the driver directly: inside the unit of work's transaction (rolled back with it), alone in
autocommit, with values converted as SQLAlchemy converts them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import StatementError

from gateway.db import Database
from gateway.db.prepared import Prepared
from gateway.db.tables import metadata

YEARS = metadata.tables["calendar_year"]
ADD = Prepared(insert(YEARS))
COUNT = Prepared(select(func.count().label("n")).select_from(YEARS))
ONE = Prepared(select(YEARS).where(YEARS.c.year == bindparam("y")))
AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def year(n: int) -> dict[str, object]:
    return {
        "year": n,
        "holidays": ["2031-01-01"],
        "workdays": [],
        "source": "s",
        "loaded_at": AT,
        "loaded_by": "t",
    }


async def count(db: Database) -> int:
    return int((await COUNT.fetch_alone(db))[0]["n"])


async def test_statements_join_the_unit_of_work_and_roll_back_with_it(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as uow:
            conn = await uow.session.connection()
            await COUNT.fetch(conn)  # begins the transaction (through SQLAlchemy: none was open yet)
            assert await ADD.execute(conn, year(2031)) == 1  # on the driver, inside it
            assert len(await ONE.fetch(conn, {"y": 2031})) == 1  # seen by the transaction itself
            raise RuntimeError("roll back")
    assert await count(db) == 0
    async with db.transaction() as uow:
        conn = await uow.session.connection()
        assert await ADD.execute(conn, year(2031)) == 1  # first statement of its transaction
    assert await count(db) == 1


async def test_alone_statements_commit_by_themselves(db: Database) -> None:
    assert await ADD.execute_alone(db, year(2032)) == 1
    (row,) = await ONE.fetch_alone(db, {"y": 2032})
    assert (row["holidays"], row["loaded_at"]) == (["2031-01-01"], AT)  # JSON and UTC come back as written
    assert row["loaded_at"].tzinfo is not None


async def test_values_are_checked_as_sqlalchemy_checks_them(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await ADD.execute_alone(db, year(2033) | {"loaded_at": datetime(2026, 1, 1)})
    assert await count(db) == 0
    if db.dialect == "postgresql":  # SQLAlchemy expands IN lists at each execution; the driver path cannot
        with pytest.raises(ValueError, match="expanding"):
            await Prepared(select(YEARS).where(YEARS.c.year.in_([1, 2]))).fetch_alone(db)
