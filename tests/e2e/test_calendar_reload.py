"""`gateway calendar load` takes effect in a running gateway without a restart, on SQLite and PostgreSQL.

The operator loads a year table with the CLI (a separate process) while the gateway serves; the next case
submitted after the check interval gets its deadline from the new table.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.domain.calendar import library_year_table
from sandbox.stage import Stage, StageOptions
from sandbox.story import submission, terms
from tests.services import builders

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def stage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stage]:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage", database_url=url))
    try:
        yield running
    finally:
        await running.stop()


async def deadline_of_a_new_case(stage: Stage, loan: str) -> date:
    case = builders.mortgage_registration(mortgage=terms(loan, "600000.00"))
    reply = await stage.bank("psbc-dg").post("/api/v1/cases", submission(case, "松山湖支行", "柜员0101"))
    assert reply.status == 201, reply.json()
    body = reply.json()
    return datetime.fromisoformat(body["deadline_at"]).astimezone(SHANGHAI).date()


async def gateway_cli(stage: Stage, *args: str) -> str:
    """The `gateway` command in a process of its own, configured as the operator configures the gateway."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        env={**os.environ, **stage.environment()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_loaded_table_changes_the_next_deadline_of_the_running_gateway(
    stage: Stage, tmp_path: Path
) -> None:
    before = await deadline_of_a_new_case(stage, "PSBC-DK-2026-7001")
    # The State Council (in this test) declares that day a holiday: the same year as the library knows it,
    # with that day off.
    known = library_year_table(before.year)
    holidays = {*(known.holidays if known else ()), before}
    workdays = {*(known.workdays if known else ())} - {before}
    table = {
        "year": before.year,
        "holidays": sorted(d.isoformat() for d in holidays),
        "workdays": sorted(d.isoformat() for d in workdays),
        "source": f"test: {before.isoformat()} declared a day off",
    }
    table_file = tmp_path / "table.json"
    table_file.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    assert "loaded" in await gateway_cli(stage, "calendar", "load", str(table_file))

    await asyncio.sleep(stage.settings.calendar_check_seconds + 0.3)
    after = await deadline_of_a_new_case(stage, "PSBC-DK-2026-7002")
    assert after > before, (before, after)
