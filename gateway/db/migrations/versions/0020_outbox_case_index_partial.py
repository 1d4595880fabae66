"""outbox: ix_outbox_case holds the utility transfers only

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 15:00:00.000000

A case's outbox rows are read by case only for its utility transfers (case_deliveries). Every other row
(bank notices, tax, … most of the outbox) had an entry too, at a random leaf (case ids are random), written
on its insert and again on each claim and delivery (each a new row version, since `status` is indexed).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTILITY = "job = 'utility.transfer'"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_case")
        batch.create_index(
            "ix_outbox_case",
            ["case_id", "created_at"],
            postgresql_where=sa.text(_UTILITY),
            sqlite_where=sa.text(_UTILITY),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_case")
        batch.create_index("ix_outbox_case", ["case_id", "created_at"])
