"""Infrastructure tables: the hash-chained audit log and its checkpoints, the outbox, loaded calendar years."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DDL, JSON, BigInteger, Column, Index, Integer, String, Text, event, text
from sqlmodel import Field, SQLModel

from gateway.db.types import UTCDateTime

__all__ = [
    "OUTBOX_DELIVERED_SQL",
    "OUTBOX_OPEN_SQL",
    "OUTBOX_UTILITY_SQL",
    "AuditCheckpoint",
    "AuditRecord",
    "CalendarYearRow",
    "OutboxArchiveRow",
    "OutboxRow",
    "OutboxStatus",
]


class AuditRecord(SQLModel, table=True):
    """One audit row. `row_hash` = SM3(0x01 ‖ canonical JSON of the fields) from its insert; `seq`, `prev_hash`
    and `hash` = SM3(0x00 ‖ prev_hash ‖ canonical JSON with seq) once the sealer has chained it (see
    gateway.db.audit_chain)."""

    __tablename__ = "audit_log"

    # Insertion order (a transaction's rows in their order); SQLite needs INTEGER for an autoincrementing key.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    # The position in the chain, given by the sealer (NULL until then), so the chain order is the seq order.
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, unique=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    subject: str = Field(max_length=200)
    case_id: str | None = Field(default=None, max_length=64, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    row_hash: str = Field(max_length=64)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


# The log is append-only in the database itself, not only in our code: an UPDATE is refused unless it is
# the sealer giving an unsealed row its position (seq NULL → set, every content column unchanged), and
# DELETE (and TRUNCATE) always. Someone with the table owner's rights can still switch the triggers off;
# the chain and signed checkpoints catch what such a person changes. Migration 0006 installs the same.
AUDIT_GUARD_POSTGRESQL = (
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
AUDIT_GUARD_SQLITE = (
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
for _statement in AUDIT_GUARD_POSTGRESQL:
    event.listen(
        AuditRecord.__table__,  # type: ignore[attr-defined]
        "after_create",
        DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
    )
for _statement in AUDIT_GUARD_SQLITE:
    event.listen(
        AuditRecord.__table__,  # type: ignore[attr-defined]
        "after_create",
        DDL(_statement).execute_if(dialect="sqlite"),  # type: ignore[no-untyped-call]
    )


class AuditCheckpoint(SQLModel, table=True):
    """An SM2-signed statement of the chain's head (seq, hash) at a moment, kept to detect rewriting."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    head_hash: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))  # base64 DER SM2 signature
    public_key: str = Field(sa_column=Column(Text, nullable=False))  # PEM, for information: trust is external


# The checkpoints are as append-only as the log they sign: a deleted checkpoint is how a cut tail would hide.
# Nothing ever updates one, so every UPDATE, DELETE and TRUNCATE is refused. Migration 0010 installs the same.
CHECKPOINT_GUARD_POSTGRESQL = (
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
CHECKPOINT_GUARD_SQLITE = (
    """
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only: UPDATE refused'); END
""",
    """
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only: DELETE refused'); END
""",
)
for _statement in CHECKPOINT_GUARD_POSTGRESQL:
    event.listen(
        AuditCheckpoint.__table__,  # type: ignore[attr-defined]
        "after_create",
        DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
    )
for _statement in CHECKPOINT_GUARD_SQLITE:
    event.listen(
        AuditCheckpoint.__table__,  # type: ignore[attr-defined]
        "after_create",
        DDL(_statement).execute_if(dialect="sqlite"),  # type: ignore[no-untyped-call]
    )


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    DEAD = "dead"


# The open rows (written or parked, or being delivered), as SQL text: a partial index's predicate, and the
# same words in the queries that must use it. Literal values, not parameters, so PostgreSQL can prove the
# query's condition implies the index's even in a prepared statement's generic plan.
OUTBOX_OPEN_SQL = "status IN ('pending', 'in_flight')"
OUTBOX_DELIVERED_SQL = "status = 'delivered'"
OUTBOX_UTILITY_SQL = "job = 'utility.transfer'"  # gateway.services.effects.UTILITY_TRANSFER


class OutboxRow(SQLModel, table=True):
    """An outbound effect, written in the transaction that causes it and delivered afterwards."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # A case's utility transfers (gateway.services.utilities.state.case_deliveries), the only rows read by
        # case: the other jobs' rows (most of the outbox) are not in it, so neither their insert nor each
        # claim and delivery of them (a new row version) writes to a random leaf of it.
        Index(
            "ix_outbox_case",
            "case_id",
            "created_at",
            postgresql_where=text(OUTBOX_UTILITY_SQL),
            sqlite_where=text(OUTBOX_UTILITY_SQL),
        ),
        # A pull provider's job list: its own open rows, oldest first, read through this index alone however
        # many other parties' rows are open (a bank down for a day leaves tens of thousands pending).
        Index(
            "ix_outbox_open_by_target",
            "target",
            "created_at",
            "id",
            postgresql_where=text(OUTBOX_OPEN_SQL),
            sqlite_where=text(OUTBOX_OPEN_SQL),
        ),
        # The sweeper's retention pick (gateway.db.retention): only delivered rows, by age.
        Index(
            "ix_outbox_delivered_at",
            "delivered_at",
            postgresql_where=text(OUTBOX_DELIVERED_SQL),
            sqlite_where=text(OUTBOX_DELIVERED_SQL),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)  # new_outbox_id; also the webhook-id and the arq job id
    job: str = Field(max_length=100)
    target: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    case_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default=OutboxStatus.PENDING.value, sa_column=Column(String(16), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    claimed_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_http_status: int | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class OutboxArchiveRow(SQLModel, table=True):
    """A delivered outbox row past the retention (`GW_JOBS__OUTBOX_RETENTION_DAYS`), moved here by the sweeper:
    the same columns, read only by case (a case's utility jobs), never by the dispatcher."""

    __tablename__ = "outbox_archive"
    __table_args__ = (Index("ix_outbox_archive_case", "case_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    job: str = Field(max_length=100)
    target: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    case_id: str | None = Field(default=None, max_length=64)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    claimed_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_http_status: int | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class CalendarYearRow(SQLModel, table=True):
    """An official year table loaded with `gateway calendar load`, seen by every gateway process."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # ISO dates
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=500)
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    loaded_by: str = Field(max_length=200)
