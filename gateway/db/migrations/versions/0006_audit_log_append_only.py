"""audit_log append-only in the database: UPDATE only to seal a row, no DELETE or TRUNCATE

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:00:00.000000

Triggers refuse every change to an audit row except the sealer's (seq NULL → set, content unchanged). The
SQL is a copy of gateway.db.tables.infra.AUDIT_GUARD_* as of this revision (a migration must not change when
the code does).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRESQL = (
    """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.id = OLD.id AND NEW.at = OLD.at
           AND NEW.actor = OLD.actor AND NEW.action = OLD.action AND NEW.subject = OLD.subject
           AND NEW.case_id IS NOT DISTINCT FROM OLD.case_id AND NEW.details::text = OLD.details::text
           AND NEW.row_hash = OLD.row_hash THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
_SQLITE = (
    """
CREATE TRIGGER audit_log_seal_only BEFORE UPDATE ON audit_log
WHEN NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.id IS OLD.id AND NEW.at IS OLD.at
          AND NEW.actor IS OLD.actor AND NEW.action IS OLD.action AND NEW.subject IS OLD.subject
          AND NEW.case_id IS OLD.case_id AND NEW.details IS OLD.details AND NEW.row_hash IS OLD.row_hash)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END
""",
    """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END
""",
)


def upgrade() -> None:
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
        return
    op.execute("DROP TRIGGER audit_log_no_delete")
    op.execute("DROP TRIGGER audit_log_seal_only")
