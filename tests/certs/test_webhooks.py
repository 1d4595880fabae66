"""Delivery signatures: Standard Webhooks headers with SM2 over id.timestamp.body, key rotation."""

from __future__ import annotations

import base64

import pytest

from certs import SM2PrivateKey, sign_webhook, verify_webhook, verify_webhook_async
from certs.webhooks import signed_content
from gateway.errors import InvalidRequestSignature, StaleTimestamp
from tests.certs.conftest import OpenSSL

NOW = 1_795_675_200
BODY = b'{"job":"transfer_account","unit":"441900001001GB00001F00010001"}'
MSG_ID = "0b4bd1f0-6a3e-4f0e-9a59-2a4f6b8f4c21"


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def test_headers_and_round_trip(key: SM2PrivateKey) -> None:
    headers = sign_webhook(key, MSG_ID, NOW, BODY)
    assert headers["webhook-id"] == MSG_ID and headers["webhook-timestamp"] == str(NOW)
    version, _, value = headers["webhook-signature"].partition(",")
    assert version == "v1sm2" and base64.b64decode(value)[0] == 0x30
    shouted = {name.upper(): value for name, value in headers.items()}
    assert verify_webhook([key.public_key], shouted, BODY, now=NOW + 299) == MSG_ID


def test_rotation_signs_with_both_keys(key: SM2PrivateKey) -> None:
    new_key = SM2PrivateKey.generate()
    headers = sign_webhook([key, new_key], MSG_ID, NOW, BODY)
    assert len(headers["webhook-signature"].split()) == 2
    assert verify_webhook([new_key.public_key], headers, BODY, now=NOW) == MSG_ID
    assert verify_webhook([key.public_key], headers, BODY, now=NOW) == MSG_ID


def test_tampered_body_other_key_and_other_id(key: SM2PrivateKey) -> None:
    headers = sign_webhook(key, MSG_ID, NOW, BODY)
    with pytest.raises(InvalidRequestSignature):
        verify_webhook([key.public_key], headers, BODY.replace(b"0001F", b"0002F"), now=NOW)
    with pytest.raises(InvalidRequestSignature):
        verify_webhook([SM2PrivateKey.generate().public_key], headers, BODY, now=NOW)
    with pytest.raises(InvalidRequestSignature):
        verify_webhook([key.public_key], {**headers, "webhook-id": "another-id"}, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_delivery(key: SM2PrivateKey, offset: int) -> None:
    headers = sign_webhook(key, MSG_ID, NOW, BODY)
    with pytest.raises(StaleTimestamp):
        verify_webhook([key.public_key], headers, BODY, now=NOW + offset)


def test_other_schemes_are_ignored(key: SM2PrivateKey) -> None:
    ours = sign_webhook(key, MSG_ID, NOW, BODY)["webhook-signature"]
    hmac_only = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1,K5oZfzN95Z9UVu1E=",
    }
    with pytest.raises(InvalidRequestSignature, match="no v1sm2 signature"):
        verify_webhook([key.public_key], hmac_only, BODY, now=NOW)
    mixed = {**hmac_only, "webhook-signature": f"v1,K5oZfzN95Z9UVu1E= {ours}"}
    assert verify_webhook([key.public_key], mixed, BODY, now=NOW) == MSG_ID


def test_ids_that_would_break_the_signed_content_are_refused(key: SM2PrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_webhook(key, "msg.1", NOW, BODY)
    with pytest.raises(InvalidRequestSignature, match="webhook-id"):
        verify_webhook([key.public_key], {"webhook-timestamp": str(NOW)}, BODY, now=NOW)


async def test_async_verification(key: SM2PrivateKey) -> None:
    headers = sign_webhook(key, MSG_ID, NOW, BODY)
    assert await verify_webhook_async([key.public_key], headers, BODY, now=NOW) == MSG_ID


@pytest.mark.openssl
def test_a_receiver_can_check_with_openssl(key: SM2PrivateKey, openssl: OpenSSL) -> None:
    headers = sign_webhook(key, MSG_ID, NOW, BODY)
    openssl.path("pub.pem").write_bytes(key.public_key.to_pem())
    openssl.path("content").write_bytes(signed_content(MSG_ID, NOW, BODY))
    openssl.path("sig.der").write_bytes(base64.b64decode(headers["webhook-signature"].partition(",")[2]))
    result = openssl(
        "dgst",
        "-sm3",
        "-verify",
        "pub.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        "sig.der",
        "content",
    )
    assert b"Verified OK" in result.stdout
