"""Tables of cases (业务件): the case, its transitions and its materials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, Column, ForeignKey, Index, Integer, String, event
from sqlmodel import Field, SQLModel

from gateway.db.tables.register import JSONDoc
from gateway.db.types import UTCDateTime


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class CaseRow(SQLModel, table=True):
    """A case as the workflow sees it. `input` holds the submission with ID numbers encrypted."""

    __tablename__ = "case_record"
    __table_args__ = (
        Index("ix_case_record_party_received", "submitted_by", "received_at"),
        Index("ix_case_record_unit_state", "unit_code", "state"),
        Index("ix_case_record_receipt", "receipt_number", unique=True),
        # The back office's 待办: cases at one stage, soonest deadline first (keyset pagination).
        Index("ix_case_record_stage_deadline", "stage", "deadline_at", "id"),
        Index("ix_case_record_assignee_deadline", "assignee", "deadline_at", "id"),
        # The supervisor's dashboard: the last days' receipts and certificates, not the whole table.
        Index("ix_case_record_received_at", "received_at"),
        Index("ix_case_record_certified_at", "certified_at"),
        # A state's cases (the dashboard's backlog), and its overdue ones nearest deadline first. It carries
        # received_at so that the backlog by age is read from the index alone: the open cases of a register
        # ten years old lie one to a heap page among the closed ones.
        Index("ix_case_record_state_deadline", "state", "deadline_at", postgresql_include=["received_at"]),
    )

    id: str = Field(primary_key=True, max_length=32)  # random, never sequential (OWASP API1)
    kind: str = Field(max_length=40)
    state: str = Field(max_length=24)
    unit_code: str = Field(max_length=28)
    receipt_number: str | None = Field(default=None, max_length=24)  # 受理编号, 2026-441900-000123
    submitted_by: str = Field(max_length=40)  # participant code of the bank
    branch: str = Field(max_length=100)
    clerk: str = Field(max_length=100)
    input: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    tracks: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    rule_results: list[Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    reason: str = ""  # 补正 / 不予登记 / 撤回 reason
    assignee: str | None = Field(default=None, max_length=100)  # user name of the examiner holding it
    # Whose turn it is (gateway.domain.worklist.WorkStage), kept beside the state so 待办 is one index scan.
    stage: str = Field(default="", sa_column=Column(String(24), nullable=False, server_default=""))
    rank: int | None = None  # 抵押顺位 reserved at 受理
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    deadline_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    deadline_provisional: bool = False
    approved_at: datetime | None = _ts()
    registered_at: datetime | None = _ts()
    certified_at: datetime | None = _ts()
    completed_at: datetime | None = _ts()
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = 1  # bumped on every change (optimistic check)


# A case's state decides its stage: without being told, PostgreSQL's planner multiplies the two conditions'
# selectivities and, guessing a handful of rows for a queue filtered by stage and state, reads and sorts all
# of them instead of the first page of the stage's index in deadline order (migration 0019).
CASE_STATISTICS_POSTGRESQL = (
    "CREATE STATISTICS st_case_record_stage_state (dependencies, mcv) ON stage, state FROM case_record"
)
event.listen(
    CaseRow.__table__,  # type: ignore[attr-defined]
    "after_create",
    DDL(CASE_STATISTICS_POSTGRESQL).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
)


class TransitionRow(SQLModel, table=True):
    """Who moved a case from where to where, when and why. Append-only."""

    __tablename__ = "case_transition"
    # The dashboard's workload: who moved how many cases in the last days. Transitions are written in time
    # order, so each insert lands on the index's last, cached leaf.
    __table_args__ = (Index("ix_case_transition_at", "at"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    case_id: str = Field(
        sa_column=Column(String(32), ForeignKey("case_record.id"), nullable=False, index=True)
    )
    from_state: str | None = Field(default=None, max_length=24)
    to_state: str = Field(max_length=24)
    actor: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = ""


class MaterialRow(SQLModel, table=True):
    """An uploaded material (申请材料): PDF or JPEG, its SM3 recorded at upload. The bytes are in the blob
    store under that SM3 (gateway.ports.blobs), not in this table."""

    __tablename__ = "case_material"

    id: str = Field(primary_key=True, max_length=32)
    case_id: str = Field(
        sa_column=Column(String(32), ForeignKey("case_record.id"), nullable=False, index=True)
    )
    name: str = Field(max_length=200)
    content_type: str = Field(max_length=60)
    size: int
    sm3: str = Field(max_length=64)
    round: int = 0  # 0 at submission, n for the n-th 补正
    # What the document is where a rule reads it (gateway.domain.materials.MaterialKind), else "other".
    kind: str = Field(default="other", max_length=40, sa_column_kwargs={"server_default": "other"})
    uploaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
