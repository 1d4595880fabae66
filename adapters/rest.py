"""REST/JSON transport for party adapters: signed requests, verified replies, Decimal-safe JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from yarl import URL

import certs
from adapters.base import AdapterContext, GatewayIdentity, RestSettings, load_party_key
from adapters.http import SignedHttpClient
from adapters.retry import RetryPolicy, call_party
from gateway.jsondepth import loads_bounded

T = TypeVar("T")


@dataclass(frozen=True)
class JsonReply:
    status: int
    body: Any  # parsed with Decimal for every number, None for an empty body


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON; money must already be strings (a float or Decimal here is a bug, so it raises)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def decode_json(body: bytes) -> Any:
    """Parse a party's JSON (a reply or a callback) with numbers as Decimal, never float (money stays
    exact), and at most MAX_JSON_DEPTH levels deep (JsonTooDeep otherwise: a protocol error)."""
    return loads_bounded(body) if body else None


class RestClient:
    """One party's REST API: `call()` returns any signed reply; the wire format decides what it means."""

    def __init__(
        self, party: str, settings: RestSettings, party_key: certs.PartyKey, identity: GatewayIdentity
    ) -> None:
        self.party = party
        self._settings = settings
        self._base = URL(str(settings.base_url).rstrip("/") + "/")
        self._http = SignedHttpClient(party, party_key, identity, settings)
        self._policy = RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay=settings.retry_backoff_seconds,
            max_wait=settings.max_retry_wait_seconds,
        )

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    def url(self, path: str, query: Mapping[str, str] | None = None) -> URL:
        """`path` is relative to base_url; a segment taken from data must be quoted by the caller."""
        url = self._base.join(URL(path.lstrip("/")))
        return url.with_query(query) if query else url

    async def call(
        self,
        method: str,
        url: URL,
        payload: Any,
        parse: Callable[[JsonReply], T],
        *,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send `payload` as JSON (None: no body); `parse` reads the signed reply inside the attempt, so a
        "busy" code it raises as PartyUnavailable is retried too (idempotent calls only)."""
        body = b"" if payload is None else encode_json(payload)
        request_headers = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            request_headers["Content-Type"] = "application/json; charset=utf-8"

        async def attempt() -> T:
            reply = await self._http.exchange(method, url, body, request_headers)
            return parse(JsonReply(reply.status, decode_json(reply.body)))

        return await call_party(
            self.party,
            attempt,
            attempt_timeout=self._settings.timeout_seconds,
            idempotent=idempotent,
            policy=self._policy,
        )


class RestPartyAdapter:
    """Base of a REST party adapter: one RestClient built from validated settings and the party's certificate."""

    Settings: ClassVar[type[RestSettings]] = RestSettings
    PARTY_KIND: ClassVar[str] = "bank"  # the kind the party's certificate must carry

    def __init__(self, party: str, settings: RestSettings, context: AdapterContext) -> None:
        self._party = party
        self.settings = settings
        party_key = load_party_key(party, settings, context, kind=self.PARTY_KIND)
        self.client = RestClient(party, settings, party_key, context.identity)

    @property
    def party(self) -> str:
        return self._party

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()
