"""Signed audit heads copied out of the database (JSON lines), and checking the log against such a copy.

A checkpoint stored in the database can be deleted by whoever can cut the log's tail; a copy of its signed
head in a file elsewhere (or in the log shipping) cannot. `gateway audit checkpoint --export FILE` appends
one line per checkpoint; `gateway audit verify --against FILE` requires the chain to hold the newest line's
head, signed by the trusted key, at that row: a cut tail or a recomputed chain then fails.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

import certs
from gateway.audit import Checkpoint, CheckpointReport, checkpoint_message
from gateway.db.database import Database
from gateway.db.jsoncanon import format_timestamp
from gateway.db.tables import metadata
from gateway.errors import CryptoError

__all__ = ["ExportedHead", "append_export", "read_last_export", "verify_against"]

_AUDIT = metadata.tables["audit_log"]
_FORMAT = "gateway-audit-head/v1"


@dataclass(frozen=True)
class ExportedHead:
    """One exported line: what a checkpoint signed, with its signature (and the key's fingerprint, to read)."""

    checkpoint_id: int
    seq: int
    head_hash: str
    at: datetime
    signature: bytes
    key_fingerprint: str

    @classmethod
    def of(cls, taken: Checkpoint) -> ExportedHead:
        fingerprint = certs.SM2PublicKey.from_pem(taken.public_key_pem.encode("ascii")).fingerprint
        return cls(taken.id, taken.seq, taken.head_hash, taken.at, taken.signature, fingerprint)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "checkpoint": self.checkpoint_id,
                "seq": self.seq,
                "head_hash": self.head_hash,
                "at": format_timestamp(self.at),
                "signature": base64.b64encode(self.signature).decode("ascii"),
                "key": self.key_fingerprint,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> ExportedHead:
        """Raises ValueError on anything but a line `to_json` wrote."""
        try:
            data = json.loads(line)
            if data.get("format") != _FORMAT:
                raise ValueError(f"not a {_FORMAT} line")
            at = datetime.strptime(data["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            return cls(
                int(data["checkpoint"]),
                int(data["seq"]),
                str(data["head_hash"]),
                at,
                base64.b64decode(data["signature"], validate=True),
                str(data["key"]),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed exported head: {exc}") from exc


def append_export(path: Path, head: ExportedHead) -> None:
    """Append `head` as one line and flush it to disk before returning (a checkpoint the file lost is no use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(head.to_json() + "\n")
        handle.flush()


def read_last_export(path: Path) -> ExportedHead:
    """The newest head in an export file (its last non-empty line). Raises OSError or ValueError."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no exported head")
    return ExportedHead.from_json(lines[-1])


async def verify_against(
    db: Database, head: ExportedHead, public_key: certs.SM2PublicKey
) -> CheckpointReport:
    """The exported `head` is signed by the trusted key and the chain holds its hash at its row.

    Call after `verify_chain` passed: a whole chain whose row `seq` has the signed hash has every earlier row
    as it was when the head was signed, so only a cut (row `seq` gone) or a rewrite (another hash) is left."""
    try:
        await certs.verify_async(
            public_key, head.signature, checkpoint_message(head.seq, head.head_hash, head.at)
        )
    except CryptoError:
        return CheckpointReport(
            False,
            0,
            head.checkpoint_id,
            f"exported head of checkpoint {head.checkpoint_id}: signature does not verify with the trusted key",
            f"导出的检查点{head.checkpoint_id}：签名无法用受信任的公钥验证",
        )
    if head.seq == 0:
        return CheckpointReport(True, 1, None, None, None)
    async with db.session() as session:
        conn = await session.connection()
        stored = (
            await conn.execute(select(_AUDIT.c.hash).where(_AUDIT.c.seq == head.seq))
        ).scalar_one_or_none()
    if stored is None:
        return CheckpointReport(
            False,
            0,
            head.checkpoint_id,
            f"exported head: row {head.seq} signed by checkpoint {head.checkpoint_id} is gone (tail cut)",
            f"导出的检查点{head.checkpoint_id}所签署的第{head.seq}条记录已不存在（末尾被截断）",
        )
    if stored != head.head_hash:
        return CheckpointReport(
            False,
            0,
            head.checkpoint_id,
            f"exported head: row {head.seq} has another hash than checkpoint {head.checkpoint_id} signed "
            "(chain rewritten)",
            f"导出的检查点{head.checkpoint_id}：第{head.seq}条记录的哈希与签署时不同（链被改写）",
        )
    return CheckpointReport(True, 1, None, None, None)
