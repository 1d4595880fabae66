"""What anyone may learn about a certificate: its public facts, found by QR token, identifier or number.

Only columns a public page may show are read (never the file, never anything unmasked), so a look-up is
one indexed row and cheap enough to serve without caching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Table, select

from e_license import CertificateKind, CertificateStatus, LicenseIdentifier, NumberFormat
from gateway.db import Database
from gateway.db.tables.register import UnitRow
from gateway.services.store_certificates import CERTIFICATE
from gateway.settings import RegistrySettings

__all__ = ["CertificateFacts", "CertificateRecord", "find_by_identifier", "find_by_number", "find_by_token"]

UNIT = cast(Table, UnitRow.__table__)  # type: ignore[attr-defined]

# What `new_qr_token` makes; anything else is not looked up at all.
QR_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32}")


class CertificateFacts(BaseModel):
    """The public facts of one certificate (verification page and JSON): no ID number, holder masked."""

    model_config = ConfigDict(frozen=True)

    document: str = Field(description="证照名称, e.g. 不动产登记证明")
    kind: CertificateKind
    number: str = Field(description="证号")
    identifier: str | None = Field(description="GB/T 36904 证照标识 (None for a paper certificate)")
    version: int = Field(description="版本号 of the identifier: bumped by every re-issue")
    issuer: str = Field(description="颁发机构")
    issued_on: date | None = Field(description="颁发日期")
    status: CertificateStatus
    status_zh: str = Field(description="有效 / 已注销 / 已作废")
    status_changed_on: date | None = Field(description="when it was cancelled or voided")
    holder: str = Field(description="权利人, masked (张*) — a bank's name for a mortgage proof")
    # Printed on the certificate: a reader compares them with the paper, so a certificate bearing another
    # certificate's QR code (a forgery around a genuine code) shows a different unit here.
    unit_code: str = Field(default="", description="不动产单元号")
    location: str = Field(default="", description="坐落, as the register records the unit today")
    sm3: str | None = Field(
        description="SM3 of the signed range: the PDF as rendered, before the signature was attached"
    )
    file_sm3: str | None = Field(
        default=None, description="SM3 of the whole distributed file (signature attached), as a holder has it"
    )


@dataclass(frozen=True)
class CertificateRecord:
    """The facts, plus what the registry's own tools show (the case, the unit, whether the file exists)."""

    facts: CertificateFacts
    case_id: str | None
    unit_code: str
    file_bytes: int | None  # size of the stored PDF; None until 缮证 has stored it
    ofd_sm3: str | None = None  # SM3 of the signed OFD package, to match an uploaded OFD
    qr_token: str | None = None  # the QR code's secret: proves the asker holds the certificate


_COLUMNS = (
    CERTIFICATE.c.number,
    CERTIFICATE.c.kind,
    CERTIFICATE.c.identifier,
    CERTIFICATE.c.version,
    CERTIFICATE.c.issued_at,
    CERTIFICATE.c.status,
    CERTIFICATE.c.status_changed_at,
    CERTIFICATE.c.holder_masked,
    CERTIFICATE.c.sm3,
    CERTIFICATE.c.file_sm3,
    CERTIFICATE.c.ofd_sm3,
    CERTIFICATE.c.case_id,
    CERTIFICATE.c.unit_code,
    CERTIFICATE.c.pdf_size.label("file_bytes"),
    CERTIFICATE.c.qr_token,
    UNIT.c.facts.label("unit_facts"),
)


async def find_by_token(db: Database, registry: RegistrySettings, token: str) -> CertificateRecord | None:
    if not QR_TOKEN_RE.fullmatch(token):
        return None
    return await _find(db, registry, CERTIFICATE.c.qr_token == token)


async def find_by_identifier(
    db: Database, registry: RegistrySettings, identifier: str
) -> CertificateRecord | None:
    """Raises InputError (with the reason) for an identifier that is not well formed."""
    canonical = str(LicenseIdentifier.parse(identifier))
    return await _find(db, registry, CERTIFICATE.c.identifier == canonical)


async def find_by_number(db: Database, registry: RegistrySettings, number: str) -> CertificateRecord | None:
    """Either bracket width; raises InputError for a number that is not well formed."""
    fmt = NumberFormat.for_registry(registry)
    return await _find(db, registry, CERTIFICATE.c.number == fmt.format(fmt.parse(number)))


async def _find(
    db: Database, registry: RegistrySettings, condition: ColumnElement[bool]
) -> CertificateRecord | None:
    async with db.session() as session:
        query = select(*_COLUMNS).select_from(
            CERTIFICATE.outerjoin(UNIT, UNIT.c.unit_code == CERTIFICATE.c.unit_code)
        )
        row = (await session.execute(query.where(condition))).one_or_none()
    if row is None:
        return None
    tz = ZoneInfo(registry.timezone)
    kind = CertificateKind(row.kind)
    status = CertificateStatus(row.status)
    facts = CertificateFacts(
        document=kind.name_zh,
        kind=kind,
        number=row.number,
        identifier=row.identifier,
        version=row.version,
        issuer=registry.name,
        issued_on=_local_day(row.issued_at, tz),
        status=status,
        status_zh=status.label_zh,
        status_changed_on=_local_day(row.status_changed_at, tz) if not status.in_force else None,
        holder=row.holder_masked,
        unit_code=row.unit_code,
        location=str((row.unit_facts or {}).get("address", "")),
        sm3=row.sm3,
        file_sm3=row.file_sm3,
    )
    return CertificateRecord(facts, row.case_id, row.unit_code, row.file_bytes, row.ofd_sm3, row.qr_token)


def _local_day(at: datetime | None, tz: ZoneInfo) -> date | None:
    return at.astimezone(tz).date() if at is not None else None
