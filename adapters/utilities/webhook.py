"""Pushed utility jobs: a signed webhook (Standard Webhooks headers, SM2 over `id.timestamp.body`).

Statuses (the contract every webhook provider's module maps its own body onto):
```
2xx            the provider's answer (done, or accepted with the result to come) — signed by the provider
409 / 422      a business refusal with the provider's own code — signed by the provider
410            the endpoint is retired: stop (the delivery is dead-lettered at once)
429 / 5xx      try later, honouring Retry-After (unsigned: a proxy may produce them)
anything else  a protocol error (retried on the outbox schedule)
```
The provider signs its answer like every participant (DESIGN Appendix A) with the webhook-id in the place
of the request nonce, so the registry can later prove what the provider said about a delivery.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from multidict import CIMultiDictProxy
from pydantic import AnyHttpUrl

import certs
from adapters.base import AdapterContext, HttpSettings, load_party_key
from adapters.errors import UnexpectedStatus, parse_retry_after
from adapters.http import read_capped
from adapters.rest import decode_json, encode_json
from adapters.retry import RetryPolicy, call_party
from certs.request_signing import HEADER_PARTY
from gateway.errors import BadSignature, PartyProtocolError
from gateway.ports.utilities import (
    DeliveryStyle,
    OutcomeKind,
    RefusalReason,
    UtilityOutcome,
    UtilityTransferJob,
)

__all__ = ["WebhookProvider", "WebhookReply", "WebhookSettings", "refusal"]

ANSWER_STATUSES = frozenset({200, 201, 202, 204, 409, 422})
REFUSAL_STATUSES = frozenset({409, 422})


class WebhookSettings(HttpSettings):
    url: AnyHttpUrl  # where the provider receives account-transfer jobs
    # When the provider accepted a job without a result: how long before the same delivery id is sent again
    # (the provider answers a repeat with the job's current state), unless its callback came first.
    check_after_seconds: float = 3600.0


@dataclass(frozen=True)
class WebhookReply:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any  # parsed JSON (numbers as Decimal), None when empty


class WebhookProvider:
    """Base of a webhook provider: a subclass maps the job to its JSON (`to_wire`) and its reply back."""

    Settings: ClassVar[type[WebhookSettings]] = WebhookSettings

    def __init__(self, party: str, settings: WebhookSettings, context: AdapterContext) -> None:
        self._party = party
        self.settings = settings
        self._party_key = load_party_key(party, settings, context, kind="utility")
        self._key = context.identity.key
        self._policy = RetryPolicy(attempts=settings.retry_attempts, max_wait=settings.max_retry_wait_seconds)
        self._session: aiohttp.ClientSession | None = None

    @property
    def party(self) -> str:
        return self._party

    @property
    def style(self) -> DeliveryStyle:
        return DeliveryStyle.WEBHOOK

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.settings.connect_timeout_seconds),
                connector=aiohttp.TCPConnector(limit=64),
                raise_for_status=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the wire format of a subclass ---------------------------------------------------------------

    def to_wire(self, job: UtilityTransferJob) -> dict[str, Any]:
        raise NotImplementedError

    def from_wire(self, reply: WebhookReply) -> UtilityOutcome:
        raise NotImplementedError

    # --- the exchange --------------------------------------------------------------------------------

    async def transfer(self, job: UtilityTransferJob) -> UtilityOutcome:
        body = encode_json(self.to_wire(job))

        async def attempt() -> UtilityOutcome:
            outcome = self.from_wire(await self.post(job.delivery_id, body))
            if outcome.check_after_seconds is None and outcome.kind is OutcomeKind.LATER:
                return outcome.model_copy(update={"check_after_seconds": self.settings.check_after_seconds})
            return outcome

        # Repeating a delivery is safe (the provider dedupes on the webhook-id), so quick in-call retries
        # are allowed; a longer Retry-After is left to the outbox schedule.
        return await call_party(
            self.party,
            attempt,
            attempt_timeout=self.settings.timeout_seconds,
            idempotent=True,
            policy=self._policy,
        )

    async def post(self, delivery_id: str, body: bytes) -> WebhookReply:
        """One signed POST; returns the provider's verified answer or raises (see the module's table)."""
        if self._session is None:
            raise RuntimeError(f"{self.party}: adapter used before start()")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            **certs.sign_webhook(self._key, delivery_id, int(time.time()), body),
        }
        async with self._session.post(
            str(self.settings.url), data=body, headers=headers, allow_redirects=False
        ) as response:
            raw = await read_capped(response, self.settings.max_response_bytes)
            status, reply_headers = response.status, response.headers
        if status not in ANSWER_STATUSES:  # a 410 becomes the final "410" (adapters.errors)
            raise UnexpectedStatus(status, parse_retry_after(reply_headers))
        self._verify(status, delivery_id, reply_headers, raw)
        return WebhookReply(status, reply_headers, decode_json(raw))

    def _verify(self, status: int, delivery_id: str, headers: CIMultiDictProxy[str], body: bytes) -> None:
        signer = headers.get(HEADER_PARTY)
        if signer != self.party:
            raise BadSignature(
                f"answer signed as {signer!r}, expected {self.party!r}",
                f"应答签名方为 {signer!r}，应为 {self.party!r}",
            )
        # The live check: a provider whose certificate was revoked since start-up cannot acknowledge a job.
        certs.verify_response(self._party_key.public_key(), status, delivery_id, headers, body)


def refusal(party: str, codes: Mapping[str, RefusalReason], code: str, message: str) -> UtilityOutcome:
    """A refusal whose provider code must be one the wire format defines; anything else is a broken reply."""
    reason = codes.get(code)
    if reason is None:
        raise PartyProtocolError(
            party,
            f"unknown_code:{code[:32]}",
            "a refusal code the wire format does not define",
            "未约定的拒绝代码",
        )
    return UtilityOutcome.rejected(reason, provider_code=code, message=message)
