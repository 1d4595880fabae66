"""A cut tail of the audit log is caught by `gateway audit verify`, on SQLite and PostgreSQL (issue 16, defect 5).

The tamperer here may drop the append-only guards: deleting the last rows and every checkpoint after the cut
leaves a whole chain. With a trusted checkpoint key, verify then fails (no checkpoint, or only an old one),
and a signed head exported to a file outside the database names the cut row.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gateway.cli import main
from gateway.settings import AuditSettings, Settings

TABLE_2027 = {
    "year": 2027,
    "holidays": ["2027-01-01", *(f"2027-02-{d:02d}" for d in range(6, 14))],
    "workdays": ["2027-02-14"],
    "source": "test data shaped like 国务院办公厅关于2027年部分节假日安排的通知",
}


class Store:
    """The gateway's database as the operator's CLI and a tamperer with the owner's rights see it."""

    def __init__(self, kind: str, tmp_path: Path, pg_dsn: str | None) -> None:
        self.kind, self.tmp_path, self.pg_dsn = kind, tmp_path, pg_dsn
        url = (
            f"sqlite:///{tmp_path / 'gw.db'}"
            if pg_dsn is None
            else pg_dsn.replace("postgresql://", "postgresql+asyncpg://")
        )
        self.settings = Settings(database_url=url, data_dir=tmp_path / "var")
        self.table = tmp_path / "2027.json"
        self.table.write_text(json.dumps(TABLE_2027, ensure_ascii=False), encoding="utf-8")

    def gateway(self, *args: str, settings: Settings | None = None) -> int:
        return main(list(args), settings=settings or self.settings)

    def load_calendar(self, times: int) -> None:
        for _ in range(times):
            assert self.gateway("calendar", "load", str(self.table)) == 0

    def sql(self, *statements: str, guarded: bool = False) -> None:
        """Run `statements`; unless `guarded`, with the append-only triggers dropped first, as a tamperer would."""
        if self.pg_dsn is None:
            with sqlite3.connect(self.tmp_path / "gw.db") as conn:
                if not guarded:
                    for name in (
                        "audit_log_seal_only",
                        "audit_log_no_delete",
                        "audit_checkpoint_no_update",
                        "audit_checkpoint_no_delete",
                    ):
                        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
                for statement in statements:
                    conn.execute(statement)
            return

        async def run(dsn: str) -> None:
            conn = await asyncpg.connect(dsn)
            try:
                if not guarded:
                    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
                    await conn.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(run(self.pg_dsn))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    dsn = None if request.param == "sqlite" else str(request.getfixturevalue("pg_dsn"))
    store = Store(request.param, tmp_path, dsn)
    assert store.gateway("migrate") == 0
    yield store


def test_deleting_the_tail_and_the_checkpoints_fails_verify(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store.load_calendar(3)  # seq 1-3
    assert (
        store.gateway("audit", "checkpoint") == 0
    )  # signs seq 3 (and creates the trusted key), audited as 4
    store.load_calendar(2)  # seq 5-6
    assert store.gateway("audit", "checkpoint") == 0  # signs seq 6, audited as 7
    assert store.gateway("audit", "verify") == 0
    capsys.readouterr()

    store.sql("DELETE FROM audit_log WHERE seq >= 4", "DELETE FROM audit_checkpoint")
    assert store.gateway("audit", "verify") == 1
    out = capsys.readouterr().out
    assert "audit chain OK: 3 rows" in out  # the chain alone cannot see it
    assert "checkpoint FAILED: no checkpoint" in out and "没有检查点" in out


def test_the_checkpoint_table_refuses_update_and_delete(store: Store) -> None:
    store.load_calendar(1)
    assert store.gateway("audit", "checkpoint") == 0
    for statement in ("DELETE FROM audit_checkpoint", "UPDATE audit_checkpoint SET seq = 0"):
        with pytest.raises(Exception, match="append-only"):
            store.sql(statement, guarded=True)
    if store.kind == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            store.sql("TRUNCATE audit_checkpoint", guarded=True)
    assert store.gateway("audit", "verify") == 0


def test_an_exported_head_catches_a_tail_cut_behind_an_older_checkpoint(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    export = store.tmp_path / "outside" / "audit-heads.jsonl"
    store.load_calendar(2)  # seq 1-2
    assert store.gateway("audit", "checkpoint", "--export", str(export)) == 0  # signs 2, audited as 3
    store.load_calendar(2)  # seq 4-5
    assert store.gateway("audit", "checkpoint", "--export", str(export)) == 0  # signs 5, audited as 6
    lines = export.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [2, 5]
    assert store.gateway("audit", "verify", "--against", str(export)) == 0
    assert "exported head OK: seq 5" in capsys.readouterr().out

    # Cut after the first checkpoint and delete only the newer one: the database alone still looks right.
    store.sql("DELETE FROM audit_log WHERE seq >= 4", "DELETE FROM audit_checkpoint WHERE seq = 5")
    assert store.gateway("audit", "verify") == 0
    capsys.readouterr()
    assert store.gateway("audit", "verify", "--against", str(export)) == 1
    out = capsys.readouterr().out
    assert "row 5 signed by checkpoint" in out and "tail cut" in out and "末尾被截断" in out

    forged = store.tmp_path / "forged.jsonl"
    line = json.loads(lines[0]) | {"seq": 3}
    forged.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert store.gateway("audit", "verify", "--against", str(forged)) == 1
    assert "signature does not verify" in capsys.readouterr().out


def test_an_old_newest_checkpoint_fails_verify(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    store.load_calendar(1)
    assert store.gateway("audit", "checkpoint") == 0
    strict = store.settings.model_copy(update={"audit": AuditSettings(checkpoint_max_age_hours=0.0002)})
    time.sleep(1.0)  # 0.0002 h = 0.72 s
    capsys.readouterr()
    assert store.gateway("audit", "verify", settings=strict) == 1
    out = capsys.readouterr().out
    assert "newest checkpoint 1 is" in out and "limit" in out
    assert store.gateway("audit", "verify") == 0  # the default allows a day and an hour


def test_the_signed_head_also_goes_to_the_log(tmp_path: Path) -> None:
    """As an operator runs it (its own process): the log, shipped elsewhere, carries every signed head."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env |= {"GW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "GW_DATA_DIR": str(tmp_path / "var")}
    export = tmp_path / "heads.jsonl"

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        command = Path(sys.executable).with_name("gateway")
        return subprocess.run(
            [str(command), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    assert gateway("migrate").returncode == 0
    signed = gateway("audit", "checkpoint", "--export", str(export))
    assert signed.returncode == 0, signed.stderr
    head = json.loads(export.read_text(encoding="utf-8"))
    logged = signed.stdout + signed.stderr
    assert "audit checkpoint signed" in logged and head["signature"] in logged
