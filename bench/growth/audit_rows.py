"""Sealed audit rows, generated: valid links and content hashes, written with COPY (10⁶ rows in seconds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from gateway.db.audit_chain import GENESIS_HASH
from gateway.db.audit_walk import _sm3_hex
from gateway.db.jsoncanon import format_timestamp

_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]
COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "case_id",
    "details",
    "row_hash",
    "prev_hash",
    "hash",
)


def audit_rows(
    first_seq: int, count: int, prev_hash: str, *, start: datetime, case_ids: list[str]
) -> Iterator[tuple[Any, ...]]:
    """Rows first_seq … first_seq+count-1 chained after `prev_hash`, spelled exactly as the gateway writes
    them (canonical JSON), so a verify walks them on its fast path."""
    for seq in range(first_seq, first_seq + count):
        at = start + timedelta(seconds=seq)
        case_id = case_ids[seq % len(case_ids)] if case_ids else None
        actor, action, subject = "party:icbc-dg", "case.received", f"case:{case_id or seq}"
        details = json.dumps(
            {"kind": "mortgage_registration", "state": "received", "unit_code": f"4419{seq:024d}"[:28]},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        head = (
            '{"action":'
            + _quote(action)
            + ',"actor":'
            + _quote(actor)
            + ',"at":"'
            + format_timestamp(at)
            + '","case_id":'
            + ("null" if case_id is None else _quote(case_id))
            + ',"details":'
            + details
        )
        tail = ',"subject":' + _quote(subject) + "}"
        row_hash = _sm3_hex(b"\x01" + (head + tail).encode())
        link = _sm3_hex(b"\x00" + bytes.fromhex(prev_hash) + (head + ',"seq":' + str(seq) + tail).encode())
        yield (seq, at, actor, action, subject, case_id, details, row_hash, prev_hash, link)
        prev_hash = link


async def fill_audit(
    conn: asyncpg.Connection, count: int, case_ids: list[str], *, chunk: int = 50_000
) -> str:
    """Append `count` sealed rows after the current head (the append-only trigger refuses no INSERT)."""
    head = await conn.fetchrow(
        "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
    )
    seq, prev = (int(head["seq"]), str(head["hash"])) if head else (0, GENESIS_HASH)
    start = datetime(2017, 1, 1, tzinfo=UTC)
    done = 0
    while done < count:
        n = min(chunk, count - done)
        rows = list(audit_rows(seq + 1, n, prev, start=start, case_ids=case_ids))
        await conn.copy_records_to_table("audit_log", records=rows, columns=COLUMNS)
        seq, prev = rows[-1][0], rows[-1][-1]
        done += n
    return prev
