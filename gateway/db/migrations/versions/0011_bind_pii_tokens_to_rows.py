"""ID-number tokens bound to their table, column and row

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-06 08:30:00.000000

Before this revision an SM4-GCM token authenticated only its key id, so a token copied into another row or
column decrypted there. Every token in register_entry.facts, case_record.input and outbox.payload is
re-encrypted with b"table|column|row id" as associated data (certs.field_cipher, format "v2"); the
downgrade writes the old format back. Both need the PII keys: `gateway migrate` hands them over; without
them the settings' keys are used (GW_PII_KEYS, or data_dir/keys/pii.json when it exists). A database
without tokens needs no keys. Rows are read in batches by id, so memory stays flat on a large register.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOC = sa.JSON().with_variant(JSONB(), "postgresql")
# (table, column, its type) as of this revision: gateway.privacy's places.
_PLACES = (
    ("register_entry", "facts", _DOC),
    ("case_record", "input", _DOC),
    ("outbox", "payload", sa.JSON()),
)
_ID_FIELD = "id_number"
_BATCH = 500

Change = Callable[[Any, str, bytes], str]  # (cipher, token, context) -> token


def upgrade() -> None:
    _convert(lambda cipher, token, place: cipher.rebind(token, place))


def downgrade() -> None:
    _convert(lambda cipher, token, place: cipher.unbind(token, place))


def _convert(change: Change) -> None:
    from certs.field_cipher import field_context

    bind = op.get_bind()
    ciphers: list[Any] = []

    def cipher() -> Any:
        if not ciphers:
            ciphers.append(_cipher())
        return ciphers[0]

    for table_name, column_name, column_type in _PLACES:
        table = sa.table(table_name, sa.column("id", sa.String()), sa.column(column_name, column_type))
        document = table.c[column_name]
        last = ""
        while True:
            rows = bind.execute(
                sa.select(table.c.id, document).where(table.c.id > last).order_by(table.c.id).limit(_BATCH)
            ).all()
            if not rows:
                break
            for row_id, tree in rows:
                place = field_context(table_name, column_name, row_id)
                converted = _walk(tree, lambda token: change(cipher(), token, place))  # noqa: B023
                if converted != tree:
                    bind.execute(
                        sa.update(table).where(table.c.id == row_id).values({column_name: converted})
                    )
            last = rows[-1][0]


def _walk(tree: Any, change: Callable[[str], str]) -> Any:
    if isinstance(tree, dict):
        out = {key: _walk(value, change) for key, value in tree.items()}
        if isinstance(tree.get(_ID_FIELD), str):
            out[_ID_FIELD] = change(tree[_ID_FIELD])
        return out
    if isinstance(tree, list):
        return [_walk(value, change) for value in tree]
    return tree


def _cipher() -> Any:
    handed_over = context.config.attributes.get("field_cipher")
    if handed_over is not None:
        return handed_over
    from gateway.errors import ConfigError
    from gateway.settings import Settings
    from gateway.wiring import personal_data_cipher

    settings = Settings()
    if not settings.pii_keys and not (settings.data_dir / "keys" / "pii.json").exists():
        raise ConfigError(
            "revision 0011 re-encrypts the stored ID numbers and needs their keys: set GW_PII_KEYS "
            "(or GW_DATA_DIR to the directory with keys/pii.json) and run `gateway migrate`",
            "0011 版迁移需重新加密已存储的身份证号，需要其密钥：请配置 GW_PII_KEYS（或 GW_DATA_DIR）后运行 gateway migrate",
        )
    return personal_data_cipher(settings)
