"""Loading the register (初始数据迁移): the exchange format round trip, refusals by line, updates through entries
opened and closed, idempotence, audit, and certificate numbers never issued twice. SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.infra import AuditRecord
from gateway.db.tables.register import UnitRow
from gateway.domain.register import EntryKind
from gateway.register_exchange import UnitRecord, csv_text, read_records
from gateway.seed import CERT_ZHANG, UNITS
from gateway.services import cases
from gateway.services.context import ServiceContext
from gateway.services.register_import import ImportReport, export_register, import_register
from tests.services import builders
from tests.services.conftest import make_context

SAMPLE = Path(__file__).parents[2] / "config" / "register.sample.jsonl"


async def exported(ctx: ServiceContext) -> bytes:
    return b"".join([line async for line in export_register(ctx)])


async def load(ctx: ServiceContext, text: bytes, name: str = "register.jsonl") -> ImportReport:
    stream = io.StringIO(text.decode("utf-8"), newline="")
    return await import_register(ctx, read_records(name, stream), actor="test-import")


@pytest.fixture
async def empty(
    request: pytest.FixtureRequest, ctx: ServiceContext, tmp_path: Path
) -> AsyncIterator[ServiceContext]:
    """A second, empty register on the same kind of database as `ctx`."""
    if ctx.db.dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    else:
        url = request.getfixturevalue("pg_url").rsplit("/", 1)[0] + "/" + ctx.db.url.database + "_b"
        import asyncpg

        admin = await asyncpg.connect(str(ctx.db.url.set(drivername="postgresql")))
        try:
            await admin.execute(f'CREATE DATABASE "{ctx.db.url.database}_b"')
        finally:
            await admin.close()
    context = await make_context(url, seed=False)
    try:
        yield context
    finally:
        await context.db.dispose()
        if ctx.db.dialect != "sqlite":
            import asyncpg

            admin = await asyncpg.connect(str(ctx.db.url.set(drivername="postgresql")))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{ctx.db.url.database}_b" WITH (FORCE)')
            finally:
                await admin.close()


async def count(ctx: ServiceContext, model: Any, *where: Any) -> int:
    async with ctx.db.session() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def test_export_import_export_gives_the_same_file(ctx: ServiceContext, empty: ServiceContext) -> None:
    # A case's entries as well as the migrated ones: a mortgage registered through the workflow.
    case = await cases.submit(ctx, "dgb", "莞城支行", "clerk-02", builders.mortgage_release())
    assert case.state.value == "completed"
    first = await exported(ctx)
    units = await count(ctx, UnitRow)
    assert first.count(b"\n") == units > 0
    report = await load(empty, first)
    assert (report.added, report.refused) == (units, [])
    assert await exported(empty) == first
    # The CSV form carries the same register.
    records = [UnitRecord.model_validate_json(line) for line in first.splitlines()]
    csv_file = "".join(csv_text(records)).encode()
    again = await load(empty, csv_file, "register.csv")
    assert (again.unchanged, again.added, again.refused) == (units, 0, [])


async def test_importing_the_same_file_twice_changes_nothing(empty: ServiceContext) -> None:
    text = SAMPLE.read_bytes()
    first = await load(empty, text)
    assert first.added == 3 and first.refused == []
    audit_rows = await count(empty, AuditRecord)
    second = await load(empty, text)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 3)
    assert await count(empty, AuditRecord) == audit_rows  # nothing changed, nothing audited


async def test_a_bad_record_is_refused_by_line_and_the_rest_loads(empty: ServiceContext) -> None:
    good = SAMPLE.read_bytes().splitlines()
    bad_id = good[0].replace(b'"441900198503120011"', b'"441900198503120012"')  # wrong check digit
    bad_rank = orjson.loads(good[1])
    for entry in bad_rank["entries"]:
        if entry["facts"]["kind"] == "mortgage":
            entry["rank"] = 2
    text = b"\n".join([bad_id, orjson.dumps(bad_rank), b"{not json", good[2]]) + b"\n"
    report = await load(empty, text)
    assert report.added == 1
    reasons = dict(report.refused)
    assert sorted(reasons) == [1, 2, 3]
    assert "id_number" in reasons[1] and "校验" in reasons[1]
    assert "ranks" in reasons[2] and "抵押顺位" in reasons[2]
    assert "not JSON" in reasons[3]


async def test_a_later_file_updates_a_unit_through_entries_opened_and_closed(empty: ServiceContext) -> None:
    await load(empty, SAMPLE.read_bytes())
    record = orjson.loads(SAMPLE.read_bytes().splitlines()[1])  # the mortgaged unit
    code = record["unit"]["unit_code"]
    record["entries"] = [e for e in record["entries"] if e["facts"]["kind"] != "mortgage"]  # released since
    report = await load(empty, orjson.dumps(record) + b"\n")
    assert (report.updated, report.unchanged) == (1, 0)
    async with empty.reading() as store:
        entries = await store.entries_of(code)
    mortgage = next(e for e in entries if e.kind is EntryKind.MORTGAGE)
    assert mortgage.closed_at is not None and mortgage.facts.loan_contract_no  # closed, not deleted or edited
    async with empty.db.session() as session:
        status = (
            await session.execute(
                select(CertificateRow.status).where(CertificateRow.number == mortgage.certificate_number)
            )
        ).scalar_one()
        audited = (
            (
                await session.execute(
                    select(AuditRecord.details).where(
                        AuditRecord.action == "register.imported", AuditRecord.subject == f"unit:{code}"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert status == "cancelled"
    assert any(d["closed"] and d["closed"][0]["kind"] == "mortgage" for d in audited)


async def test_numbers_are_issued_past_the_highest_imported(empty: ServiceContext) -> None:
    record = orjson.loads(SAMPLE.read_bytes().splitlines()[0])
    record["entries"][0]["certificate_number"] = "粤（2026）东莞市不动产权第0004711号"
    await load(empty, orjson.dumps(record) + b"\n")
    async with empty.unit_of_work() as (_uow, store):
        issued = await store.next_number(empty.registry.admin_code, 2026, "ownership")
    assert issued == 4712


async def test_a_number_already_on_another_unit_is_refused(ctx: ServiceContext) -> None:
    record = orjson.loads(SAMPLE.read_bytes().splitlines()[0])
    record["unit"]["unit_code"] = "441900003001GB00101F00019999"
    record["entries"][0]["certificate_number"] = CERT_ZHANG  # 张伟's, on UNITS.single_owner
    report = await load(ctx, orjson.dumps(record) + b"\n")
    assert report.added == 0 and "another unit" in report.refused[0][1]
    assert UNITS.single_owner  # the seeded unit keeps its certificate
