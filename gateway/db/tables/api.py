"""Tables of the HTTP layer: idempotency keys, request nonces, back-office users and their tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, false
from sqlmodel import Field, SQLModel

from gateway.db.types import UTCDateTime

__all__ = ["BackofficeToken", "BackofficeUser", "IdempotencyRecord", "RequestNonce"]


class IdempotencyRecord(SQLModel, table=True):
    """One `Idempotency-Key` of one participant: claimed (in flight) or completed with the stored response.

    Completed rows are kept for at least the documented retention (24 h) and then purged by the sweeper.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ix_idempotency_key_created_at", "created_at"),)

    party: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    # SM3 over method, path and raw body: the same key with another request is refused (422).
    fingerprint: str = Field(max_length=64)
    state: str = Field(sa_column=Column(String(16), nullable=False))  # in_flight | completed
    # Random token of the request holding the claim; completion is conditional on it, so a request whose
    # lease was taken over can never store its response (its transaction rolls back instead).
    owner: str = Field(max_length=32)
    lease_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=200)
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class RequestNonce(SQLModel, table=True):
    """A request nonce already used by a party (the nonce store when no Redis is configured)."""

    __tablename__ = "request_nonce"
    __table_args__ = (Index("ix_request_nonce_expires_at", "expires_at"),)

    party: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class BackofficeUser(SQLModel, table=True):
    """A person who signs in: registry staff (back office), bank staff (银行端) or a provider's staff."""

    __tablename__ = "backoffice_user"

    id: str = Field(primary_key=True, max_length=32)  # uuid4 hex
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)  # argon2id, PHC string format
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Sign-in lockout (等保 2.0 level 3, 登录失败处理): failures since the last success or lock.
    failed_logins: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # An initial or reset password must be changed at the next sign-in.
    must_change_password: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    # Bank and provider staff belong to one institution (its participant code, e.g. boc-dg, gas); a bank's
    # clerks and branch supervisors to one of its branches (网点). Registry staff have neither.
    institution: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))
    branch: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))


class BackofficeToken(SQLModel, table=True):
    """A bearer token issued at login; only its SM3 hash is stored, so a database leak yields no session."""

    __tablename__ = "backoffice_token"
    __table_args__ = (Index("ix_backoffice_token_expires_at", "expires_at"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(
        sa_column=Column(String(32), ForeignKey("backoffice_user.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
