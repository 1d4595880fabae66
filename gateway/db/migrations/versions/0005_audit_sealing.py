"""audit_log sealed after commit: an id key in insertion order, seq/prev_hash/hash NULL until sealed, row_hash

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 02:30:00.000000

Rows already in the log keep their seq (now also their id), prev_hash and hash, so the chain and its signed
checkpoints stay valid; their row_hash (SM3 of 0x01 and the canonical JSON of the fields without seq, as
gateway.db.audit_chain.audit_content_hash computes it) is filled in here. Downgrading needs every row
sealed first (`gateway audit verify` seals them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIELDS = ("at", "actor", "action", "subject", "case_id", "details")


def _row_hash(row: sa.RowMapping) -> str:
    # A frozen copy of audit_content_hash (a migration must not change when the code does).
    at = row["at"]
    if isinstance(at, str):  # SQLite hands back the stored text
        at = datetime.fromisoformat(at)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    details = row["details"] if not isinstance(row["details"], str) else json.loads(row["details"])
    body = {name: row[name] for name in _FIELDS} | {
        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "details": details,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"\x01" + text.encode("utf-8"))
    return digest.finalize().hex()


def _fill_row_hashes() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT seq, at, actor, action, subject, case_id, details FROM audit_log"))
    updates = [{"h": _row_hash(row._mapping), "s": row.seq} for row in rows]
    if updates:
        conn.execute(sa.text("UPDATE audit_log SET row_hash = :h WHERE seq = :s"), updates)


def _new_table(name: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("seq", name="uq_audit_log_seq"),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log DROP CONSTRAINT pk_audit_log")
        op.add_column("audit_log", sa.Column("id", sa.BigInteger(), nullable=True))
        op.add_column("audit_log", sa.Column("row_hash", sa.String(length=64), nullable=True))
        op.execute("UPDATE audit_log SET id = seq")
        _fill_row_hashes()
        op.execute("CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id")
        op.execute(
            "SELECT setval('audit_log_id_seq', COALESCE((SELECT max(id) FROM audit_log), 0) + 1, false)"
        )
        op.execute("ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq')")
        for column in ("id", "row_hash"):
            op.alter_column("audit_log", column, nullable=False)
        for column in ("seq", "prev_hash", "hash"):
            op.alter_column("audit_log", column, nullable=True)
        op.create_primary_key("pk_audit_log", "audit_log", ["id"])
        op.create_unique_constraint("uq_audit_log_seq", "audit_log", ["seq"])
        return
    # SQLite: a new table (its INTEGER PRIMARY KEY is the rowid, which autoincrements), rows copied over.
    op.add_column("audit_log", sa.Column("row_hash", sa.String(length=64), nullable=True))
    _fill_row_hashes()
    _new_table("_audit_log_0005")
    op.execute(
        "INSERT INTO _audit_log_0005 (id, seq, at, actor, action, subject, case_id, details, row_hash, "
        "prev_hash, hash) SELECT seq, seq, at, actor, action, subject, case_id, details, row_hash, prev_hash, "
        "hash FROM audit_log"
    )
    op.drop_index("ix_audit_log_case_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.rename_table("_audit_log_0005", "audit_log")
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"], unique=False)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE seq IS NULL")).scalar_one():
        raise RuntimeError(
            "unsealed audit rows: run `gateway audit verify` (it seals them) before downgrading"
        )
    if conn.dialect.name == "postgresql":
        op.drop_constraint("uq_audit_log_seq", "audit_log", type_="unique")
        op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
        for column in ("seq", "prev_hash", "hash"):
            op.alter_column("audit_log", column, nullable=False)
        op.create_primary_key("pk_audit_log", "audit_log", ["seq"])
        op.drop_column("audit_log", "row_hash")
        op.drop_column("audit_log", "id")  # drops the sequence it owns
        return
    op.create_table(
        "_audit_log_0004",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.execute(
        "INSERT INTO _audit_log_0004 (seq, at, actor, action, subject, case_id, details, prev_hash, hash) "
        "SELECT seq, at, actor, action, subject, case_id, details, prev_hash, hash FROM audit_log"
    )
    op.drop_index("ix_audit_log_case_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.rename_table("_audit_log_0004", "audit_log")
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"], unique=False)
