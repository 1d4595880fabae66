"""ID-number tokens are bound to their row: copied elsewhere they do not decrypt; migration 0011 binds old ones."""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from alembic import command
from sqlalchemy import Table, select, update

from certs import FieldCipher
from gateway.db import Database
from gateway.db.migrate import alembic_config
from gateway.db.tables.cases import CaseRow
from gateway.db.tables.infra import OutboxRow
from gateway.db.tables.register import EntryRow
from gateway.errors import CryptoError
from gateway.privacy import PersonalDataProtector, case_input, outbox_payload
from gateway.seed import INSTITUTIONS, LIU_YANG, PROOF_LI_WANG_ICBC, UNITS, ZHANG_WEI, seed_demo_register
from gateway.services import cases, kept_mortgages, review, tracks
from gateway.services.context import ServiceContext
from tests.conftest import blob_store
from tests.services import builders

CASE, ENTRY, OUTBOX = (cast(Table, t.__table__) for t in (CaseRow, EntryRow, OutboxRow))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(
        {"k1": secrets.token_bytes(16)}, current_key_id="k1", index_key=secrets.token_bytes(32)
    )


@pytest.fixture
async def ctx(url: str, cipher: FieldCipher) -> AsyncIterator[ServiceContext]:
    db = Database(url)
    await db.migrate(cipher)
    context = ServiceContext(
        db=db, protector=PersonalDataProtector(cipher), institutions=dict(INSTITUTIONS), blobs=blob_store()
    )
    await seed_demo_register(context)
    try:
        yield context
    finally:
        await db.dispose()


async def registered_transfer(ctx: ServiceContext) -> str:
    """李娜 and 王强 sell to 刘洋: ID numbers in the case, the new entries and the utility jobs."""
    transfer = builders.transfer(release_proof_numbers=[], new_mortgage=None, mortgagee_consent=True)
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", transfer)
    # 带押过户: the mortgagee of record (icbc-dg) consents itself, as its signed callback would record.
    await kept_mortgages.record_consent(
        ctx, case.id, PROOF_LI_WANG_ICBC, consented=True, actor="bank:icbc-dg"
    )
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A1"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    await review.register(ctx, "registrar-c", case.id)
    return case.id


async def stored(ctx: ServiceContext, table: Table, column: str) -> dict[str, Any]:
    async with ctx.db.session() as session:
        rows = await session.execute(select(table.c.id, table.c[column]))
        return {row_id: document for row_id, document in rows}


def tokens(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        own = [tree["id_number"]] if isinstance(tree.get("id_number"), str) else []
        return own + [t for value in tree.values() for t in tokens(value)]
    if isinstance(tree, list):
        return [t for value in tree for t in tokens(value)]
    return []


async def test_a_token_copied_into_another_row_does_not_decrypt_there(ctx: ServiceContext) -> None:
    mortgage = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    other = await cases.submit(
        ctx,
        "boc-dg",
        "松山湖支行",
        "clerk-02",
        builders.transfer(release_proof_numbers=[], new_mortgage=None, mortgagee_consent=True),
    )
    inputs = await stored(ctx, CASE, "input")
    assert ZHANG_WEI.id_number not in str(inputs[mortgage.id])
    # Someone with write access to the table, not to the keys, moves 张伟's ID number into the other case.
    forged = copy.deepcopy(inputs[other.id])
    forged["sellers"][0]["id_number"] = inputs[mortgage.id]["mortgagors"][0]["id_number"]
    async with ctx.db.transaction() as uow:
        await uow.connection.execute(update(CASE).where(CASE.c.id == other.id).values(input=forged))
    revealed = (await cases.get_case(ctx, mortgage.id)).input.model_dump()
    assert revealed["mortgagors"][0]["id_number"] == ZHANG_WEI.id_number
    with pytest.raises(CryptoError, match=rf"does not belong here \(case_record\|input\|{other.id}\)"):
        await cases.get_case(ctx, other.id)


async def test_migration_0011_binds_the_tokens_written_before_it(
    ctx: ServiceContext, url: str, cipher: FieldCipher
) -> None:
    case_id = await registered_transfer(ctx)
    places = ((CASE, "input"), (ENTRY, "facts"), (OUTBOX, "payload"))
    before = {table.name: await stored(ctx, table, column) for table, column in places}
    assert all(t.startswith("v2:") for docs in before.values() for d in docs.values() for t in tokens(d))
    assert sum(len(tokens(d)) for d in before["outbox"].values()) >= 2, "the utility jobs carry ID numbers"

    # Back to 0010 (before 0011): the tokens as the code before this change wrote them; today's code refuses to read them.
    await asyncio.to_thread(command.downgrade, alembic_config(url, cipher), "0010")
    old = {table.name: await stored(ctx, table, column) for table, column in places}
    old_tokens = [t for docs in old.values() for d in docs.values() for t in tokens(d)]
    assert old_tokens and all(not t.startswith("v2:") and t.startswith("k1:") for t in old_tokens)
    # (Read through the protector, not the case repository: later revisions add columns that the schema of
    # 0008 has not, so today's repository cannot load a row of it at all.)
    with pytest.raises(CryptoError, match="run `gateway migrate`"):
        ctx.protector.reveal(old["case_record"][case_id], case_input(case_id))

    await ctx.db.dispose()
    await ctx.db.migrate(cipher)
    after = {table.name: await stored(ctx, table, column) for table, column in places}
    assert all(t.startswith("v2:") for docs in after.values() for d in docs.values() for t in tokens(d))
    case = await cases.get_case(ctx, case_id)
    assert [p["id_number"] for p in case.input.model_dump()["buyers"][0:1] for p in [p["party"]]] == [
        LIU_YANG.id_number
    ]
    async with ctx.reading() as store:
        owners = [e for e in await store.entries_of(UNITS.co_owned_mortgaged) if e.is_open]
    assert LIU_YANG in [p for e in owners for p in getattr(e.facts, "parties", [])]
    jobs = [(row_id, d) for row_id, d in after["outbox"].items() if tokens(d)]
    for row_id, payload in jobs:
        revealed = ctx.protector.reveal(payload, outbox_payload(row_id))
        assert revealed["buyers"][0]["id_number"] == LIU_YANG.id_number
    # Bound now: the same copy that worked before 0011 fails.
    (first_id, first), (second_id, _) = jobs[0], jobs[1]
    with pytest.raises(CryptoError, match="does not belong here"):
        ctx.protector.reveal(first, outbox_payload(second_id))
    assert first_id != second_id
