"""case_record: two indexes fewer (every case write paid for them); the planner told that stage decides state

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 15:00:00.000000

`ix_case_record_state_bank_deadline` (state, submitted_by, deadline_at) served `Store.queue`, which is gone:
the back office's work queue reads `ix_case_record_stage_deadline`, a bank's cases
`ix_case_record_party_received`, and nothing else filters by state and bank in deadline order.
`ix_case_record_state` (state) is the leading column of `ix_case_record_state_deadline`, which serves every
query by state as well and the dashboard's overdue cases (open states, deadline passed) better.

`st_case_record_stage_state` (PostgreSQL's extended statistics, filled by ANALYZE): a case's state decides
its stage, but the planner takes conditions on both as independent, so it guessed ~3 of 10⁶ cases for "stage
received, state received, bank X" (really ~1,700) and read them all through a bitmap and sorted them (11 ms,
65 ms once the bank's index is gone) instead of the first 50 in deadline order from the stage's index
(0.4 ms). The SQL is a copy of gateway.db.tables.cases as of this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_STATISTICS = (
    "CREATE STATISTICS st_case_record_stage_state (dependencies, mcv) ON stage, state FROM case_record"
)


def upgrade() -> None:
    op.drop_index("ix_case_record_state_bank_deadline", table_name="case_record")
    op.drop_index("ix_case_record_state", table_name="case_record")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_STATISTICS)
        op.execute("ANALYZE case_record")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS st_case_record_stage_state")
    op.create_index("ix_case_record_state", "case_record", ["state"], unique=False)
    op.create_index(
        "ix_case_record_state_bank_deadline",
        "case_record",
        ["state", "submitted_by", "deadline_at"],
        unique=False,
    )
