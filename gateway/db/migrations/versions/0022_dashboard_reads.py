"""utility_job: an index on (status, updated_at) for the dashboard's open and recently finished jobs

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 18:00:00.000000

The supervisor's dashboard counted every utility job ever written by provider and status (four a transfer:
~10⁶ rows after ten years) on every view. It now counts the open ones and those finished in its window;
this index serves both reads, by status and then by the time of the job's last answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_utility_job_status_updated", "utility_job", ["status", "updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_utility_job_status_updated", table_name="utility_job")
