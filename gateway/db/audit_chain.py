"""The audit log's hash chain: writers insert rows with a content hash and no lock; one sealer links them.

Writing. A transaction inserts its audit rows at commit, with its other queued rows (gateway.db.uow), each
with `row_hash` = SM3(0x01 ‖ canonical JSON of at, actor, action, subject, case_id, details) and no
position: `seq`, `prev_hash` and `hash` are NULL. No lock is taken and nothing is read, so writers never
queue behind each other (the old design held `pg_advisory_xact_lock` from the head read to COMMIT, and
under asyncio load every writer waited for it: ~60 submissions/s on the bench, 4 connections waiting).

Sealing. `seal_pending` takes the sealer lock (a transaction-scoped advisory lock on PostgreSQL, the write
lock on SQLite), reads the sealed head, and gives the committed unsealed rows, in `id` order, the next
`seq` numbers and their chain hashes: `hash[n] = SM3(0x00 ‖ hash[n-1] ‖ canonical JSON of the row with
seq n)` — the formula rows have always had, so chains and checkpoints written before this design stay valid.
Only committed rows are visible to the sealer, so there are no gaps to skip: a rolled-back transaction's
rows never existed, and a number is handed out only to a row that will keep it (the UPDATE only touches
rows whose seq is still NULL, and the lock admits one sealer at a time; a second sealer skips the pass).
The chain's order is the order of sealing: a transaction's rows stay in their order (ids grow in queued
order), and a row committed after a pass comes after every row that pass sealed; a sealed row never moves.
`AuditSealer` runs passes in the background (the dispatcher's process: `gateway serve` or `gateway worker`);
`gateway.audit.verify_chain` and `checkpoint` seal whatever is pending before they look.

Window of exposure. From its commit until the next pass (`AuditSealer.interval`, 1 s by default; unbounded
if no process runs a sealer, until the next verify or checkpoint), a row is protected only by its own
`row_hash`: that catches a changed byte (verify reports it at the seq the row is then given, since the sealer
chains what it finds and verify checks both hashes), but not someone with write access to the database who
changes the row and recomputes `row_hash`, or deletes the row. Once sealed, a change, a deletion or a
reordering breaks the chain, and a signed checkpoint catches rows cut from the end or a recomputed chain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

import certs
from gateway.db.jsoncanon import canonical_json, format_timestamp
from gateway.db.outages import is_outage
from gateway.db.tables import metadata
from gateway.logging import get_logger

if TYPE_CHECKING:
    from gateway.db.database import Database  # which imports this module (through the unit of work)

__all__ = [
    "GENESIS_HASH",
    "SEAL_LOCK_KEY",
    "AuditSealer",
    "audit_content_hash",
    "audit_row_hash",
    "count_unsealed",
    "seal_pending",
    "with_content_hashes",
]

log = get_logger("gateway.audit.sealer")
GENESIS_HASH = "0" * 64  # prev_hash of the first row
# pg_advisory_xact_lock key of the sealer ("gwseal" in ASCII): one sealer at a time for the one chain.
SEAL_LOCK_KEY = 0x6777_7365_616C
_LEAF_PREFIX = b"\x00"  # a chain link, as RFC 6962 leaves
_CONTENT_PREFIX = b"\x01"  # a row's own content hash: never equal to a link over the same bytes
_FIELDS = ("at", "actor", "action", "subject", "case_id", "details")

_AUDIT = metadata.tables["audit_log"]
_UNSEALED = (
    select(_AUDIT.c.id, *(_AUDIT.c[name] for name in _FIELDS), _AUDIT.c.row_hash)
    .where(_AUDIT.c.seq.is_(None))
    .order_by(_AUDIT.c.id)
    .limit(bindparam("batch"))
)
_SEALED_HEAD = (
    select(_AUDIT.c.seq, _AUDIT.c.hash)
    .where(_AUDIT.c.seq.is_not(None))
    .order_by(_AUDIT.c.seq.desc())
    .limit(1)
)
_SEAL = (
    update(_AUDIT)
    .where(_AUDIT.c.id == bindparam("row_id"), _AUDIT.c.seq.is_(None))
    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"))
)


def _canonical(fields: Mapping[str, Any], seq: int | None) -> bytes:
    body: dict[str, Any] = {name: fields[name] for name in _FIELDS}
    body["at"] = format_timestamp(fields["at"])
    if seq is not None:
        body["seq"] = seq
    return canonical_json(body).encode("utf-8")


def audit_content_hash(
    *, at: datetime, actor: str, action: str, subject: str, case_id: str | None, details: Mapping[str, Any]
) -> str:
    """SM3(0x01 ‖ canonical JSON of the row's fields without seq): the row's protection until it is sealed."""
    fields = {"at": at, "actor": actor, "action": action, "subject": subject, "case_id": case_id}
    return certs.sm3(_CONTENT_PREFIX + _canonical(fields | {"details": details}, None)).hex()


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
    """The chain link of row `seq`: SM3(0x00 ‖ prev_hash ‖ canonical JSON of the row's fields), hex."""
    fields = {"at": at, "actor": actor, "action": action, "subject": subject, "case_id": case_id}
    body = _canonical(fields | {"details": details}, seq)
    return certs.sm3(_LEAF_PREFIX + bytes.fromhex(prev_hash) + body).hex()


def with_content_hashes(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows to insert for `records` (at, actor, action, subject, case_id, details): each with its
    `row_hash`, unsealed. The unit of work inserts them with its other rows, taking no lock and reading
    nothing."""
    return [{**record, "row_hash": audit_content_hash(**record)} for record in records]


async def seal_pending(
    conn: AsyncConnection,
    dialect: Literal["sqlite", "postgresql"],
    *,
    batch: int = 2000,
    wait: bool = False,
) -> int | None:
    """One sealing pass in `conn`'s transaction (the caller commits): up to `batch` committed unsealed rows
    get their seq and chain hash. Returns how many, or None when another sealer holds the lock and `wait` is
    False (PostgreSQL; on SQLite the caller's BEGIN IMMEDIATE already made this the only writer)."""
    if dialect == "postgresql":
        if wait:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEAL_LOCK_KEY})
        else:
            got = await conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SEAL_LOCK_KEY})
            if not got.scalar_one():
                return None
    # Read after the lock: under READ COMMITTED each statement sees the previous sealer's commit.
    head = (await conn.execute(_SEALED_HEAD)).first()
    seq, prev_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH)
    pending = (await conn.execute(_UNSEALED, {"batch": batch})).all()
    links = []
    for row in pending:
        fields = row._mapping
        if fields["row_hash"] != audit_content_hash(**{name: fields[name] for name in _FIELDS}):
            # Chained all the same, so sealing goes on; verify names the row (its row_hash is stored).
            log.error("audit row changed before it was sealed", audit_id=row.id, seq=seq + 1)
        seq += 1
        link = audit_row_hash(prev_hash, seq=seq, **{name: fields[name] for name in _FIELDS})
        links.append({"row_id": row.id, "new_seq": seq, "new_prev": prev_hash, "new_hash": link})
        prev_hash = link
    if links:
        await conn.execute(_SEAL, links)
    return len(links)


