"""A participant's client for the gateway: SM2-signed requests, verified signed responses, idempotency keys.

What a bank, the tax bureau or a utility codes against (DESIGN.md Appendix A); the demo, the tests and the
benchmarks use it too, so the wire contract is exercised exactly as a party would.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from certs import SM2PrivateKey, SM2PublicKey, verify_response
from certs.request_signing import canonical_request, new_nonce

__all__ = ["BackofficeClient", "GatewayClient", "Reply"]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class GatewayClient:
    """Signs every request as `party`; checks the registry's signature on every reply when given its key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        party: str,
        key: SM2PrivateKey,
        registry_key: SM2PublicKey | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.party = party
        self.key = key
        self.registry_key = registry_key

    async def request(
        self,
        method: str,
        path_qs: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        timestamp, nonce = int(time.time()), new_nonce()
        # Appendix A signs the path and query exactly as on the request line: aiohttp percent-encodes a path
        # such as a certificate number (粤（2026）…), so the encoded form is signed, and that URL is sent as is.
        url = URL(self.base_url + path_qs)
        signed = canonical_request(method.upper(), url.raw_path_qs, timestamp, nonce, self.party, body)
        # In place, as the gateway signs its responses: the signed lines are short (the body enters as its
        # SM3), and the hop to the crypto pool and back cost as much CPU as the SM2 itself (~0.35 ms).
        signature = self.key.sign(signed)
        sent = {
            "X-GW-Party": self.party,
            "X-GW-Timestamp": str(timestamp),
            "X-GW-Nonce": nonce,
            "X-GW-Signature": base64.b64encode(signature).decode(),
            **(headers or {}),
        }
        if content_type:
            sent["Content-Type"] = content_type
        if idempotency_key:
            sent["Idempotency-Key"] = idempotency_key
        async with self.session.request(method, url, data=body, headers=sent) as response:
            data = await response.read()
            reply = Reply(response.status, dict(response.headers), data)
        if self.registry_key is not None:
            verify_response(self.registry_key, reply.status, nonce, reply.headers, reply.body)
        return reply

    async def get(self, path_qs: str) -> Reply:
        return await self.request("GET", path_qs)

    async def post(self, path_qs: str, payload: Any, *, idempotency_key: str | None = None) -> Reply:
        """POST JSON with an Idempotency-Key (a fresh UUID unless given: pass the same one to retry)."""
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        return await self.request(
            "POST",
            path_qs,
            body=body,
            content_type="application/json",
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )


class BackofficeClient:
    """A registry examiner's session on the back-office API (bearer token)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = ""

    async def login(self, username: str, password: str) -> None:
        reply = await self.post("/backoffice/api/v1/login", {"username": username, "password": password})
        if reply.status != 200:
            raise PermissionError(f"login failed for {username}: {reply.status} {reply.body[:200]!r}")
        self.token = reply.json()["token"]

    async def request(self, method: str, path: str, payload: Any | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None if payload is None else json.dumps(payload, ensure_ascii=False, default=str).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, self.base_url + path, data=data, headers=headers) as response:
            return Reply(response.status, dict(response.headers), await response.read())

    async def get(self, path: str) -> Reply:
        return await self.request("GET", path)

    async def post(self, path: str, payload: Any | None = None) -> Reply:
        return await self.request("POST", path, payload if payload is not None else {})
