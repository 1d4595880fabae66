"""Writes queued on a unit of work: written at commit in their order (one statement on PostgreSQL), rolled
back together, and an update that must match one row decides whether anything is written at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select, text, update

from gateway.db import Database
from gateway.db.audit_chain import AuditSealer
from gateway.db.tables import metadata
from gateway.errors import Conflict

YEARS = metadata.tables["calendar_year"]
CASES, TRANSITIONS = metadata.tables["case_record"], metadata.tables["case_transition"]
RENAME = (
    update(YEARS).where(YEARS.c.year == bindparam("y"), YEARS.c.source == "draft").values(source="official")
)
AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def year(n: int, holidays: list[str]) -> dict[str, object]:
    return {
        "year": n,
        "holidays": holidays,
        "workdays": [],
        "source": "draft",
        "loaded_at": AT,
        "loaded_by": "t",
    }


def lost_race() -> Conflict:
    return Conflict("the row was changed meanwhile", "记录已被他人修改")


async def years(db: Database) -> list[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        found = await conn.execute(
            select(YEARS.c.year, YEARS.c.holidays, YEARS.c.source).order_by(YEARS.c.year)
        )
        return [tuple(r) for r in found]


async def test_queued_rows_and_the_matching_update_are_written_together(db: Database) -> None:
    async with db.transaction() as uow:
        uow.insert(YEARS, [year(2030, ["2030-01-01"])])
    async with db.transaction() as uow:
        uow.insert(YEARS, [year(2031, ["2031-01-01", "2031-10-01"]), year(2032, [])])  # JSON lists stay lists
        uow.audit(actor="t", action="calendar.loaded", subject="calendar:2031")
        uow.audit(actor="t", action="calendar.loaded", subject="calendar:2032")
        uow.update_one(RENAME, {"y": 2030}, lost_race)
    assert await years(db) == [
        (2030, ["2030-01-01"], "official"),
        (2031, ["2031-01-01", "2031-10-01"], "draft"),
        (2032, [], "draft"),
    ]
    await AuditSealer(db).seal_once()
    async with db.engine.connect() as conn:
        subjects = (await conn.execute(text("SELECT subject FROM audit_log ORDER BY seq"))).scalars().all()
    assert subjects == ["calendar:2031", "calendar:2032"]  # a transaction's records keep their order


async def test_an_update_that_matches_nothing_rolls_everything_back(db: Database) -> None:
    with pytest.raises(Conflict):
        async with db.transaction() as uow:
            uow.insert(YEARS, [year(2031, [])])
            uow.outbox(job="bank.notify", target="icbc-dg", payload={})
            uow.update_one(RENAME, {"y": 2099}, lost_race)  # no such year
    assert await years(db) == []
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 0


async def test_a_parent_and_its_children_queued_together_satisfy_the_foreign_key(db: Database) -> None:
    case = {"id": "c" * 32, "kind": "contract_filing", "state": "received", "unit_code": "u" * 28}
    case |= {
        "submitted_by": "icbc-dg",
        "branch": "b",
        "clerk": "c",
        "input": {},
        "tracks": {},
        "rule_results": [],
    }
    case |= {"reason": "", "rank": None, "received_at": AT, "deadline_at": AT, "updated_at": AT, "version": 1}
    moves = [
        {"case_id": "c" * 32, "from_state": None, "to_state": s, "actor": "a", "at": AT} for s in ("a", "b")
    ]
    async with db.transaction() as uow:
        uow.insert(CASES, [case])
        uow.insert(TRANSITIONS, moves)
    async with db.engine.connect() as conn:
        found = await conn.execute(select(TRANSITIONS.c.to_state).order_by(TRANSITIONS.c.id))
        assert found.scalars().all() == ["a", "b"]
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        async with db.transaction() as uow:  # a child without its parent is still refused
            uow.insert(TRANSITIONS, [{**moves[0], "case_id": "d" * 32}])
