"""Loading and exporting the whole register (初始数据迁移): `gateway register import|export`.

A registry adopting the gateway already has a register. Import reads the exchange format
(gateway.register_exchange) in batches, one transaction each:
- a record that fails a check is refused with its line and reason; the rest still load;
- a unit not yet on the register is added with its entries and their (paper) certificates;
- a unit already there is brought to the record through entries opened and closed, never by editing a
  row: an entry the record no longer holds is closed (its certificate void or cancelled), a new one opened;
  equal entries are left alone, so importing the same file twice changes nothing;
- every unit changed is audited (`register.imported`, with what was opened and closed);
- certificate counters move past the highest imported number of each year and kind, so no number is
  ever issued twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from e_license.numbers import CertificateNumber, NumberFormat
from gateway.db.ids import new_id
from gateway.db.types import utcnow
from gateway.db.uow import UnitOfWork
from gateway.domain.register import Entry, EntryKind, Unit
from gateway.privacy import entry_facts
from gateway.register_exchange import (
    ExchangeEntry,
    UnitRecord,
    dump_line,
    explain_validation,
    parse_record,
    record_problems,
)
from gateway.services.context import ServiceContext
from gateway.services.registration import holders_masked
from gateway.services.store import ENTRY, UNIT, Store
from gateway.services.store_certificates import CERTIFICATE, COUNTER

__all__ = ["ImportReport", "export_register", "import_register"]

BATCH = 500  # records per transaction: large enough for few round trips, small enough for short locks


@dataclass
class ImportReport:
    read: int = 0
    added: int = 0  # units new to the register
    updated: int = 0  # units whose entries or facts changed
    unchanged: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


@dataclass(frozen=True)
class _Plan:
    """What one record does to the register."""

    record: UnitRecord
    new_unit: bool
    facts_changed: bool
    opened: list[ExchangeEntry]
    closed: list[Entry]

    @property
    def changes(self) -> bool:
        return self.new_unit or self.facts_changed or bool(self.opened or self.closed)


async def import_register(
    ctx: ServiceContext,
    records: Iterable[tuple[int, dict[str, Any] | str]],
    *,
    actor: str,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    numbers = NumberFormat.for_registry(ctx.registry)
    highest: dict[tuple[int, str], int] = {}

    async def apply(valid: list[_Valid]) -> None:
        async with ctx.unit_of_work() as (uow, store):
            plans = await _plan(store, valid, report)
            await _write(store, plans, utcnow())
            _audit(uow, plans, actor)
        for plan in plans:
            if plan.new_unit:
                report.added += 1
            elif plan.changes:
                report.updated += 1
            else:
                report.unchanged += 1
        if progress is not None:
            progress(report)

    # A pipeline of two: batch N+1 is checked (Python's CPU) while batch N's transaction runs (PostgreSQL's
    # CPU, on the other core). Transactions stay one after the other, so a batch's plan always sees every
    # earlier batch committed.
    writing: asyncio.Task[None] | None = None
    for batch_no, batch in enumerate(_batches(records, BATCH), start=1):
        if batch_no & (batch_no - 1) == 0 and ctx.db.dialect == "postgresql":
            # Batches 1, 2, 4, 8, …: fresh statistics for the tables the plan reads. Without them the planner
            # still believes the tables empty long after the load began and reads each batch's units and
            # entries by scanning the whole growing table (200,000 units took over ten minutes).
            if writing is not None:
                await writing
                writing = None
            await _analyze(ctx)
        valid = await _check_batch(batch, numbers, ctx.registry.province_abbr, ctx.registry.area_name, report)
        for _line, _record, parsed in valid:
            for number in parsed:
                key = (number.year, number.kind.value)
                highest[key] = max(highest.get(key, 0), number.seq)
        if writing is not None:
            await writing
        writing = asyncio.create_task(apply(valid))
    if writing is not None:
        await writing
    async with ctx.unit_of_work() as (_uow, store):
        await _advance_counters(store, ctx.registry.admin_code, highest)
    return report


_Valid = tuple[int, UnitRecord, list[CertificateNumber]]
_YIELD_EVERY = 25  # records checked between two turns of the event loop (the writing batch's round trips)


async def _check_batch(
    batch: list[tuple[int, dict[str, Any] | str]],
    numbers: NumberFormat,
    province: str,
    area: str,
    report: ImportReport,
) -> list[_Valid]:
    valid: list[_Valid] = []
    for i, (line, raw) in enumerate(batch, start=1):
        report.read += 1
        checked = _check(raw, numbers, province, area)
        if isinstance(checked, str):
            report.refused.append((line, checked))
        else:
            valid.append((line, *checked))
        if i % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return valid


async def _analyze(ctx: ServiceContext) -> None:
    async with ctx.db.transaction() as uow:
        await uow.connection.execute(text("ANALYZE unit, register_entry, certificate"))


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _check(
    raw: dict[str, Any] | str, numbers: NumberFormat, province: str, area: str
) -> tuple[UnitRecord, list[CertificateNumber]] | str:
    if isinstance(raw, str):
        return raw
    try:
        record = parse_record(raw)
    except ValidationError as exc:
        return explain_validation(exc)
    problems = record_problems(record, numbers.parse)
    parsed = (
        [numbers.parse(e.certificate_number) for e in record.entries if e.certificate_number]
        if not problems
        else []
    )
    for number in parsed:
        if (number.province, number.area) != (province, area):
            problems.append(
                f"certificate number {number} is not of this registry ({province} {area}) / 证号不属于本登记机构"
            )
    return "; ".join(problems) if problems else (record, parsed)


async def _plan(store: Store, valid: list[_Valid], report: ImportReport) -> list[_Plan]:
    """Compare each record with the register as it stands (read in three statements for the batch)."""
    codes = [r.unit.unit_code for _l, r, _n in valid]
    session = store.session
    units = {
        row.unit_code: row.facts
        for row in await session.execute(
            select(UNIT.c.unit_code, UNIT.c.facts).where(UNIT.c.unit_code.in_(codes))
        )
    }
    open_entries: dict[str, list[Entry]] = {}
    for row in await session.execute(
        select(ENTRY).where(ENTRY.c.unit_code.in_(codes), ENTRY.c.closed_at.is_(None))
    ):
        open_entries.setdefault(row.unit_code, []).append(store.entry_from_row(row._mapping))
    wanted_numbers = [e.certificate_number for _l, r, _n in valid for e in r.entries if e.certificate_number]
    holders = {
        row.number: row.unit_code
        for row in await session.execute(
            select(CERTIFICATE.c.number, CERTIFICATE.c.unit_code).where(
                CERTIFICATE.c.number.in_(wanted_numbers)
            )
        )
    }
    plans: list[_Plan] = []
    seen: set[str] = set()
    for line, record, _numbers in valid:
        code = record.unit.unit_code
        elsewhere = [
            n for e in record.entries if (n := e.certificate_number) and holders.get(n, code) != code
        ]
        if code in seen or elsewhere:
            reason = (
                f"unit {code} appears twice in one batch / 同一单元重复出现"
                if code in seen
                else f"certificate number(s) {', '.join(elsewhere)} already belong to another unit / 证号已属于其他单元"
            )
            report.refused.append((line, reason))
            continue
        seen.add(code)
        if code not in units:  # the usual case of a first load: nothing to compare with
            plans.append(
                _Plan(record, new_unit=True, facts_changed=False, opened=list(record.entries), closed=[])
            )
            continue
        current = open_entries.get(code, [])
        have = {_identity(e.facts, e.certificate_number, e.rank, e.opened_at): e for e in current}
        want = {_identity(e.facts, e.certificate_number, e.rank, e.registered_at): e for e in record.entries}
        plans.append(
            _Plan(
                record=record,
                new_unit=False,
                facts_changed=Unit.model_validate(units[code]) != record.unit,
                opened=[e for key, e in want.items() if key not in have],
                closed=[e for key, e in have.items() if key not in want],
            )
        )
    return plans


def _identity(facts: Any, number: str | None, rank: int | None, at: datetime) -> bytes:
    shape = {"facts": facts.model_dump(mode="json"), "number": number, "rank": rank, "at": at.isoformat()}
    return orjson.dumps(shape, option=orjson.OPT_SORT_KEYS)


async def _write(store: Store, plans: list[_Plan], now: datetime) -> None:
    session = store.session
    new_units = [
        {
            "unit_code": p.record.unit.unit_code,
            "facts": p.record.unit.model_dump(mode="json"),
            "created_at": now,
        }
        for p in plans
        if p.new_unit
    ]
    await _insert(store, UNIT, new_units)
    for plan in plans:
        if plan.facts_changed:
            await store.replace_unit_facts(plan.record.unit)
    closed = [e for p in plans for e in p.closed]
    if closed:
        ids = [e.id for e in closed]
        await session.execute(update(ENTRY).where(ENTRY.c.id.in_(ids)).values(closed_at=now))
        ownership = [e.id for e in closed if e.facts.kind is EntryKind.OWNERSHIP]
        await store.set_certificate_status(ownership, "void", now)
        await store.set_certificate_status([e.id for e in closed if e.id not in ownership], "cancelled", now)
    entries: list[dict[str, Any]] = []
    certificates: list[dict[str, Any]] = []
    for plan in plans:
        code = plan.record.unit.unit_code
        for entry in plan.opened:
            entry_id = new_id()
            entries.append(
                {
                    "id": entry_id,
                    "unit_code": code,
                    "kind": entry.facts.kind.value,
                    "facts": store.protector.protect(
                        entry.facts.model_dump(mode="json"), entry_facts(entry_id)
                    ),
                    "rank": entry.rank,
                    "certificate_number": entry.certificate_number,
                    "opened_by_case": None,
                    "opened_at": entry.registered_at,
                    "closed_by_case": None,
                    "closed_at": None,
                }
            )
            if entry.certificate_number:
                certificates.append(
                    {
                        "number": entry.certificate_number,
                        "kind": "ownership" if entry.facts.kind is EntryKind.OWNERSHIP else "proof",
                        "entry_id": entry_id,
                        "unit_code": code,
                        "holder_masked": holders_masked(entry.facts),
                        "status": "valid",
                        "issued_at": entry.registered_at,
                        "version": 1,
                    }
                )
    await _insert(store, ENTRY, entries)
    if certificates:
        # A number re-imported with its entry re-opened (its old entry closed above) keeps its row.
        existing = set(
            (
                await session.execute(
                    select(CERTIFICATE.c.number).where(
                        CERTIFICATE.c.number.in_([c["number"] for c in certificates])
                    )
                )
            ).scalars()
        )
        for row in [c for c in certificates if c["number"] in existing]:
            await session.execute(
                update(CERTIFICATE)
                .where(CERTIFICATE.c.number == row["number"])
                .values(entry_id=row["entry_id"], status="valid", status_changed_at=now)
            )
        await _insert(store, CERTIFICATE, [c for c in certificates if c["number"] not in existing])


async def _insert(store: Store, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys). PostgreSQL: COPY on the unit of work's own connection, inside
    its transaction — an INSERT of many VALUES cost ~3x the client CPU here (SQLAlchemy compiles each batch)."""
    if not rows:
        return
    if store.dialect != "postgresql" or store.uow is None:
        await store.session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = await store.uow.connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    records = [tuple(_copy_value(row[c]) for c in columns) for row in rows]
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