async def count_unsealed(conn: AsyncConnection) -> int:
    found = await conn.execute(select(func.count()).select_from(_AUDIT).where(_AUDIT.c.seq.is_(None)))
    return int(found.scalar_one())


class AuditSealer:
    """Seals committed audit rows every `interval` seconds in the background (`start` / `stop`).

    Any number of processes may run one: the lock lets one pass run at a time, and the others skip."""

    STOP_GRACE = 10.0

    def __init__(self, db: Database, *, interval: float = 1.0, batch: int = 2000) -> None:
        self.db = db
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def seal_once(self, *, wait: bool = False) -> int:
        """Passes until nothing is pending (or another sealer is busy); how many rows this sealed."""
        total = 0
        while True:
            async with self.db.engine.begin() as conn:
                sealed = await seal_pending(conn, self.db.dialect, batch=self.batch, wait=wait)
            total += sealed or 0
            if sealed is None or sealed < self.batch:
                return total

    async def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._forever(), name="audit sealer")

    async def stop(self) -> None:
        """Let the pass under way finish (a cancelled pass could leave its connection mid-transaction, still
        holding SQLite's write lock), then end; cancel only if that takes longer than `STOP_GRACE` seconds."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.STOP_GRACE)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _forever(self) -> None:
        paused = False
        while not self._stopping.is_set():
            try:
                await self.seal_once()
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("audit sealing pass failed")
                elif not paused:
                    # The database is away: rows wait unsealed (their content hash stands) until it is back.
                    # One line for the outage, not a traceback a second.
                    log.warning("audit sealing paused: database unavailable", error=type(exc).__name__)
                paused = paused or is_outage(exc)
            else:
                if paused:
                    log.warning("audit sealing resumed")
                paused = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
