"""Signed requests (DESIGN.md Appendix A): the verifier returns the participant or one precise error."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest

from certs import (
    CATrustStore,
    CertificateAuthority,
    MemoryNonceStore,
    RequestVerifier,
    SM2PrivateKey,
    canonical_request,
    sign_request,
    sign_response,
    verify_response,
)
from gateway.errors import (
    AuthenticationError,
    BadSignature,
    CertificateExpired,
    CertificateRevoked,
    InvalidRequestSignature,
    ReplayedNonce,
    StaleTimestamp,
    UnknownParticipant,
)
from tests.certs.conftest import OpenSSL

NOW = int(time.time())  # the CA below is created now, so the simulated clock starts there
BODY = '{"case":"抵押权首次登记","amount":"1200000.00"}'.encode()
PATH = "/api/v1/cases?x=1"


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.not_before = datetime.fromtimestamp(NOW, UTC) - timedelta(days=1)
        # Valid from before NOW (the module's import time): in a long run the test starts minutes later.
        self.ca = CertificateAuthority.create(not_before=self.not_before)
        self.bank_key = SM2PrivateKey.generate()
        self.bank_cert = self.ca.issue(
            self.bank_key.public_key, "icbc-dg", "bank", not_before=self.not_before
        )
        self.trust = CATrustStore(self.ca, clock=self.clock)
        self.trust.add(self.bank_cert)
        self.nonces = MemoryNonceStore(clock=self.clock)
        self.verifier = RequestVerifier(self.trust, self.nonces, clock=self.clock)

    def headers(self, **overrides: object) -> dict[str, str]:
        arguments: dict[str, object] = {"timestamp": NOW}
        arguments.update(overrides)
        key = arguments.pop("key", self.bank_key)
        party = arguments.pop("party", "icbc-dg")
        return sign_request(key, party, "POST", PATH, BODY, **arguments)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World()


def test_canonical_string_is_the_six_lines_of_appendix_a() -> None:
    text = canonical_request("post", PATH, 1795675200, "nonce-0123456789ab", "icbc-dg", b"").decode()
    assert text == (
        "POST\n/api/v1/cases?x=1\n1795675200\nnonce-0123456789ab\nicbc-dg\n"
        "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
    )


async def test_a_signed_request_authenticates(world: World) -> None:
    headers = world.headers()
    assert set(headers) == {"X-GW-Party", "X-GW-Timestamp", "X-GW-Nonce", "X-GW-Signature"}
    participant = await world.verifier.verify("POST", PATH, {k.lower(): v for k, v in headers.items()}, BODY)
    assert (participant.code, participant.kind) == ("icbc-dg", "bank")
    assert participant.certificate == world.bank_cert


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PUT", PATH, BODY), ("POST", "/api/v1/cases?x=2", BODY), ("POST", PATH, BODY + b" ")],
)
async def test_tampered_request_is_rejected(world: World, method: str, path: str, body: bytes) -> None:
    with pytest.raises(InvalidRequestSignature):
        await world.verifier.verify(method, path, world.headers(), body)


async def test_other_key_is_rejected(world: World) -> None:
    with pytest.raises(InvalidRequestSignature):
        await world.verifier.verify("POST", PATH, world.headers(key=SM2PrivateKey.generate()), BODY)


async def test_participant_signer_id_is_honoured(world: World) -> None:
    world.trust.add(world.bank_cert, signer_id=b"ICBC-DG-UKEY-01")
    with pytest.raises(InvalidRequestSignature):
        await world.verifier.verify("POST", PATH, world.headers(), BODY)  # default ID: wrong for this party
    headers = world.headers(signer_id=b"ICBC-DG-UKEY-01")
    assert (await world.verifier.verify("POST", PATH, headers, BODY)).signer_id == b"ICBC-DG-UKEY-01"


async def test_unknown_participant(world: World) -> None:
    with pytest.raises(UnknownParticipant, match="abc-dg"):
        await world.verifier.verify("POST", PATH, world.headers(party="abc-dg"), BODY)


async def test_revoked_certificate(world: World) -> None:
    world.ca.revoke(world.bank_cert.serial, "keyCompromise")
    with pytest.raises(CertificateRevoked):
        await world.verifier.verify("POST", PATH, world.headers(), BODY)


async def test_expired_certificate(world: World) -> None:
    world.clock.now = world.bank_cert.not_after.timestamp() + 1
    headers = world.headers(timestamp=int(world.clock.now))
    with pytest.raises(CertificateExpired):
        await world.verifier.verify("POST", PATH, headers, BODY)


@pytest.mark.parametrize("offset", [-301, 301])
async def test_stale_timestamp(world: World, offset: int) -> None:
    with pytest.raises(StaleTimestamp, match="301 s"):
        await world.verifier.verify("POST", PATH, world.headers(timestamp=NOW + offset), BODY)


@pytest.mark.parametrize("offset", [-300, 300])
async def test_timestamp_at_the_limit_is_accepted(world: World, offset: int) -> None:
    await world.verifier.verify("POST", PATH, world.headers(timestamp=NOW + offset), BODY)


async def test_replayed_nonce(world: World) -> None:
    headers = world.headers()
    await world.verifier.verify("POST", PATH, headers, BODY)
    with pytest.raises(ReplayedNonce):
        await world.verifier.verify("POST", PATH, headers, BODY)
    # The nonce outlives the clock window: while the timestamp is still acceptable, the replay is refused.
    world.clock.now = NOW + 250
    with pytest.raises(ReplayedNonce):
        await world.verifier.verify("POST", PATH, headers, BODY)


async def test_forged_request_does_not_burn_the_nonce(world: World) -> None:
    genuine = world.headers(nonce="shared-nonce-0000000001")
    forged = dict(
        genuine, **{"X-GW-Signature": world.headers(key=SM2PrivateKey.generate())["X-GW-Signature"]}
    )
    with pytest.raises(InvalidRequestSignature):
        await world.verifier.verify("POST", PATH, forged, BODY)
    await world.verifier.verify("POST", PATH, genuine, BODY)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"X-GW-Nonce": None}, "missing header X-GW-Nonce"),
        ({"X-GW-Nonce": "short"}, "X-GW-Nonce must be"),
        ({"X-GW-Nonce": "bad nonce with spaces!!"}, "X-GW-Nonce must be"),
        ({"X-GW-Timestamp": "17956752OO"}, "Unix seconds"),
        ({"X-GW-Signature": "***"}, "not base64"),
        ({"X-GW-Party": "ICBC DG"}, "malformed X-GW-Party"),
    ],
)
async def test_malformed_headers(world: World, change: dict[str, str | None], message: str) -> None:
    headers: dict[str, str] = {}
    for name, value in {**world.headers(), **change}.items():
        if value is not None:
            headers[name] = value
    with pytest.raises(InvalidRequestSignature, match=message) as raised:
        await world.verifier.verify("POST", PATH, headers, BODY)
    assert isinstance(raised.value, AuthenticationError) and raised.value.http_status == 401
    assert raised.value.message_zh != raised.value.message_en


@pytest.mark.openssl
async def test_a_bank_signing_with_nothing_but_openssl(world: World, openssl: OpenSSL) -> None:
    """Appendix A's promise: `openssl dgst -sm3 -sign bank.key -sigopt distid:…` makes a valid request."""
    openssl.path("bank.key").write_bytes(world.bank_key.to_pem())
    nonce = "openssl-nonce-000000001"
    openssl.path("string.txt").write_bytes(canonical_request("POST", PATH, NOW, nonce, "icbc-dg", BODY))
    openssl(
        "dgst",
        "-sm3",
        "-sign",
        "bank.key",
        "-sigopt",
        "distid:1234567812345678",
        "-out",
        "sig.der",
        "string.txt",
    )
    headers = {
        "X-GW-Party": "icbc-dg",
        "X-GW-Timestamp": str(NOW),
        "X-GW-Nonce": nonce,
        "X-GW-Signature": base64.b64encode(openssl.path("sig.der").read_bytes()).decode(),
    }
    assert (await world.verifier.verify("POST", PATH, headers, BODY)).code == "icbc-dg"


def test_signed_response(world: World) -> None:
    registry_key = SM2PrivateKey.generate()
    headers = sign_response(registry_key, 201, "request-nonce-000001", BODY, timestamp=NOW)
    assert headers["X-GW-Party"] == "registry"
    assert headers["X-GW-Nonce"] != "request-nonce-000001"
    verify_response(registry_key.public_key, 201, "request-nonce-000001", headers, BODY)
    for status, nonce, body in [
        (200, "request-nonce-000001", BODY),
        (201, "request-nonce-000002", BODY),
        (201, "request-nonce-000001", b"{}"),
    ]:
        with pytest.raises(BadSignature):
            verify_response(registry_key.public_key, status, nonce, headers, body)


async def test_memory_store_forgets_after_the_ttl() -> None:
    clock = Clock()
    store = MemoryNonceStore(clock=clock)
    assert await store.claim("icbc-dg", "n" * 16, 600)
    assert not await store.claim("icbc-dg", "n" * 16, 600)
    clock.now += 601
    assert await store.claim("icbc-dg", "m" * 16, 600)
    assert len(store) == 1  # the expired entry was purged
    assert await store.claim("icbc-dg", "n" * 16, 600)
