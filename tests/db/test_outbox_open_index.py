"""A pull provider's job list reads its own open rows through ix_outbox_open_by_target, whatever the backlog.

Before the partial index, PostgreSQL read every open outbox row of every party (ix_outbox_due) to find one
provider's page: a bank that is down for a day leaves tens of thousands pending, and every provider's poll
paid for them. The plan is what a database operator would look at; the list itself must stay right.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from gateway.db import Database
from gateway.services import effects
from gateway.services.context import ServiceContext
from gateway.services.utilities import providers
from gateway.services.utilities.providers import open_jobs
from tests.conftest import blob_store
from tests.utilities.harness import protector

BACKLOG = 20_000  # another party's open rows
OWN = 5  # the provider's


async def _fill(db: Database) -> list[str]:
    """BACKLOG open rows for a bank, some delivered ones, and OWN open jobs for dg-water; its ids, oldest first."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    common = {"payload": json.dumps({"service": "water"}), "attempts": 0, "next_attempt_at": start}
    insert = text(
        "INSERT INTO outbox (id, job, target, payload, case_id, status, attempts, next_attempt_at, created_at)"
        " VALUES (:id, :job, :target, :payload, NULL, :status, :attempts, :next_attempt_at, :created_at)"
    )
    rows: list[dict[str, Any]] = [
        {
            **common,
            "id": f"b{i:031d}",
            "job": "bank.notify",
            "target": "ccb-dg",
            "status": "pending" if i % 4 else "in_flight",
            "created_at": start + timedelta(seconds=i),
        }
        for i in range(BACKLOG)
    ]
    own = [f"w{i:031d}" for i in range(OWN)]
    rows += [
        {
            **common,
            "id": row_id,
            "job": effects.UTILITY_TRANSFER,
            "target": "dg-water",
            "status": "pending",
            "created_at": start + timedelta(seconds=BACKLOG - i),  # ids ascend, times descend
        }
        for i, row_id in enumerate(own)
    ]
    rows.append({**rows[-1], "id": "w" + "9" * 31, "status": "delivered"})  # done: not listed
    async with db.engine.begin() as conn:
        await conn.execute(insert, rows)
        await conn.execute(text("ANALYZE outbox"))
    return list(reversed(own))


async def _plan(db: Database, params: dict[str, Any]) -> str:
    """The plan of the list's statement as it runs (for PostgreSQL also its generic plan, used once a
    prepared statement has run a few times)."""
    sql, arguments = providers._OPEN_JOBS._arguments(db.engine.dialect, params)
    async with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            found = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(arguments))
            return "\n".join(str(row[-1]) for row in found)
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        custom = await driver.fetch(f"EXPLAIN {sql}", *arguments)
        # The generic plan: what a prepared statement runs on once PostgreSQL stops re-planning per value.
        await driver.execute(f"PREPARE listing AS {sql}")
        await driver.execute("SET plan_cache_mode = force_generic_plan")
        literals = ", ".join(
            str(a) if isinstance(a, int) else "'" + a.replace("'", "''") + "'" for a in arguments
        )
        generic = await driver.fetch(f"EXPLAIN EXECUTE listing({literals})")
        await driver.execute("DEALLOCATE listing; RESET plan_cache_mode")
        plans = [row[0] for row in [*custom, *generic]]
        return "\n".join(plans)


async def test_the_job_list_reads_only_the_providers_open_rows(db: Database) -> None:
    expected = await _fill(db)
    ctx = ServiceContext(db=db, protector=protector(), institutions={}, blobs=blob_store())

    listed = await open_jobs(ctx, "dg-water", limit=50)
    assert [job.id for job in listed.items] == expected  # oldest first; the delivered one left out
    assert (await open_jobs(ctx, "dg-water", limit=2, offset=1)).items == listed.items[1:3]

    plan = await _plan(db, {"p_provider": "dg-water", "p_limit": 50, "p_offset": 0})
    assert "ix_outbox_open_by_target" in plan, plan
    assert "ix_outbox_due" not in plan, plan
