"""The state of each utility account-transfer job (水电气网联动过户), as the case and the bank see it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from gateway.db.types import UTCDateTime

__all__ = ["UtilityJobRow", "UtilityJobStatus"]


class UtilityJobStatus(StrEnum):
    """pending → (pull: delivered when fetched) → accepted → done | rejected; dead comes from the outbox."""

    PENDING = "pending"  # written at 登簿; not yet answered (or not yet collected by a pull provider)
    DELIVERED = "delivered"  # a pull provider fetched it and has not answered yet
    ACCEPTED = "accepted"  # the provider took it; its result comes later
    DONE = "done"  # 过户完成
    REJECTED = "rejected"  # 户号不符 / 有欠费 / 需现场办理: the citizen must act
    DEAD = "dead"  # delivery given up (dead letter): an operator must act

    @property
    def is_final(self) -> bool:
        return self in (UtilityJobStatus.DONE, UtilityJobStatus.REJECTED)


class UtilityJobRow(SQLModel, table=True):
    """One provider's job of one case. `id` is the outbox row id: the delivery id the provider dedupes on.

    Written when the provider first answers (or fetches); until then the outbox row alone stands for it.
    Holds no personal data: the names and ID numbers stay encrypted in the outbox payload.
    """

    __tablename__ = "utility_job"
    __table_args__ = (
        Index("ix_utility_job_case", "case_id"),
        Index("ix_utility_job_provider_status", "provider", "status"),
        Index("ix_utility_job_unit", "unit_code", "status"),
        Index("ix_utility_job_status_updated", "status", "updated_at"),  # the dashboard's counts
    )

    id: str = Field(primary_key=True, max_length=32)
    case_id: str = Field(max_length=32)
    provider: str = Field(max_length=64)  # participant code
    service: str = Field(max_length=16)
    unit_code: str = Field(max_length=28)
    account_no: str = Field(max_length=40)  # 户号: offered again for the unit's next transfer
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reason_code: str | None = Field(default=None, max_length=32)  # RefusalReason when rejected
    provider_code: str = Field(default="", max_length=64)  # the provider's own result code
    message: str = Field(default="", sa_column=Column(Text, nullable=False))  # the provider's own words
    provider_reference: str = Field(default="", max_length=100)
    attempts: int = 0  # delivery attempts when last answered
    fetched_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
