"""A provider's side of the gateway API: signed requests (Appendix A), verified signed answers, and the
acknowledgements a provider sends (the pull provider's, and a webhook provider's result promised later)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

import certs
from gateway.client import GatewayClient as ParticipantClient

JOBS_PATH = "/api/v1/utility-jobs"


def settled(status: int, body: Any) -> bool:
    """The gateway took an acknowledgement (or refused it for good): no reason to send it again."""
    in_flight = status == 409 and isinstance(body, dict) and body.get("code") == "idempotency_key_in_flight"
    return status < 500 and not in_flight


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class GatewayClient:
    """The provider's participant client (`gateway.client.GatewayClient`), attached to the gateway late:
    the simulators start before the gateway's address is known."""

    def __init__(self, party: str, key: certs.SM2PrivateKey, registry_key: certs.SM2PublicKey) -> None:
        self.party = party
        self._key = key
        self._registry_key = registry_key
        self.base_url: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self.requests_sent = 0

    def attach(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> Answer:
        if self.base_url is None:
            raise RuntimeError(f"{self.party}: no gateway address to call")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        client = ParticipantClient(self._session, self.base_url, self.party, self._key, self._registry_key)
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        self.requests_sent += 1
        # Every answer on the signed API is signed by the registry: the client checks it before we believe it.
        reply = await client.request(
            method, path, body=body, content_type="application/json", idempotency_key=idempotency_key
        )
        return Answer(reply.status, json.loads(reply.body) if reply.body else None)

    async def open_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        answer = await self.request("GET", f"{JOBS_PATH}?limit={limit}")
        if answer.status != 200:
            raise RuntimeError(f"listing jobs: HTTP {answer.status}")
        items: list[dict[str, Any]] = answer.body["items"]
        return items

    async def fetch(self, job_id: str) -> Answer:
        return await self.request("GET", f"{JOBS_PATH}/{job_id}")

    async def acknowledge(self, job_id: str, answer: dict[str, Any], idempotency_key: str) -> Answer:
        return await self.request(
            "POST", f"{JOBS_PATH}/{job_id}/ack", answer, idempotency_key=idempotency_key
        )
