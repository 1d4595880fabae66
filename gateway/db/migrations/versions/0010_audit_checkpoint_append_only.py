"""audit_checkpoint append-only in the database: no UPDATE, DELETE or TRUNCATE

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-06 08:00:00.000000

A cut tail of the audit log hides only if the checkpoints that signed it go too, so they get the log's guard.
The SQL is a copy of gateway.db.tables.infra.CHECKPOINT_GUARD_* as of this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRESQL = (
    """
CREATE FUNCTION audit_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoint is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    "CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint "
    "FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only()",
    "CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoint_append_only()",
)
_SQLITE = (
    """
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only: UPDATE refused'); END
""",
    """
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only: DELETE refused'); END
""",
)


def upgrade() -> None:
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_checkpoint_no_truncate ON audit_checkpoint")
        op.execute("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint")
        op.execute("DROP FUNCTION audit_checkpoint_append_only()")
        return
    op.execute("DROP TRIGGER audit_checkpoint_no_delete")
    op.execute("DROP TRIGGER audit_checkpoint_no_update")
