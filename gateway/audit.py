"""Checking the audit log: seal what is pending, walk the SM3 hash chain, sign and verify checkpoints (SM2).

The chain catches a changed field, a deleted row or rows put in another order anywhere before the head.
Removing rows at the end, or rewriting the whole chain from some row on, leaves a consistent chain; a signed
checkpoint (taken regularly and, ideally, copied out of the database) catches both, since the head it
signed no longer matches. Checkpoints are append-only like the log, and with a trusted key verify also
requires a recent one (`checkpoint_freshness`): otherwise cutting the tail together with the checkpoints
that signed it would pass. A head copied out of the database (gateway.audit_export) survives even that. Rows are written unsealed by `UnitOfWork.audit()` and chained by the sealer
(gateway.db.audit_chain, which also says how long a row waits unsealed and what protects it meanwhile).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, desc, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

import certs
from gateway.db.audit_chain import GENESIS_HASH, AuditSealer, audit_content_hash, audit_row_hash
from gateway.db.audit_walk import WALK_FIELDS, fetch_page, sealed_prefix, walk_pages
from gateway.db.database import Database
from gateway.db.jsoncanon import format_timestamp
from gateway.db.tables import metadata
from gateway.db.types import utcnow
from gateway.errors import CryptoError

__all__ = [
    "ChainReport",
    "Checkpoint",
    "CheckpointReport",
    "checkpoint",
    "checkpoint_freshness",
    "checkpoint_message",
    "latest_verified_checkpoint",
    "verify_chain",
    "verify_checkpoints",
]

_AUDIT = metadata.tables["audit_log"]
_CHECKPOINT = metadata.tables["audit_checkpoint"]
_FIELDS = ("at", "actor", "action", "subject", "case_id", "details")


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: where it first breaks and why, or the head it ends at."""

    ok: bool
    rows_checked: int
    first_broken_seq: int | None  # None with ok=False: an unsealed row (reason names its id)
    reason: str | None
    reason_zh: str | None
    head_seq: int  # last row walked (0 for an empty log)
    head_hash: str
    sealed_now: int = 0  # rows this call sealed before walking
    unsealed: int = 0  # rows committed while it walked: checked by their content hash only
    from_seq: int = 0  # the checkpointed row an incremental walk started after (0: the whole chain)


async def verify_chain(
    db: Database,
    *,
    batch_size: int = 5000,
    seal: bool = True,
    since: Checkpoint | None = None,
) -> ChainReport:
    """Seal what is pending (unless `seal` is False: an auditor's read-only look), then walk the log in seq
    order and recompute every row's content hash and link; stop at the first broken row. Rows still
    unsealed after that (committed meanwhile, or all of them without sealing) are checked by their content
    hash.

    With `since` (a checkpoint whose signature the caller has verified with a trusted key) the walk is
    incremental: the row the checkpoint signed is checked in full and must still hash to its head, and only
    the rows after it are walked. A change to a row before the checkpoint is then not looked for: `since`
    None (`gateway audit verify --full`) walks everything."""
    sealed_now = await AuditSealer(db).seal_once(wait=True) if seal else 0
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    async with db.session() as session:
        conn = await session.connection()
        if since is not None and since.seq > 0:
            anchor = await _anchor_problem(conn, db.dialect, since)
            if anchor is not None:
                return ChainReport(False, 0, since.seq, *anchor, since.seq - 1, "", sealed_now=sealed_now)
            expected_seq, prev_hash = since.seq + 1, since.head_hash
        pages = walk_pages(conn, db.dialect, expected_seq - 1, batch_size)
        try:
            async for page in pages:
                while page:
                    passed, prev_hash = sealed_prefix(page, expected_seq, prev_hash)
                    checked, expected_seq = checked + passed, expected_seq + passed
                    if passed == len(page):
                        break
                    row = page[passed]  # the exact check decides on this row
                    broken = _first_problem(_parsed(row), expected_seq, prev_hash)
                    if broken is not None:
                        last = expected_seq - 1
                        return ChainReport(
                            False, checked, row[0], *broken, last, prev_hash, sealed_now=sealed_now
                        )
                    checked, expected_seq, prev_hash = checked + 1, row[0] + 1, row[-1]
                    page = page[passed + 1 :]
        finally:
            await pages.aclose()
        unsealed = 0
        columns = [_AUDIT.c[name] for name in (*_FIELDS, "row_hash")]
        pending = select(_AUDIT.c.id, *columns).where(_AUDIT.c.seq.is_(None)).order_by(_AUDIT.c.id)
        for row in await conn.execute(pending):
            if not _content_matches(row._mapping):
                reason = (
                    f"unsealed row id {row.id}: {_CHANGED[0]}",
                    f"未封存的记录（id {row.id}）：{_CHANGED[1]}",
                )
                return ChainReport(
                    False, checked, None, *reason, expected_seq - 1, prev_hash, sealed_now, unsealed
                )
            unsealed += 1
    return ChainReport(
        True,
        checked,
        None,
        None,
        None,
        expected_seq - 1,
        prev_hash,
        sealed_now,
        unsealed,
        from_seq=since.seq if since else 0,
    )