def _copy_value(value: Any) -> Any:
    # JSON columns go over COPY as their text; every other value as asyncpg encodes it.
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


def _audit(uow: UnitOfWork, plans: list[_Plan], actor: str) -> None:
    """Every change audited: a unit brought up to date gets a record of its own (what was opened and
    closed); the units a batch adds share one record listing each with its certificate numbers — one
    audit row (hashed, chained) per unit cost as much as validating it."""
    added = [p for p in plans if p.new_unit]
    if added:
        uow.audit(
            actor=actor,
            action="register.imported",
            subject=f"units:{added[0].record.unit.unit_code}…{added[-1].record.unit.unit_code}",
            details={
                "added": {
                    p.record.unit.unit_code: [e.certificate_number or e.facts.kind.value for e in p.opened]
                    for p in added
                }
            },
        )
    for plan in plans:
        if plan.changes and not plan.new_unit:
            uow.audit(
                actor=actor,
                action="register.imported",
                subject=f"unit:{plan.record.unit.unit_code}",
                details=_audit_details(plan),
            )


def _audit_details(plan: _Plan) -> dict[str, Any]:
    return {
        "new_unit": plan.new_unit,
        "facts_changed": plan.facts_changed,
        "opened": [
            {"kind": e.facts.kind.value, "certificate_number": e.certificate_number} for e in plan.opened
        ],
        "closed": [
            {"entry": e.id, "kind": e.facts.kind.value, "certificate_number": e.certificate_number}
            for e in plan.closed
        ],
    }


