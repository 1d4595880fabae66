"""`gateway register import` over generated units on PostgreSQL, beside a bare COPY of the same rows.

Target (issue 15): ≥ 5,000 units/s for a city-sized file (200,000 units; `BENCH_UNITS` to change). Each
generated unit has an owner or two with valid ID numbers and an ownership certificate; one in three also
has a mortgage with its proof number. The baseline writes the rows the import writes (units, entries with
their ID numbers already encrypted, certificates) with `COPY` and nothing else: no parsing, no checks,
no comparison with the register, no audit. The import's figure includes reading the file, validating every
record, encrypting ID numbers, comparing with the register and auditing each unit. About a minute.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson

from certs import FieldCipher
from gateway.db import Database
from gateway.domain.identifiers import resident_id_check_char
from gateway.privacy import PersonalDataProtector, entry_facts
from gateway.register_exchange import read_records
from gateway.seed import BANKS
from gateway.services.context import ServiceContext
from gateway.services.register_import import import_register

UNITS = int(os.environ.get("BENCH_UNITS", "200000"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
AT = "2020-05-01T02:00:00Z"


def person(i: int) -> dict[str, str]:
    first17 = f"44190019{70 + i % 30:02d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return {
        "name": f"业主{i}",
        "id_number": first17 + resident_id_check_char(first17),
        "id_type": "resident_id",
    }


def record(i: int) -> bytes:
    # district 001–, parcel 00001–, building 0001–0100, room 0001–0100: valid GB/T 37346 codes
    parcel, within = divmod(i, 10000)
    code = f"441900{1 + parcel // 99999:03d}001GB{1 + parcel % 99999:05d}F{1 + within // 100:04d}{1 + within % 100:04d}"
    owners = [{"party": person(i)}] + ([{"party": person(i + 7_000_000)}] if i % 2 else [])
    entries = [
        {
            "facts": {"kind": "ownership", "owners": owners, "co_ownership": "joint" if i % 2 else "sole"},
            "certificate_number": f"粤（2020）东莞市不动产权第{i + 1:07d}号",
            "registered_at": AT,
        }
    ]
    if i % 3 == 0:
        bank = BANKS["icbc-dg"].model_dump()
        entries.append(
            {
                "facts": {
                    "kind": "mortgage",
                    "mortgagee": bank,
                    "mortgagors": [o["party"] for o in owners],
                    "mortgage_kind": "general",
                    "amount": "800000.00",
                    "term_start": "2020-05-01",
                    "term_end": "2050-04-30",
                    "loan_contract_no": f"DK-{i}",
                },
                "certificate_number": f"粤（2020）东莞市不动产证明第{i + 1:07d}号",
                "rank": 1,
                "registered_at": AT,
            }
        )
    unit = {"unit_code": code, "address": f"东莞市南城街道{i}号", "floor_area": "89.50"}
    return orjson.dumps({"unit": unit, "entries": entries}) + b"\n"


async def fresh_database(name: str) -> str:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def drop(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def protector() -> PersonalDataProtector:
    return PersonalDataProtector(
        FieldCipher({"k1": secrets.token_bytes(16)}, current_key_id="k1", index_key=secrets.token_bytes(32))
    )


async def bare_copy(url: str, path: Path, shield: PersonalDataProtector) -> float:
    """Seconds to COPY the same rows (facts encrypted beforehand, outside the timing)."""
    db = Database(url.replace("postgresql://", "postgresql+asyncpg://"))
    await db.migrate()
    await db.dispose()
    units, entries, certificates = [], [], []
    now = datetime.now(UTC)
    at = datetime.fromisoformat(AT)
    with path.open() as stream:
        for line in stream:
            raw = orjson.loads(line)
            code = raw["unit"]["unit_code"]
            units.append((code, orjson.dumps(raw["unit"]).decode(), now))
            for entry in raw["entries"]:
                entry_id = uuid.uuid4().hex
                facts = orjson.dumps(shield.protect(entry["facts"], entry_facts(entry_id))).decode()
                entries.append(
                    (
                        entry_id,
                        code,
                        entry["facts"]["kind"],
                        facts,
                        entry.get("rank"),
                        entry["certificate_number"],
                        at,
                    )
                )
                kind = "ownership" if entry["facts"]["kind"] == "ownership" else "proof"
                certificates.append((entry["certificate_number"], kind, entry_id, code, "*", "valid", at, 1))
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table(
                "unit", records=units, columns=["unit_code", "facts", "created_at"]
            )
            await conn.copy_records_to_table(
                "register_entry",
                records=entries,
                columns=["id", "unit_code", "kind", "facts", "rank", "certificate_number", "opened_at"],
            )
            await conn.copy_records_to_table(
                "certificate",
                records=certificates,
                columns=[
                    "number",
                    "kind",
                    "entry_id",
                    "unit_code",
                    "holder_masked",
                    "status",
                    "issued_at",
                    "version",
                ],
            )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main() -> int:
    try:
        await (await asyncpg.connect(PG_ADMIN)).close()
    except OSError:
        print("PostgreSQL is not running on 127.0.0.1:5432 (scripts/start-services.sh)")
        return 1
    shield = protector()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "register.jsonl"
        with path.open("wb") as out:
            for i in range(UNITS):
                out.write(record(i))
        print(f"{UNITS:,} generated units, {path.stat().st_size / 1e6:.0f} MB of JSON Lines")
        suffix = uuid.uuid4().hex[:8]
        copy_db, import_db = f"gwbench_copy_{suffix}", f"gwbench_import_{suffix}"
        try:
            copy_seconds = await bare_copy(await fresh_database(copy_db), path, shield)
            url = (await fresh_database(import_db)).replace("postgresql://", "postgresql+asyncpg://")
            db = Database(url)
            await db.migrate()
            ctx = ServiceContext(db=db, protector=shield)
            gc.freeze()  # as `gateway register import` does
            started_cpu, started = time.process_time(), time.perf_counter()
            with path.open(encoding="utf-8") as stream:
                report = await import_register(ctx, read_records(path.name, stream), actor="bench")
            seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            assert report.added == UNITS and not report.refused, report.refused[:3]
            started = time.perf_counter()
            with path.open(encoding="utf-8") as stream:
                again = await import_register(ctx, read_records(path.name, stream), actor="bench")
            repeat = time.perf_counter() - started
            assert again.unchanged == UNITS
            await db.dispose()
        finally:
            await drop(copy_db)
            await drop(import_db)
    print(f"  bare COPY of the same rows (baseline)   {UNITS / copy_seconds:>9,.0f} units/s")
    print(f"  gateway register import                 {UNITS / seconds:>9,.0f} units/s  (target ≥ 5,000)")
    print(f"    of which this process's CPU            {cpu / UNITS * 1e6:>9,.0f} µs per unit")
    print(f"  the same file again (all unchanged)     {UNITS / repeat:>9,.0f} units/s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
