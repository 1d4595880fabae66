"""outbox: partial index of the open rows by target, for a pull provider's job list

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 06:20:00.000000

A provider's poll lists its own open jobs, oldest first. Without this index PostgreSQL read every open row
of every party (ix_outbox_due) and sorted the provider's; with it, only the provider's page is read. The
predicate is gateway.db.tables.infra.OUTBOX_OPEN_SQL as of this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('pending', 'in_flight')"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_open_by_target",
            ["target", "created_at", "id"],
            unique=False,
            postgresql_where=sa.text(_OPEN),
            sqlite_where=sa.text(_OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_open_by_target")
