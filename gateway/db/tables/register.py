"""Tables of the register (登记簿): units and their entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from gateway.db.types import UTCDateTime

# JSONB on PostgreSQL (indexable, compact); plain JSON text on SQLite.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class UnitRow(SQLModel, table=True):
    """A 不动产单元. Its facts (address, areas, uses) change only on a cadastral change, never by a case."""

    __tablename__ = "unit"

    unit_code: str = Field(primary_key=True, max_length=28)
    facts: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EntryRow(SQLModel, table=True):
    """One register entry. Opened by a case, closed by a case; its facts are never updated.

    Personal data inside `facts` (ID numbers) is SM4-encrypted with a keyed SM3 index beside it.
    """

    __tablename__ = "register_entry"
    __table_args__ = (
        Index("ix_register_entry_unit_open", "unit_code", "closed_at"),
        Index("ix_register_entry_certificate", "certificate_number", unique=True),
    )

    id: str = Field(primary_key=True, max_length=32)
    unit_code: str = Field(sa_column=Column(String(28), ForeignKey("unit.unit_code"), nullable=False))
    kind: str = Field(max_length=24)
    facts: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    rank: int | None = None
    # 不动产权证书号 / 不动产登记证明号: allocated in the 登簿 transaction, so the entry is born with it.
    certificate_number: str | None = Field(default=None, max_length=64)
    opened_by_case: str | None = Field(default=None, max_length=32)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_by_case: str | None = Field(default=None, max_length=32)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
