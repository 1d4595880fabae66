"""case_material.kind: typed materials (其他共有人放弃优先购买权声明, …)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 08:20:00.000000

A rule reads what a material is (民法典 §305: the other co-owners' waiver of their pre-emption right);
every material uploaded before this revision is "other". The same column as branch reg-paths' 0008.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.String(length=40),
                nullable=False,
                server_default="other",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.drop_column("kind")
