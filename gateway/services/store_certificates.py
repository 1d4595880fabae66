"""The certificate records a case's transaction reads and writes: numbers, status, files, delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db.prepared import Prepared
from gateway.db.tables.certificates import CertificateRow, NumberCounterRow
from gateway.domain.workflow import RECEIPT_COUNTER
from gateway.errors import NotFound
from gateway.ports.blobs import BlobStore

CERTIFICATE = cast(Table, CertificateRow.__table__)  # type: ignore[attr-defined]
COUNTER = cast(Table, NumberCounterRow.__table__)  # type: ignore[attr-defined]
_NEXT_RECEIPT = Prepared(
    select(func.gw_next_receipt(bindparam("p_registry"), bindparam("p_year"), type_=BigInteger).label("seq"))
)


class CertificateRecords:
    """Part of `Store`: the certificate table, inside the caller's transaction."""

    dialect: str
    blobs: BlobStore

    @property
    def session(self) -> AsyncSession:  # Store's
        raise NotImplementedError

    async def _connection(self) -> AsyncConnection:  # Store's
        raise NotImplementedError

    async def next_number(self, registry_code: str, year: int, kind: str) -> int:
        """The next sequence number, atomically: an upsert that increments and returns the counter.

        It runs in the 登簿 transaction, so a rolled-back case gives its number back (no gap) and two
        processes never get the same number (the row is locked until commit).
        """
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        table = COUNTER
        stmt = (
            dialect_insert(table)
            .values(registry_code=registry_code, year=year, kind=kind, last=1)
            .on_conflict_do_update(
                index_elements=["registry_code", "year", "kind"], set_={"last": table.c.last + 1}
            )
            .returning(table.c.last)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def next_receipt(self, registry_code: str, year: int) -> int:
        """The registry's next 受理编号 of `year`. PostgreSQL: the year's sequence (migration 0016), which
        serialises nothing: gaps are allowed (a refused or rolled-back submission does not give its number
        back), duplicates never. SQLite: the counter row, as certificate numbers (one writer at a time)."""
        if self.dialect != "postgresql":
            return await self.next_number(registry_code, year, RECEIPT_COUNTER)
        found = await _NEXT_RECEIPT.fetch(
            await self._connection(), {"p_registry": registry_code, "p_year": year}
        )
        return int(found[0]["seq"])

    async def add_certificate(self, row: CertificateRow) -> None:
        self.session.add(row)

    async def set_certificate_status(self, entry_ids: list[str], status: str, at: datetime) -> list[str]:
        """Mark the certificates proving these entries (void / cancelled); returns their numbers."""
        if not entry_ids:
            return []
        result = await self.session.execute(
            update(CERTIFICATE)
            .where(CERTIFICATE.c.entry_id.in_(entry_ids), CERTIFICATE.c.status == "valid")
            .values(status=status, status_changed_at=at)
            .returning(CERTIFICATE.c.number)
        )
        return list(result.scalars())

    async def certificate_file(self, case_id: str, number: str, file_format: str = "pdf") -> bytes | None:
        """The signed PDF (or OFD) of a certificate issued in this case (NotFound for any other)."""
        column = CERTIFICATE.c.ofd if file_format == "ofd" else CERTIFICATE.c.pdf_ref
        row = (
            await self.session.execute(
                select(column).where(CERTIFICATE.c.case_id == case_id, CERTIFICATE.c.number == number)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"certificate {number} not found in this case", f"本业务件中没有证照 {number}")
        if row[0] is None:
            return None
        return bytes(row[0]) if file_format == "ofd" else await self.blobs.get(row[0])

    async def certificates_of(self, case_id: str) -> list[dict[str, Any]]:
        """The certificates issued in a case: number, kind, status, and whether the signed file exists yet."""
        rows = await self.session.execute(
            select(CERTIFICATE.c.number, CERTIFICATE.c.kind, CERTIFICATE.c.status, CERTIFICATE.c.sm3)
            .where(CERTIFICATE.c.case_id == case_id)
            .order_by(CERTIFICATE.c.number)
        )
        return [
            {"number": r.number, "kind": r.kind, "status": r.status, "issued": r.sm3 is not None}
            for r in rows
        ]

    async def certificate_delivered(self, case_id: str, number: str, at: datetime) -> int:
        """Record that a certificate reached the bank; returns how many of the case's are still undelivered."""
        await self.session.execute(
            update(CERTIFICATE)
            .where(
                CERTIFICATE.c.case_id == case_id,
                CERTIFICATE.c.number == number,
                CERTIFICATE.c.delivered_at.is_(None),
            )
            .values(delivered_at=at)
        )
        left = await self.session.execute(
            select(func.count())
            .select_from(CERTIFICATE)
            .where(
                CERTIFICATE.c.case_id == case_id,
                CERTIFICATE.c.delivered_at.is_(None),
                CERTIFICATE.c.status != "void",  # replaced before it reached the bank: its successor counts
            )
        )
        return int(left.scalar_one())
