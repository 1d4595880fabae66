"""case_transition: an index on `at` for the dashboard's last days

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 15:45:00.000000

The supervisor's dashboard counts each person's transitions of the last 7 days; without an index on `at`
that read every transition ever written (four a case: 4 × 10⁶ rows at 10⁶ cases) on every view.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_transition_at", "case_transition", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_transition_at", table_name="case_transition")
