"""The blob store: materials and certificate files named by SM3 outside the hot tables, written atomically,
checked when read; migration 0015 moves the bytes of existing rows there (and the downgrade back)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.blobs import DirectoryBlobStore, blob_name
from gateway.db import Database
from gateway.db.migrate import upgrade
from gateway.errors import BlobCorrupt, BlobMissing

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF"


async def test_a_blob_is_named_by_its_sm3_stored_once_and_checked_when_read(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    name = await store.put(PDF)
    assert name == blob_name(PDF) and len(name) == 64
    assert await store.put(PDF) == name  # the same bytes again: the same single file
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [name]  # no temporary file left behind
    assert await store.get(name) == PDF and await store.exists(name)
    # Someone changes one byte on the volume: the read refuses it rather than serving it.
    damaged = bytearray(PDF)
    damaged[100] ^= 1
    files[0].write_bytes(bytes(damaged))
    with pytest.raises(BlobCorrupt):
        await store.get(name)
    with pytest.raises(BlobMissing):
        await store.get("0" * 64)
    with pytest.raises(BlobMissing):
        await store.get("../../etc/passwd")


async def test_concurrent_writers_of_the_same_bytes_on_one_volume_leave_one_whole_file(
    tmp_path: Path,
) -> None:
    nodes = [DirectoryBlobStore(tmp_path / "shared") for _ in range(4)]  # four gateway nodes, one volume
    names = await asyncio.gather(*(node.put(PDF) for node in nodes for _ in range(5)))
    assert set(names) == {blob_name(PDF)}
    assert await nodes[0].get(names[0]) == PDF
    assert [p.name for p in (tmp_path / "shared").rglob("*") if p.is_file()] == [names[0]]


_CASE = {
    "id": "c" * 32,
    "kind": "mortgage_registration",
    "state": "received",
    "unit_code": "4" * 28,
    "submitted_by": "icbc-dg",
    "branch": "b",
    "clerk": "k",
    "input": {},
    "tracks": {},
    "rule_results": [],
    "reason": "",
    "deadline_provisional": False,
    "version": 1,
}


async def test_migration_0015_moves_existing_files_to_the_store_and_back(db_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade, db_url, "0011")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    material = b"%PDF-1.4 material " + b"x" * 5000
    certificate = PDF
    db = Database(db_url)
    meta = sa.MetaData()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(meta.reflect)
            tables = meta.tables
            await conn.execute(
                sa.insert(tables["case_record"]),
                [_CASE | {"received_at": at, "deadline_at": at, "updated_at": at}],
            )
            row = {
                "id": "m" * 32,
                "case_id": "c" * 32,
                "name": "抵押合同.pdf",
                "content_type": "application/pdf",
            }
            row |= {"size": len(material), "sm3": blob_name(material), "content": material, "round": 0}
            await conn.execute(
                sa.insert(tables["case_material"]), [row | {"kind": "other", "uploaded_at": at}]
            )
            cert = {"number": "粤（2026）东莞市不动产证明第0000001号", "kind": "proof", "entry_id": "e" * 32}
            cert |= {"unit_code": "4" * 28, "holder_masked": "张*", "status": "valid", "pdf": certificate}
            await conn.execute(sa.insert(tables["certificate"]), [cert | {"version": 1}])
    finally:
        await db.dispose()

    blobs = tmp_path / "blobs"
    await asyncio.to_thread(upgrade, db_url, "head", None, blobs)
    store = DirectoryBlobStore(blobs)
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: {
                    t: [x["name"] for x in sa.inspect(c).get_columns(t)]
                    for t in ("case_material", "certificate")
                }
            )
            assert "content" not in columns["case_material"] and "pdf" not in columns["certificate"]
            found = (await conn.execute(sa.text("SELECT pdf_ref, pdf_size FROM certificate"))).one()
        assert await store.get(blob_name(material)) == material  # the row's sm3 names its bytes
        assert (found.pdf_ref, found.pdf_size) == (blob_name(certificate), len(certificate))
        assert await store.get(found.pdf_ref) == certificate
    finally:
        await db.dispose()

    await asyncio.to_thread(upgrade_down, db_url, "0011", blobs)
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            assert (
                bytes((await conn.execute(sa.text("SELECT content FROM case_material"))).scalar_one())
                == material
            )
            assert (
                bytes((await conn.execute(sa.text("SELECT pdf FROM certificate"))).scalar_one())
                == certificate
            )
    finally:
        await db.dispose()


def upgrade_down(url: str, revision: str, blob_dir: Path) -> None:
    from alembic import command

    from gateway.db.migrate import alembic_config

    command.downgrade(alembic_config(url, None, blob_dir), revision)
