"""Re-encrypting the stored ID numbers under the current PII key (`gateway pii rekey`).

A token names its key (certs.field_cipher), so making a new key current (GW_PII_CURRENT_KEY_ID) needs no
downtime: new rows use it, old tokens keep decrypting with theirs. Retiring the old key needs every token
written under it re-encrypted, which this does, place by place (gateway.privacy: register_entry.facts,
case_record.input, outbox.payload), in batches by row id, one transaction and one audit record
(`pii.rekeyed`) per batch that changed anything. Each token is re-encrypted bound to the same place
(table|column|row id), so the binding of revision 0011 holds.

Every token is decrypted on the way, so a run also proves each one still opens at its place, and the keyed
SM3 look-up index beside it (`id_index`) is recomputed where it differs: that is how a new GW_PII_INDEX_KEY
is brought in. The three columns are written once, when their row is inserted, and never updated by the
workflow, so rewriting them does not race with a case's own writes. A second run changes nothing.

《中华人民共和国个人信息保护法》第五十一条（三）: a processor of personal information takes encryption and
other security measures; rotating the keys that protect it, and retiring old ones, is part of that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, select, update

from certs import FieldCipher
from gateway.db import Database
from gateway.db.tables import metadata
from gateway.privacy import ID_FIELD, INDEX_FIELD, Place

__all__ = ["PLACES", "RekeyReport", "rekey"]

# Every column holding ID-number tokens (gateway.privacy's places; migration 0011 lists the same).
PLACES: tuple[tuple[str, str], ...] = (
    ("register_entry", "facts"),
    ("case_record", "input"),
    ("outbox", "payload"),
)
ACTION = "pii.rekeyed"
DEFAULT_BATCH = 500


@dataclass
class RekeyReport:
    """What a run found and did (with `dry_run`, what it would do)."""

    current_key_id: str
    rows_scanned: int = 0
    rows_rewritten: int = 0
    reencrypted: Counter[str] = field(default_factory=Counter)  # tokens moved off each old key id
    reindexed: int = 0  # look-up indexes recomputed (a new index key, or one missing)
    found: Counter[str] = field(default_factory=Counter)  # tokens by key id as the run found them

    @property
    def old_keys_found(self) -> list[str]:
        """Key ids other than the current one that protected a token when the run read it."""
        return sorted(k for k, n in self.found.items() if n and k != self.current_key_id)


@dataclass
class _Batch:
    reencrypted: Counter[str] = field(default_factory=Counter)
    reindexed: int = 0
    found: Counter[str] = field(default_factory=Counter)


async def rekey(
    db: Database,
    cipher: FieldCipher,
    *,
    actor: str,
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[RekeyReport], None] | None = None,
) -> RekeyReport:
    """Re-encrypt every token not under `cipher.current_key_id` and recompute every stale index.

    Raises CryptoError (naming the place) for a token that does not open where it is stored, and BadKey for
    a token whose key is no longer configured: keep every old key in GW_PII_KEYS until this has run.
    """
    report = RekeyReport(cipher.current_key_id)
    for table_name, column in PLACES:
        table = metadata.tables[table_name]
        last = ""
        while True:
            last_seen = await _one_batch(db, cipher, table, column, last, batch_size, actor, dry_run, report)
            if last_seen is None:
                break
            last = last_seen
            if progress is not None:
                progress(report)
    return report


async def _one_batch(
    db: Database,
    cipher: FieldCipher,
    table: Table,
    column: str,
    after: str,
    batch_size: int,
    actor: str,
    dry_run: bool,
    report: RekeyReport,
) -> str | None:
    """One transaction: read up to `batch_size` rows after `after`, rewrite those that change, audit them.
    Returns the last id read (None when there was none)."""
    document = table.c[column]
    async with db.transaction() as uow:
        rows = (
            await uow.connection.execute(
                select(table.c.id, document).where(table.c.id > after).order_by(table.c.id).limit(batch_size)
            )
        ).all()
        if not rows:
            return None
        batch, changed = _Batch(), []
        for row_id, tree in rows:
            place = Place(table.name, column, row_id)
            rewritten = _rewrite(tree, cipher, place.context, batch)
            if rewritten != tree:
                changed.append({"row_id": row_id, "document": rewritten})
        report.rows_scanned += len(rows)
        report.rows_rewritten += len(changed)
        report.reencrypted.update(batch.reencrypted)
        report.reindexed += batch.reindexed
        report.found.update(batch.found)
        if changed and not dry_run:
            statement = (
                update(table).where(table.c.id == bindparam("row_id")).values({column: bindparam("document")})
            )
            await uow.connection.execute(statement, changed)
            uow.audit(
                actor=actor,
                action=ACTION,
                subject=f"{table.name}.{column}",
                details={
                    "rows": len(changed),
                    "first_row": changed[0]["row_id"],
                    "last_row": changed[-1]["row_id"],
                    "reencrypted": dict(sorted(batch.reencrypted.items())),
                    "to_key_id": cipher.current_key_id,
                    "reindexed": batch.reindexed,
                },
            )
        return str(rows[-1][0])


def _rewrite(tree: Any, cipher: FieldCipher, context: bytes, batch: _Batch) -> Any:
    """`tree` with every token under the current key and every index current; counts into `batch`."""
    if isinstance(tree, dict):
        out = {key: _rewrite(value, cipher, context, batch) for key, value in tree.items()}
        token = tree.get(ID_FIELD)
        if isinstance(token, str):
            plaintext = cipher.decrypt(token, context)  # proves it opens here, with its own key
            key_id = cipher.key_id_of(token)
            batch.found[key_id] += 1
            if key_id != cipher.current_key_id:
                out[ID_FIELD] = cipher.encrypt(plaintext, context)
                batch.reencrypted[key_id] += 1
            index = cipher.index(plaintext)
            if tree.get(INDEX_FIELD) != index:
                out[INDEX_FIELD] = index
                batch.reindexed += 1
        return out
    if isinstance(tree, list):
        return [_rewrite(value, cipher, context, batch) for value in tree]
    return tree
