"""The Redis nonce store shared by several gateway processes (real Redis)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from certs import (
    CATrustStore,
    CertificateAuthority,
    RedisNonceStore,
    RequestVerifier,
    SM2PrivateKey,
    sign_request,
)
from gateway.errors import ReplayedNonce

pytestmark = pytest.mark.redis


async def test_claim_once_with_an_expiry(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        store = RedisNonceStore(client)
        assert await store.claim("icbc-dg", "nonce-aaaaaaaaaaaaaaaa", 600) is True
        assert await store.claim("icbc-dg", "nonce-aaaaaaaaaaaaaaaa", 600) is False
        assert await store.claim("boc-dg", "nonce-aaaaaaaaaaaaaaaa", 600) is True  # scoped per party
        assert 590 <= await client.ttl("gw:nonce:icbc-dg:nonce-aaaaaaaaaaaaaaaa") <= 600
    finally:
        await client.aclose()


async def test_a_replay_to_another_gateway_process_is_refused(redis_url: str) -> None:
    ca = CertificateAuthority.create()
    key = SM2PrivateKey.generate()
    cert = ca.issue(key.public_key, "icbc-dg", "bank")
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        verifiers = []
        for client in (first, second):  # two gateway processes: their own trust stores, one Redis
            trust = CATrustStore(ca)
            trust.add(cert)
            verifiers.append(RequestVerifier(trust, RedisNonceStore(client)))
        headers = sign_request(key, "icbc-dg", "GET", "/api/v1/jobs", b"")
        await verifiers[0].verify("GET", "/api/v1/jobs", headers, b"")
        with pytest.raises(ReplayedNonce):
            await verifiers[1].verify("GET", "/api/v1/jobs", headers, b"")
    finally:
        await first.aclose()
        await second.aclose()
