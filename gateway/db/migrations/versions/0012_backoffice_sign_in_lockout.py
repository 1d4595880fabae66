"""back office: sign-in lockout and initial passwords; case_record.stage for the work queue

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:20:00.000000

等保 2.0 level 3 asks for 登录失败处理 (lock after repeated failures) and that an initial password be changed
at first use; the back office's web sign-in and its JSON login share these columns.
`case_record.stage` says whose turn a case is (gateway.domain.worklist), indexed with the deadline so the
work queue is one index scan; existing cases get theirs computed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stage(state: str, tracks: dict[str, Any]) -> str:
    # gateway.domain.worklist.work_stage as of this revision (a migration does not import the domain).
    if state == "under_review":
        review = (tracks or {}).get("review", {}).get("status", "pending")
        return {"pending": "first_review", "first_reviewed": "second_review"}.get(review, "waiting_parties")
    return {
        "received": "received",
        "need_more_material": "correction",
        "approved": "register",
        "suspended": "suspended",
        "registered": "certify",
        "certified": "certify",
    }.get(state, "closed")


def upgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=24), server_default="", nullable=False))
        batch_op.create_index("ix_case_record_stage_deadline", ["stage", "deadline_at", "id"], unique=False)
        batch_op.create_index(
            "ix_case_record_assignee_deadline", ["assignee", "deadline_at", "id"], unique=False
        )
        batch_op.create_index("ix_case_record_received_at", ["received_at"], unique=False)
        batch_op.create_index("ix_case_record_certified_at", ["certified_at"], unique=False)
    cases = sa.table(
        "case_record", sa.column("id"), sa.column("state"), sa.column("tracks", sa.JSON), sa.column("stage")
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(cases.c.id, cases.c.state, cases.c.tracks)).all():
        tracks = json.loads(row.tracks) if isinstance(row.tracks, str) else row.tracks
        bind.execute(sa.update(cases).where(cases.c.id == row.id).values(stage=_stage(row.state, tracks)))
    with op.batch_alter_table("backoffice_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index("ix_case_record_certified_at")
        batch_op.drop_index("ix_case_record_received_at")
        batch_op.drop_index("ix_case_record_assignee_deadline")
        batch_op.drop_index("ix_case_record_stage_deadline")
        batch_op.drop_column("stage")
    with op.batch_alter_table("backoffice_user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
