"""portal users: bank and provider staff sign in beside the registry's (institution, branch)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-06 11:40:00.000000

The bank counter portal (银行端) and the provider portal sign people in with the back office's accounts,
sessions and lockout. A bank or provider user belongs to one institution (its participant code), and a
bank's clerks and branch supervisors to one branch; registry staff have neither.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backoffice_user") as batch:
        batch.add_column(sa.Column("institution", sa.String(64), nullable=True))
        batch.add_column(sa.Column("branch", sa.String(100), nullable=True))
        batch.create_index("ix_backoffice_user_institution", ["institution"])


def downgrade() -> None:
    with op.batch_alter_table("backoffice_user") as batch:
        batch.drop_index("ix_backoffice_user_institution")
        batch.drop_column("branch")
        batch.drop_column("institution")
