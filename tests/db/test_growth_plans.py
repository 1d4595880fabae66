"""No read or claim that must stay flat as the register grows scans or sorts a whole large table: the SQL each one
really runs (through the services) is EXPLAINed on PostgreSQL with generated, ANALYZEd tables of 10⁴–10⁵
rows, where the planner picks a sequential scan, or sorts what it read, whenever no index serves the query."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from gateway.db import Database
from gateway.seed import INSTITUTIONS
from gateway.services.context import ServiceContext
from tests.conftest import blob_store
from tests.services.conftest import make_protector

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from growth.fill import fill
from growth.operations import OPERATIONS

pytestmark = pytest.mark.postgres
CASES = 50_000
LARGE = 10_000  # rows: a table this big is never read whole by these operations
_STATEMENTS = ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT")


def _whole_reads(plan: dict[str, Any], sizes: dict[str, float]) -> list[str]:
    """A sequential scan of a large table, or a sort of a large part of one: either costs in proportion to
    the register, however few rows the page shows (a newest-first page sorted from every delivered row)."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and sizes.get(plan.get("Relation Name", ""), 0) >= LARGE:
        found.append(f"Seq Scan on {plan['Relation Name']} ({sizes[plan['Relation Name']]:.0f} rows)")
    if plan.get("Node Type") == "Sort" and plan["Plans"][0]["Plan Rows"] >= LARGE:
        found.append(f"Sort of {plan['Plans'][0]['Plan Rows']} rows")
    for child in plan.get("Plans", []):
        found += _whole_reads(child, sizes)
    return found


async def test_no_operation_scans_a_large_table(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    db = Database(url)
    await db.migrate()
    protector = make_protector()
    filled = await fill(pg_dsn, CASES, protector)
    captured: list[tuple[str, tuple[Any, ...]]] = []

    def record(sql: str, args: Any) -> None:
        if sql.lstrip().upper().startswith(_STATEMENTS):
            captured.append((sql, tuple(args or ())))

    # Statements SQLAlchemy runs, and those gateway.db.prepared runs on the driver itself.
    event.listen(
        db.engine.sync_engine,
        "before_cursor_execute",
        lambda c, cur, sql, params, ctx, many: record(sql, params),
    )
    for name in ("fetch", "execute", "fetchrow"):
        original = getattr(asyncpg.Connection, name)

        def spy(self: Any, query: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if args:
                record(query, args)
            return _original(self, query, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, name, spy)

    ctx = ServiceContext(db=db, protector=protector, institutions=dict(INSTITUTIONS), blobs=blob_store())
    explain = await asyncpg.connect(pg_dsn)
    problems: list[str] = []
    try:
        sizes = {
            r["relname"]: float(r["reltuples"])
            for r in await explain.fetch("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        }
        assert sizes["case_record"] >= CASES and sizes["audit_log"] >= LARGE  # the statistics are there
        for operation in OPERATIONS:
            captured.clear()
            await operation.run(ctx, filled)
            assert captured, f"{operation.name}: no statement seen"
            for sql, args in captured:
                plan = json.loads(await explain.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args))[0]["Plan"]
                problems += [f"{operation.name}: {read}\n  {sql}" for read in _whole_reads(plan, sizes)]
    finally:
        await explain.close()
        await db.dispose()
    assert not problems, "\n".join(problems)
