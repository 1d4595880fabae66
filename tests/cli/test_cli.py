"""The `gateway` command end to end: migrate, calendar tables, audit checkpoint and verify naming a tampered row.

SQLite through the installed entry point in a subprocess (as an operator runs it); PostgreSQL in-process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from gateway.cli import main
from gateway.settings import Settings

TABLE_2027 = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", *(f"2027-02-{d:02d}" for d in range(6, 14))],
    "workdays": ["2027-02-14", "2027-02-20"],
    "source": "test data shaped like 国务院办公厅关于2027年部分节假日安排的通知",
}


def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}", data_dir=tmp_path / "var")


def gateway(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env |= {"GW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "GW_DATA_DIR": str(tmp_path / "var")}
    command = Path(sys.executable).with_name("gateway")
    return subprocess.run(
        [str(command), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_sqlite_tampered_audit_row_is_named_by_gateway_audit_verify(tmp_path: Path) -> None:
    # Set up in-process (the same settings the subprocess gets from GW_*), then check as an operator would.
    settings = sqlite_settings(tmp_path)
    table_file = tmp_path / "2027.json"
    table_file.write_text(json.dumps(TABLE_2027, ensure_ascii=False), encoding="utf-8")
    assert main(["migrate"], settings=settings) == 0
    assert main(["calendar", "load", str(table_file)], settings=settings) == 0  # audited: seq 1
    assert main(["calendar", "load", str(table_file)], settings=settings) == 0  # seq 2 (replaces)
    assert main(["audit", "checkpoint"], settings=settings) == 0  # signs seq 2, audited as seq 3
    ok = gateway(tmp_path, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Incremental by default: the checkpointed row 2 is re-checked, then only row 3 is walked.
    assert "1 rows, head seq 3" in ok.stdout and "incremental from checkpoint 1" in ok.stdout
    assert "checkpoints OK: 1" in ok.stdout
    full = gateway(tmp_path, "audit", "verify", "--full")
    assert full.returncode == 0 and "3 rows" in full.stdout

    with sqlite3.connect(tmp_path / "gw.db") as conn:  # one byte: 2027 → 2028 in row 2's subject
        conn.execute("DROP TRIGGER audit_log_seal_only")  # the append-only guard, as a tamperer would
        conn.execute("UPDATE audit_log SET subject = 'calendar:2028' WHERE seq = 2")
    broken = gateway(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN at seq 2" in broken.stdout
    assert "content changed" in broken.stdout and "第2条记录" in broken.stdout


def test_calendar_show_reports_where_a_year_comes_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sqlite_settings(tmp_path)
    table_file = tmp_path / "2027.json"
    table_file.write_text(json.dumps(TABLE_2027, ensure_ascii=False), encoding="utf-8")
    assert main(["migrate"], settings=settings) == 0
    capsys.readouterr()
    assert main(["calendar", "show", "2027"], settings=settings) == 0
    assert "provisional" in capsys.readouterr().out
    assert main(["calendar", "load", str(table_file)], settings=settings) == 0
    capsys.readouterr()
    assert main(["calendar", "show", "2027"], settings=settings) == 0
    after = capsys.readouterr().out
    assert "loaded official table" in after and "2027-02-20" in after
    assert main(["calendar", "show", "2026"], settings=settings) == 0
    library = capsys.readouterr().out
    assert "chinesecalendar" in library and "2026-10-10" in library


def test_bad_input_exits_2_with_both_languages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = sqlite_settings(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"year": 2027, "holidays": ["2026-12-31"], "source": "x"}', encoding="utf-8")
    assert main(["migrate"], settings=settings) == 0
    assert main(["calendar", "load", str(bad)], settings=settings) == 2
    err = capsys.readouterr().err
    assert "not a valid year table" in err and "格式错误" in err
    assert main(["calendar", "load", str(tmp_path / "nope.json")], settings=settings) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main([], settings=settings) == 2  # no command: the help, on stderr
    assert "migrate" in capsys.readouterr().err


@pytest.mark.postgres
def test_postgresql_tampered_audit_row_is_named_in_process(
    pg_url: str, pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=pg_url, data_dir=tmp_path / "var")
    table_file = tmp_path / "2027.json"
    table_file.write_text(json.dumps(TABLE_2027, ensure_ascii=False), encoding="utf-8")
    assert main(["migrate"], settings=settings) == 0
    for _ in range(3):
        assert main(["calendar", "load", str(table_file)], settings=settings) == 0
    assert main(["audit", "verify"], settings=settings) == 0

    async def tamper() -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")  # as a tamperer would
            await conn.execute("UPDATE audit_log SET actor = actor || 'x' WHERE seq = 2")
        finally:
            await conn.close()

    asyncio.run(tamper())
    capsys.readouterr()
    assert main(["audit", "verify"], settings=settings) == 1
    out = capsys.readouterr().out
    assert "BROKEN at seq 2" in out and "审计链在第2条记录处断裂" in out
