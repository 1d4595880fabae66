"""Test helpers shared by tests/api and tests/jobs: clock, participants, a signing bank client, schema."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

import certs
from gateway.db import Database
from gateway.db.tables import metadata


class FakeClock:
    """A settable Unix-seconds clock shared by the verifier, the idempotency store and sessions."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Participants:
    ca: certs.CertificateAuthority
    trust: certs.CATrustStore
    keys: dict[str, certs.SM2PrivateKey]
    registry_key: certs.SM2PrivateKey


async def create_schema(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes
    request_nonce: str

    def json(self) -> Any:
        return json.loads(self.body)


class SignedClient:
    """A bank counter system: signs each request as DESIGN Appendix A says and checks each response."""

    def __init__(
        self,
        client: TestClient[Any, Any],
        party: str,
        key: certs.SM2PrivateKey,
        registry_public: certs.SM2PublicKey,
        clock: FakeClock,
    ) -> None:
        self.client = client
        self.party = party
        self.key = key
        self.registry_public = registry_public
        self.clock = clock

    def sign(self, method: str, path: str, body: bytes, **overrides: Any) -> dict[str, str]:
        return certs.sign_request(
            self.key, self.party, method, path, body, timestamp=int(self.clock()), **overrides
        )

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        idempotency_key: str | None = "auto",
        headers: dict[str, str] | None = None,
        sent_body: bytes | None = None,
        verify: bool = True,
    ) -> Reply:
        raw = body if body is not None else (b"" if payload is None else json.dumps(payload).encode())
        signed = self.sign(method, path, raw)
        all_headers = {"Content-Type": "application/json", **signed, **(headers or {})}
        if method == "POST" and idempotency_key is not None:
            all_headers["Idempotency-Key"] = (
                uuid.uuid4().hex if idempotency_key == "auto" else idempotency_key
            )
        response = await self.client.request(
            method, path, data=sent_body if sent_body is not None else raw, headers=all_headers
        )
        data = await response.read()
        reply = Reply(response.status, response.headers, data, signed["X-GW-Nonce"])
        if verify:
            certs.verify_response(
                self.registry_public, reply.status, reply.request_nonce, response.headers, data
            )
        return reply

    async def post(self, path: str, payload: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", path, payload, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)
