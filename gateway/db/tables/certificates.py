"""Tables of certificates: the per-registry number counters and the issued certificates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.db.types import UTCDateTime


class NumberCounterRow(SQLModel, table=True):
    """The last sequence number used per registry, year and kind (一证一号: never reused)."""

    __tablename__ = "certificate_counter"
    __table_args__ = (UniqueConstraint("registry_code", "year", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    registry_code: str = Field(max_length=12)  # administrative code, e.g. 441900
    year: int
    kind: str = Field(max_length=12)  # ownership / proof
    last: int = 0


class CertificateRow(SQLModel, table=True):
    """A certificate (不动产权证书 / 不动产登记证明), paper (legacy) or electronic.

    Its status changes when the entry it proves is closed: an ownership certificate becomes void
    (已作废) on transfer, a proof cancelled (已注销) on release.
    """

    __tablename__ = "certificate"
    __table_args__ = (
        Index("ix_certificate_case", "case_id"),
        Index("ix_certificate_qr", "qr_token", unique=True),
        # The public look-up by GB/T 36904 identifier (gateway.services.certificate_lookup).
        Index("ix_certificate_identifier", "identifier"),
    )

    number: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=12)  # ownership / proof
    entry_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    case_id: str | None = Field(default=None, max_length=32)
    unit_code: str = Field(max_length=28)
    holder_masked: str = Field(max_length=200)  # what a public page may show
    status: str = Field(default="valid", max_length=12)  # valid 有效 / cancelled 已注销 / void 已作废
    identifier: str | None = Field(default=None, max_length=120)  # GB/T 36904 证照标识 (electronic only)
    qr_token: str | None = Field(default=None, max_length=43)
    issued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    status_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # When the file reached the bank that submitted the case (发证); the case is archived when all have.
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    sm3: str | None = Field(default=None, max_length=64)  # of the signed bytes (the signed range)
    file_sm3: str | None = Field(default=None, max_length=64)  # of the distributed file, signature attached
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # The signed PDF is in the blob store (gateway.ports.blobs) under this name (its SM3); NULL until 缮证.
    pdf_ref: str | None = Field(default=None, max_length=64)
    pdf_size: int | None = None
    # The same certificate as OFD (GB/T 33190): the distributed package, its signed bytes' SM3 and the
    # detached SM2 signature over them (None for certificates issued before OFD).
    ofd: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    ofd_sm3: str | None = Field(default=None, max_length=64)
    ofd_signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    version: int = 1
