"""A service context on a freshly migrated database with the demo register: SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certs import FieldCipher
from gateway.db.database import Database
from gateway.privacy import PersonalDataProtector
from gateway.seed import INSTITUTIONS, seed_demo_register
from gateway.services.context import ServiceContext
from tests.conftest import blob_store


def make_protector() -> PersonalDataProtector:
    return PersonalDataProtector(
        FieldCipher({"k1": secrets.token_bytes(16)}, current_key_id="k1", index_key=secrets.token_bytes(32))
    )


async def make_context(url: str, *, seed: bool = True) -> ServiceContext:
    db = Database(url)
    await db.migrate()
    ctx = ServiceContext(
        db=db, protector=make_protector(), institutions=dict(INSTITUTIONS), blobs=blob_store()
    )
    if seed:
        await seed_demo_register(ctx)
    return ctx


@pytest.fixture(params=["sqlite", "postgresql"])
async def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceContext]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    context = await make_context(url)
    try:
        yield context
    finally:
        await context.db.dispose()
