"""Signed requests over real HTTP: accepted and answered with a verifiable signature; each forgery refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

import certs
from gateway.errors import BadSignature
from tests.api.demo_routes import count_effects, routes
from tests.api.support import SignedClient

THINGS = "/api/v1/demo/things"


@pytest.fixture
async def signed(serve: Any, bank: Any) -> SignedClient:
    client = await serve(routes)
    return bank(client)  # type: ignore[no-any-return]


def assert_refused(reply: Any, code: str) -> None:
    assert reply.status == 401, reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["code"] == code


async def test_signed_request_is_accepted_and_response_signature_verifies(signed: SignedClient) -> None:
    reply = await signed.post(THINGS, {"name": "抵押登记"})  # verify=True checks the registry's signature
    assert reply.status == 201
    assert reply.json()["party"] == "icbc-dg"
    assert reply.headers["X-GW-Party"] == "registry"
    # A single changed byte of the answer no longer verifies: the signature covers the exact body.
    with pytest.raises(BadSignature):
        certs.verify_response(
            signed.registry_public, reply.status, reply.request_nonce, reply.headers, reply.body + b" "
        )


async def test_replay_after_301_seconds_is_refused(signed: SignedClient, database: Any) -> None:
    body = json.dumps({"name": "x"}).encode()
    headers = signed.sign("POST", THINGS, body)
    signed.clock.advance(301)
    response = await signed.client.post(
        THINGS, data=body, headers={**headers, "Idempotency-Key": "k-301", "Content-Type": "application/json"}
    )
    data = await response.read()
    assert response.status == 401
    assert json.loads(data)["code"] == "stale_timestamp"
    # Even the refusal is signed by the registry, over the request's nonce.
    certs.verify_response(signed.registry_public, 401, headers["X-GW-Nonce"], response.headers, data)
    assert await count_effects(database) == 0


async def test_reused_nonce_is_refused(signed: SignedClient, database: Any) -> None:
    body = json.dumps({"name": "x"}).encode()
    headers = {**signed.sign("POST", THINGS, body), "Content-Type": "application/json"}
    first = await signed.client.post(THINGS, data=body, headers={**headers, "Idempotency-Key": "a" * 8})
    again = await signed.client.post(THINGS, data=body, headers={**headers, "Idempotency-Key": "b" * 8})
    assert first.status == 201
    assert again.status == 401
    assert (await again.json(content_type=None))["code"] == "replayed_nonce"
    assert await count_effects(database) == 1


async def test_tampered_body_is_refused(signed: SignedClient, database: Any) -> None:
    reply = await signed.post(THINGS, {"name": "x"}, sent_body=json.dumps({"name": "y"}).encode())
    assert_refused(reply, "invalid_signature")
    assert await count_effects(database) == 0


async def test_tampered_query_is_refused(signed: SignedClient) -> None:
    headers = signed.sign("GET", "/api/v1/demo/things/1?page=1", b"")
    response = await signed.client.get("/api/v1/demo/things/1?page=2", headers=headers)
    assert response.status == 401
    assert (await response.json(content_type=None))["code"] == "invalid_signature"


async def test_unknown_participant_is_refused(signed: SignedClient) -> None:
    stranger = SignedClient(
        signed.client, "abc-dg", certs.SM2PrivateKey.generate(), signed.registry_public, signed.clock
    )
    assert_refused(await stranger.post(THINGS, {"name": "x"}), "unknown_participant")


async def test_revoked_certificate_is_refused(signed: SignedClient, participants: Any) -> None:
    revoked = SignedClient(
        signed.client, "boc-dg", participants.keys["boc-dg"], signed.registry_public, signed.clock
    )
    assert_refused(await revoked.post(THINGS, {"name": "x"}), "certificate_revoked")


async def test_key_of_another_bank_is_refused(signed: SignedClient, participants: Any) -> None:
    impostor = SignedClient(
        signed.client, "icbc-dg", participants.keys["ccb-dg"], signed.registry_public, signed.clock
    )
    assert_refused(await impostor.post(THINGS, {"name": "x"}), "invalid_signature")


async def test_unsigned_request_is_refused_with_a_signed_problem(signed: SignedClient) -> None:
    response = await signed.client.get("/api/v1/demo/things/1")
    data = await response.read()
    assert response.status == 401
    assert json.loads(data)["code"] == "invalid_signature"
    certs.verify_response(signed.registry_public, 401, "", response.headers, data)


async def test_not_found_on_a_signed_prefix_is_signed_problem_json(signed: SignedClient) -> None:
    reply = await signed.get("/api/v1/demo/things/someone-elses")
    assert reply.status == 404
    assert reply.json()["code"] == "not_found"
    unknown = await signed.get("/api/v1/no/such/route")
    assert unknown.status == 404
    assert unknown.headers["Content-Type"].startswith("application/problem+json")
