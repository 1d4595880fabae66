"""case_material.kind: typed materials (预告登记权利人同意, 知悉异议、自担风险声明, …)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:00:00.000000

Rules read what a material is (民法典 §221 consent, 实施细则 第84条 statement); every material uploaded
before this revision is "other".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
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