def _parsed(row: Sequence[Any]) -> dict[str, Any]:
    """A walked row (its timestamp and details as stored text) as the exact check reads it."""
    fields = dict(zip(WALK_FIELDS, row, strict=True))
    fields["at"] = datetime.fromisoformat(fields.pop("at_text"))
    fields["details"] = json.loads(fields.pop("details_text"))
    return fields


async def _anchor_problem(conn: AsyncConnection, dialect: str, since: Checkpoint) -> tuple[str, str] | None:
    """The checkpoint's own row: present, unchanged, and still hashing to the signed head."""
    page = await fetch_page(conn, dialect, since.seq - 1, 1)
    if not page or page[0][0] != since.seq:
        return (
            f"row {since.seq} signed by checkpoint {since.id} is gone (rows deleted)",
            f"检查点{since.id}签署的第{since.seq}条记录已不存在（记录被删除）",
        )
    fields = _parsed(page[0])
    if fields["hash"] != since.head_hash:
        return (
            f"row {since.seq} has another hash than checkpoint {since.id} signed (chain rewritten)",
            f"第{since.seq}条记录的哈希与检查点{since.id}签署时不同（链被改写）",
        )
    content: dict[str, Any] = {name: fields[name] for name in _FIELDS}
    link = audit_row_hash(str(fields["prev_hash"]), seq=since.seq, **content)
    if not _content_matches(fields) or link != fields["hash"]:
        return _CHANGED
    return None


_CHANGED = ("content changed: the row's fields no longer match its hash", "记录内容被篡改：字段与其哈希不符")


def _content_matches(fields: Mapping[Any, Any]) -> bool:
    return bool(fields["row_hash"] == audit_content_hash(**{name: fields[name] for name in _FIELDS}))


def _first_problem(fields: Mapping[Any, Any], expected_seq: int, prev_hash: str) -> tuple[str, str] | None:
    seq = fields["seq"]
    if seq != expected_seq:
        missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
        return (f"row {missing} missing (deleted)", f"第{missing}条记录缺失（已被删除）")
    if fields["prev_hash"] != prev_hash:
        return (
            f"prev_hash does not match the hash of row {seq - 1} (rows reordered, inserted or rewritten)",
            f"prev_hash与第{seq - 1}条记录的哈希不符（记录被重排、插入或改写）",
        )
    content: dict[str, Any] = {name: fields[name] for name in _FIELDS}
    # Both hashes: the link covers what was sealed, row_hash what was written (a change before sealing).
    if not _content_matches(fields) or audit_row_hash(prev_hash, seq=seq, **content) != fields["hash"]:
        return _CHANGED
    return None


# --- checkpoints -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the log's head was (seq, head_hash) at `at`"."""

    id: int
    seq: int
    head_hash: str
    at: datetime
    signature: bytes  # DER SM2 signature over `message()`
    public_key_pem: str

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.head_hash, self.at)


def checkpoint_message(seq: int, head_hash: str, at: datetime) -> bytes:
    return f"gateway-audit-checkpoint/v1\n{seq}\n{head_hash}\n{format_timestamp(at)}".encode()


async def checkpoint(db: Database, key: certs.SM2PrivateKey, *, actor: str = "system") -> Checkpoint:
    """Seal what is pending, sign the sealed head with `key`, store the checkpoint, and audit that it was taken.

    Rows committed after the sealing are simply not covered yet: the next checkpoint covers them. The
    checkpoint's own audit record is sealed by the next pass."""
    await AuditSealer(db).seal_once(wait=True)
    async with db.transaction() as uow:
        conn = await uow.session.connection()
        head = (
            await conn.execute(
                select(_AUDIT.c.seq, _AUDIT.c.hash)
                .where(_AUDIT.c.seq.is_not(None))
                .order_by(desc(_AUDIT.c.seq))
                .limit(1)
            )
        ).first()
        seq, head_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH)
        at = utcnow()
        signature = await certs.sign_async(key, checkpoint_message(seq, head_hash, at))
        public_pem = key.public_key.to_pem().decode("ascii")
        inserted = await conn.execute(
            insert(_CHECKPOINT)
            .values(
                seq=seq,
                head_hash=head_hash,
                at=at,
                signature=base64.b64encode(signature).decode("ascii"),
                public_key=public_pem,
            )
            .returning(_CHECKPOINT.c.id)
        )
        checkpoint_id = int(inserted.scalar_one())
        uow.audit(
            actor=actor,
            action="audit.checkpoint",
            subject=f"audit_checkpoint:{checkpoint_id}",
            details={"seq": seq, "head_hash": head_hash, "key": key.public_key.fingerprint},
        )
    return Checkpoint(checkpoint_id, seq, head_hash, at, signature, public_pem)


