"""Signed HTTP exchanges with one party over aiohttp: sign each request, cap and verify each response."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

import certs
from adapters.base import GatewayIdentity, HttpSettings
from adapters.errors import (
    GONE_STATUS,
    RETRYABLE_STATUSES,
    ResponseTooLarge,
    UnexpectedStatus,
    parse_retry_after,
)
from gateway.errors import BadSignature, CryptoError

# Statuses that prove nothing about the party's application (a proxy or load balancer may produce them
# unsigned): they mean "try later" whatever the body says. A signed 500 is the party's own answer (a SOAP
# fault travels in one) and goes on to the wire format. A 410 (the endpoint is retired) is final whoever
# answered it: checking its signature would only turn "gone" into a retried "bad signature".
UNVERIFIED_STATUSES = RETRYABLE_STATUSES - {500} | {GONE_STATUS}


@dataclass(frozen=True)
class SignedReply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The response body, refusing (without reading on) anything over `limit` bytes once decompressed."""
    if response.content_length is not None and response.content_length > limit:
        raise ResponseTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class SignedHttpClient:
    """One aiohttp session per adapter (made in `start`), speaking Appendix A signatures both ways."""

    def __init__(
        self, party: str, party_key: certs.PartyKey, identity: GatewayIdentity, settings: HttpSettings
    ) -> None:
        self.party = party
        self._party_key = party_key
        self._identity = identity
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._settings.connect_timeout_seconds
                ),
                connector=aiohttp.TCPConnector(limit=32),
                raise_for_status=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"{self.party}: adapter used before start()")
        return self._session

    async def exchange(
        self, method: str, url: str | URL, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> SignedReply:
        """Send one signed request and return the verified reply (the caller bounds it with a timeout)."""
        target = URL(url)
        signed = certs.sign_request(
            self._identity.key, self._identity.party, method, target.raw_path_qs, body
        )
        request_headers = {**(headers or {}), **signed}
        async with self.session.request(
            method, target, data=body or None, headers=request_headers, allow_redirects=False
        ) as response:
            payload = await read_capped(response, self._settings.max_response_bytes)
            reply = SignedReply(response.status, response.headers, payload)
        if reply.status in UNVERIFIED_STATUSES:
            raise UnexpectedStatus(reply.status, parse_retry_after(reply.headers))
        # Checked now, not at start-up: a certificate revoked since then must not vouch for this reply.
        # (Outside the try below: a revoked party's 500 is not an outage to wait out.)
        party_key = self._party_key.public_key()
        try:
            self._verify(reply, signed["X-GW-Nonce"], party_key)
        except CryptoError:
            if reply.status == 500:  # an unsigned 500 is an outage page, not the party's answer
                raise UnexpectedStatus(500, parse_retry_after(reply.headers)) from None
            raise
        return reply

    def _verify(self, reply: SignedReply, request_nonce: str, party_key: certs.SM2PublicKey) -> None:
        signer = reply.headers.get("X-GW-Party")
        if signer != self.party:
            raise BadSignature(
                f"response signed as {signer!r}, expected {self.party!r}",
                f"响应签名方为 {signer!r}，应为 {self.party!r}",
            )
        certs.verify_response(party_key, reply.status, request_nonce, reply.headers, reply.body)
