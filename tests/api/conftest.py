"""Fixtures for the HTTP layer: a CA with participants, a database per test, the app on a real test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import certs
from gateway.api import create_app
from gateway.bootstrap import Container, build_container
from gateway.db import Database
from gateway.settings import Settings
from tests.api.support import FakeClock, Participants, SignedClient, create_schema


@pytest.fixture(scope="session")
def participants() -> Participants:
    """A gateway CA, the registry key, two banks, and a bank whose certificate is revoked."""
    ca = certs.CertificateAuthority.create("Test Gateway CA")
    keys = {code: certs.SM2PrivateKey.generate() for code in ("icbc-dg", "ccb-dg", "boc-dg")}
    issued = {code: ca.issue(key.public_key, code, "bank") for code, key in keys.items()}
    registry_key = certs.SM2PrivateKey.generate()
    trust = certs.CATrustStore(ca)
    for cert in issued.values():
        trust.add(cert)
    ca.revoke(issued["boc-dg"].serial, "keyCompromise")
    return Participants(ca=ca, trust=trust, keys=keys, registry_key=registry_key)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite in tmp_path, or a fresh PostgreSQL database (sync: the pg fixture runs its own event loop)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An empty database with every table of the gateway."""
    db = Database(database_url)
    await create_schema(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_container(
    participants: Participants, database: Database, clock: FakeClock, tmp_path: Path
) -> Callable[..., Container]:
    def make(parts: dict[str, Any] | None = None, **settings: Any) -> Container:
        """`settings` are Settings fields; `parts` replace container parts (jobs, retry_policy, ...)."""
        return build_container(
            Settings(data_dir=tmp_path, database_url=str(database.url_string), **settings),
            database=database,
            trust=participants.trust,
            registry_key=participants.registry_key,
            clock=clock,
            **(parts or {}),
        )

    return make


AppClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def serve(make_container: Callable[..., Container]) -> AsyncIterator[AppClient]:
    """Start the gateway app with extra routes on a real loopback server; returns its test client."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        routes: Iterable[web.AbstractRouteDef] = (),
        parts: dict[str, Any] | None = None,
        dispatch: bool = True,
        **settings: Any,
    ) -> TestClient[Any, Any]:
        app = create_app(make_container(parts, **settings), routes=routes, dispatch=dispatch)
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
def bank(participants: Participants, clock: FakeClock) -> Callable[[TestClient[Any, Any]], SignedClient]:
    def make(client: TestClient[Any, Any], code: str = "icbc-dg") -> SignedClient:
        return SignedClient(
            client, code, participants.keys[code], participants.registry_key.public_key, clock
        )

    return make
