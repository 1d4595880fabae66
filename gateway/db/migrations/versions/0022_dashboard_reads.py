"""the dashboard reads no history: utility_job (status, updated_at); the open cases' age from an index

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 18:00:00.000000

The supervisor's dashboard counted every utility job ever written by provider and status (four a transfer:
~10⁶ rows after ten years) on every view. It now counts the open ones and those finished in its window; an
index on (status, updated_at) serves both reads.

Its backlog by state and age read each open case's row for `received_at`; the open cases of a register ten
years old lie one to a heap page among the closed ones (20,000 page reads at 10⁶ cases in the growth bench).
`ix_case_record_state_deadline` now carries `received_at` (PostgreSQL's INCLUDE), so the backlog is an
index-only read. Rebuilding it holds `case_record`'s writes for the build (seconds at 10⁶ rows): run it while
no cases are written (the README says so beside `gateway migrate`).
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
    op.drop_index("ix_case_record_state_deadline", table_name="case_record")
    op.create_index(
        "ix_case_record_state_deadline",
        "case_record",
        ["state", "deadline_at"],
        unique=False,
        postgresql_include=["received_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_case_record_state_deadline", table_name="case_record")
    op.create_index("ix_case_record_state_deadline", "case_record", ["state", "deadline_at"], unique=False)
    op.drop_index("ix_utility_job_status_updated", table_name="utility_job")
