"""Appending to the hash-chained audit log: the row hash and the locked append at commit time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

import certs
from gateway.db.jsoncanon import canonical_json, format_timestamp
from gateway.db.tables import metadata

__all__ = ["AUDIT_LOCK_KEY", "GENESIS_HASH", "append_audit_records", "audit_row_hash"]

GENESIS_HASH = "0" * 64  # prev_hash of the first row
# pg_advisory_xact_lock key of the append ("gwaudit" in ASCII): one lock for the one chain.
AUDIT_LOCK_KEY = 0x67_7761_7564_6974
_LEAF_PREFIX = b"\x00"  # domain separation as in RFC 6962 leaves; leaves room for other hashed kinds

_AUDIT = metadata.tables["audit_log"]


def audit_row_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    case_id: str | None,
    details: Mapping[str, Any],
) -> str:
    """SM3(0x00 ‖ prev_hash ‖ canonical JSON of the row's fields), lower-case hex."""
    body = canonical_json(
        {
            "seq": seq,
            "at": format_timestamp(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "case_id": case_id,
            "details": details,
        }
    )
    return certs.sm3(_LEAF_PREFIX + bytes.fromhex(prev_hash) + body.encode("utf-8")).hex()


async def append_audit_records(
    conn: AsyncConnection,
    dialect: Literal["sqlite", "postgresql"],
    records: Sequence[Mapping[str, Any]],
) -> None:
    """Chain and insert `records` (at, actor, action, subject, case_id, details) as the last statements of
    the caller's transaction; the caller commits right after, which releases the lock.

    PostgreSQL: a transaction-scoped advisory lock serialises appenders from any process, and under READ
    COMMITTED the head read after taking it sees the previous appender's committed row. SQLite: the
    transaction already holds the database write lock (BEGIN IMMEDIATE). The seq primary key is the last
    guard: two appenders that somehow read the same head cannot both commit.
    """
    if not records:
        return
    if dialect == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    head = (
        await conn.execute(select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1))
    ).first()
    seq, prev_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH)
    rows = []
    for record in records:
        seq += 1
        row_hash = audit_row_hash(prev_hash, seq=seq, **record)
        rows.append({**record, "seq": seq, "prev_hash": prev_hash, "hash": row_hash})
        prev_hash = row_hash
    await conn.execute(insert(_AUDIT), rows)
