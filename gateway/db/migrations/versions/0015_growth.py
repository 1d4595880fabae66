"""growth: outbox archive and retention index

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-06 09:00:00.000000

Delivered outbox rows past the retention move to `outbox_archive` (the sweeper, gateway.db.retention); a
partial index of the delivered rows by age lets it pick them without reading the open ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERED = "status = 'delivered'"


def upgrade() -> None:
    op.create_table(
        "outbox_archive",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_archive")),
    )
    op.create_index("ix_outbox_archive_case", "outbox_archive", ["case_id", "created_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_delivered_at",
            ["delivered_at"],
            unique=False,
            postgresql_where=sa.text(_DELIVERED),
            sqlite_where=sa.text(_DELIVERED),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_delivered_at")
    op.drop_index("ix_outbox_archive_case", table_name="outbox_archive")
    op.drop_table("outbox_archive")
