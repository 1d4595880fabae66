"""The materials a case's transaction reads and writes: rows here, bytes in the blob store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db.ids import new_id
from gateway.db.tables.cases import MaterialRow, TransitionRow
from gateway.domain.materials import MaterialKind
from gateway.domain.workflow import CaseState
from gateway.errors import NotFound
from gateway.ports.blobs import BlobStore
from gateway.services.materials import MaterialRecord, MaterialUpload

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

__all__ = ["MaterialRecords"]

MATERIAL = cast(Table, MaterialRow.__table__)  # type: ignore[attr-defined]
TRANSITION = cast(Table, TransitionRow.__table__)  # type: ignore[attr-defined]


def _material(row: Mapping[Any, Any]) -> MaterialRecord:
    data = {k: row[k] for k in MaterialRecord.__dataclass_fields__}
    return MaterialRecord(**{**data, "kind": MaterialKind(data["kind"])})


class MaterialRecords:
    """Part of `Store`: the material table, inside the caller's transaction."""

    blobs: BlobStore
    uow: UnitOfWork | None

    @property
    def session(self) -> AsyncSession:  # Store's
        raise NotImplementedError

    async def add_material(
        self, case_id: str, material: MaterialUpload, *, round_: int, at: datetime
    ) -> MaterialRecord:
        # In the blob store before the row that names it commits (a rolled-back case leaves an unnamed blob,
        # never a row without its bytes).
        name = await self.blobs.put(material.content)
        record = MaterialRecord(
            id=new_id(),
            case_id=case_id,
            name=material.name,
            content_type=material.content_type,
            size=len(material.content),
            sm3=name,
            round=round_,
            uploaded_at=at,
            kind=material.kind,
        )
        row = {**record.__dict__, "kind": material.kind.value}
        if self.uow is not None:
            self.uow.insert(MATERIAL, [row])  # after the case it belongs to, if that is queued too
        else:
            await self.session.execute(insert(MATERIAL), row)
        return record

    async def material_round(self, case_id: str) -> int:
        """0 before any 补正 request, n after the n-th: which round an upload answers."""
        found = await self.session.execute(
            select(func.count())
            .select_from(TRANSITION)
            .where(
                TRANSITION.c.case_id == case_id, TRANSITION.c.to_state == CaseState.NEED_MORE_MATERIAL.value
            )
        )
        return int(found.scalar_one())

    async def materials(self, case_id: str) -> list[MaterialRecord]:
        rows = await self.session.execute(
            select(*(MATERIAL.c[f] for f in MaterialRecord.__dataclass_fields__))
            .where(MATERIAL.c.case_id == case_id)
            .order_by(MATERIAL.c.uploaded_at)
        )
        return [_material(r._mapping) for r in rows]

    async def material_kinds(self, case_id: str) -> frozenset[MaterialKind]:
        """The kinds of material on the case: what the rules that depend on a written statement read."""
        rows = await self.session.execute(
            select(MATERIAL.c.kind).where(MATERIAL.c.case_id == case_id).distinct()
        )
        return frozenset(MaterialKind(k) for k in rows.scalars())

    async def material_content(self, case_id: str, material_id: str) -> tuple[MaterialRecord, bytes]:
        row = (
            await self.session.execute(
                select(MATERIAL).where(MATERIAL.c.case_id == case_id, MATERIAL.c.id == material_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"material {material_id} not found", f"未找到材料 {material_id}")
        record = _material(row._mapping)
        return record, await self.blobs.get(record.sm3)
