"""A provider's side of the gateway API: signed requests (Appendix A), verified signed answers, and the
acknowledgements a provider sends (the pull provider's, and a webhook provider's result promised later)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

import certs

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
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        url = URL(self.base_url + path)
        headers = {
            "Content-Type": "application/json",
            **certs.sign_request(self._key, self.party, method, url.raw_path_qs, body),
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        self.requests_sent += 1
        async with self._session.request(method, url, data=body or None, headers=headers) as response:
            raw = await response.read()
            # Every answer on the signed API is signed by the registry: check it before believing it.
            certs.verify_response(
                self._registry_key, response.status, headers["X-GW-Nonce"], response.headers, raw
            )
            return Answer(response.status, json.loads(raw) if raw else None)

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