async def _advance_counters(store: Store, registry_code: str, highest: dict[tuple[int, str], int]) -> None:
    """Each counter to at least the highest imported number of its year and kind (never backwards)."""
    if not highest:
        return
    dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    for (year, kind), seq in sorted(highest.items()):
        stmt = dialect_insert(COUNTER).values(registry_code=registry_code, year=year, kind=kind, last=seq)
        await store.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["registry_code", "year", "kind"],
                set_={
                    "last": func.max(COUNTER.c.last, stmt.excluded.last)
                    if store.dialect == "sqlite"
                    else func.greatest(COUNTER.c.last, stmt.excluded.last)
                },
            )
        )


async def export_register(ctx: ServiceContext, *, page: int = 1000) -> AsyncIterator[bytes]:
    """Every unit with its open entries, by unit code, one canonical JSON line each (read a page of units
    at a time, so a city's register streams in constant memory)."""
    after = ""
    while True:
        async with ctx.reading() as store:
            session = store.session
            units = (
                await session.execute(
                    select(UNIT.c.unit_code, UNIT.c.facts)
                    .where(UNIT.c.unit_code > after)
                    .order_by(UNIT.c.unit_code)
                    .limit(page)
                )
            ).all()
            if not units:
                return
            codes = [u.unit_code for u in units]
            entries: dict[str, list[Entry]] = {}
            for row in await session.execute(
                select(ENTRY).where(ENTRY.c.unit_code.in_(codes), ENTRY.c.closed_at.is_(None))
            ):
                entries.setdefault(row.unit_code, []).append(store.entry_from_row(row._mapping))
        for unit in units:
            exchanged = [
                ExchangeEntry(
                    facts=e.facts,
                    certificate_number=e.certificate_number,
                    rank=e.rank,
                    registered_at=e.opened_at,
                )
                for e in entries.get(unit.unit_code, [])
            ]
            # The database returns a unit's entries in no set order (PostgreSQL's changes once a row is
            # rewritten, e.g. by `gateway pii rekey`); sorted by content, equal registers export equal files.
            exchanged.sort(key=lambda e: (e.registered_at, e.model_dump_json()))
            yield dump_line(UnitRecord(unit=Unit.model_validate(unit.facts), entries=exchanged))
        after = codes[-1]