@dataclass(frozen=True)
class CheckpointReport:
    ok: bool
    checkpoints_checked: int
    first_bad_checkpoint: int | None
    reason: str | None
    reason_zh: str | None


async def verify_checkpoints(db: Database, public_key: certs.SM2PublicKey) -> CheckpointReport:
    """Check every checkpoint's signature against the trusted `public_key` (never the stored one) and that
    the log still holds the row it signed, with the same hash."""
    checked = 0
    async with db.session() as session:
        conn = await session.connection()
        rows = (await conn.execute(select(_CHECKPOINT).order_by(_CHECKPOINT.c.id))).all()
        for row in rows:
            problem = await _checkpoint_problem(conn, row._mapping, public_key)
            if problem is not None:
                return CheckpointReport(False, checked, row.id, *problem)
            checked += 1
    return CheckpointReport(True, checked, None, None, None)


async def latest_verified_checkpoint(db: Database, public_key: certs.SM2PublicKey) -> Checkpoint | None:
    """The newest checkpoint whose signature verifies with the trusted `public_key` and whose row still holds
    the signed hash: where an incremental walk may start (None: walk everything)."""
    async with db.session() as session:
        conn = await session.connection()
        for row in await conn.execute(select(_CHECKPOINT).order_by(desc(_CHECKPOINT.c.id)).limit(100)):
            fields = row._mapping
            if await _checkpoint_problem(conn, fields, public_key) is None:
                signature = base64.b64decode(fields["signature"])
                return Checkpoint(
                    fields["id"],
                    fields["seq"],
                    fields["head_hash"],
                    fields["at"],
                    signature,
                    fields["public_key"],
                )
    return None


async def _checkpoint_problem(
    conn: AsyncConnection, fields: RowMapping, public_key: certs.SM2PublicKey
) -> tuple[str, str] | None:
    seq, head_hash = fields["seq"], fields["head_hash"]
    try:
        signature = base64.b64decode(fields["signature"], validate=True)
        await certs.verify_async(public_key, signature, checkpoint_message(seq, head_hash, fields["at"]))
    except (CryptoError, ValueError):  # BadSignature, a malformed DER or base64
        return (
            f"checkpoint {fields['id']}: signature does not verify with the trusted key",
            f"检查点{fields['id']}：签名无法用受信任的公钥验证",
        )
    if seq == 0:
        return None
    stored = (await conn.execute(select(_AUDIT.c.hash).where(_AUDIT.c.seq == seq))).scalar_one_or_none()
    if stored is None:
        return (
            f"checkpoint {fields['id']}: row {seq} it signed is gone (rows deleted from the end)",
            f"检查点{fields['id']}：其签署的第{seq}条记录已不存在（末尾记录被删除）",
        )
    if stored != head_hash:
        return (
            f"checkpoint {fields['id']}: row {seq} has another hash than signed (chain rewritten)",
            f"检查点{fields['id']}：第{seq}条记录的哈希与签署时不同（链被改写）",
        )
    return None


async def checkpoint_freshness(
    db: Database, max_age: timedelta, *, now: datetime | None = None
) -> CheckpointReport:
    """With a trusted key configured, the log must have a checkpoint no older than `max_age`.

    Rows after the newest checkpoint are covered by the chain alone, which cannot see a cut tail: someone who
    may drop the guards can delete the last rows and every checkpoint after the cut. No checkpoint at all, or
    only old ones, is therefore a failure, not an empty success."""
    async with db.session() as session:
        conn = await session.connection()
        newest = (
            await conn.execute(
                select(_CHECKPOINT.c.id, _CHECKPOINT.c.at).order_by(desc(_CHECKPOINT.c.id)).limit(1)
            )
        ).first()
    if newest is None:
        return CheckpointReport(
            False,
            0,
            None,
            "no checkpoint: the log's tail is unprotected (deleted checkpoints, or none ever taken)",
            "没有检查点：日志末尾无签名保护（检查点被删除或从未签署）",
        )
    age = (now or utcnow()) - newest.at
    if age > max_age:
        hours = age.total_seconds() / 3600
        limit = max_age.total_seconds() / 3600
        return CheckpointReport(
            False,
            0,
            int(newest.id),
            f"newest checkpoint {newest.id} is {hours:.1f} h old (limit {limit:g} h): rows after it "
            "are unprotected, or newer checkpoints were deleted",
            f"最新检查点{newest.id}已有{hours:.1f}小时（上限{limit:g}小时）：其后的记录无签名保护，或较新的检查点被删除",
        )
    return CheckpointReport(True, 0, None, None, None)
