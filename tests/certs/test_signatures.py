"""SM2 signatures: every backend against every other, strict encodings, and each rejection on its own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from certs import DEFAULT_SIGNER_ID, SM2PrivateKey, backends, sign_async, verify_async
from certs.der import Signature, parse_der, parse_signature
from gateway.errors import BadSignature
from tests.certs.conftest import INSTALLED

MESSAGE = "不动产登记 mortgage #42".encode()


@pytest.mark.parametrize("signer", INSTALLED)
def test_every_backend_verifies_every_other(signer: str) -> None:
    key = SM2PrivateKey.generate()
    signature = key.handle(backends.get_backend(signer)).sign(MESSAGE, DEFAULT_SIGNER_ID)
    for verifier in INSTALLED:
        handle = key.public_key.handle(backends.get_backend(verifier))
        assert handle.verify(signature, MESSAGE, DEFAULT_SIGNER_ID), f"{signer} → {verifier}"
        assert not handle.verify(signature, MESSAGE + b"!", DEFAULT_SIGNER_ID), f"{signer} → {verifier}"


@pytest.mark.parametrize("signer", [name for name in INSTALLED if backends.get_backend(name).any_signer_id])
def test_backends_agree_on_a_non_default_signer_id(signer: str) -> None:
    key = SM2PrivateKey.generate()
    signer_id = b"ALICE123@YAHOO.COM"
    signature = key.handle(backends.get_backend(signer)).sign(MESSAGE, signer_id)
    for verifier in INSTALLED:
        backend = backends.get_backend(verifier)
        if backend.any_signer_id:
            assert key.public_key.handle(backend).verify(signature, MESSAGE, signer_id)


def test_sign_and_verify(backend: str) -> None:
    key = SM2PrivateKey.generate()
    signature = key.sign(MESSAGE)
    assert parse_der(signature).to_der() == signature  # canonical DER out
    key.public_key.verify(signature, MESSAGE)


def test_tampered_message_is_rejected(backend: str) -> None:
    key = SM2PrivateKey.generate()
    with pytest.raises(BadSignature, match="does not verify"):
        key.public_key.verify(key.sign(MESSAGE), MESSAGE.replace(b"42", b"43"))


def test_other_signer_id_is_rejected(backend: str) -> None:
    key = SM2PrivateKey.generate()
    signature = key.sign(MESSAGE)
    with pytest.raises(BadSignature):
        key.public_key.verify(signature, MESSAGE, signer_id=b"ALICE123@YAHOO.COM")
    other_id_signature = key.sign(MESSAGE, signer_id=b"ALICE123@YAHOO.COM")
    key.public_key.verify(other_id_signature, MESSAGE, signer_id=b"ALICE123@YAHOO.COM")
    with pytest.raises(BadSignature):
        key.public_key.verify(other_id_signature, MESSAGE)


def test_other_key_is_rejected(backend: str) -> None:
    signature = SM2PrivateKey.generate().sign(MESSAGE)
    with pytest.raises(BadSignature):
        SM2PrivateKey.generate().public_key.verify(signature, MESSAGE)


def test_non_default_id_is_routed_away_from_tongsuopy() -> None:
    if "tongsuopy" not in INSTALLED or len(INSTALLED) < 2:
        pytest.skip("needs tongsuopy and a backend that takes any signer ID")
    backends.use_backend("tongsuopy")
    try:
        key = SM2PrivateKey.generate()
        assert backends.for_signer_id(b"other").name != "tongsuopy"
        key.public_key.verify(key.sign(MESSAGE, b"other"), MESSAGE, b"other")
        assert backends.backend_name() == "tongsuopy"
    finally:
        backends.use_backend(None)


def test_raw_r_s_is_accepted(backend: str) -> None:
    key = SM2PrivateKey.generate()
    raw = parse_der(key.sign(MESSAGE)).to_raw()
    assert len(raw) == 64
    key.public_key.verify(raw, MESSAGE)
    with pytest.raises(BadSignature):
        key.public_key.verify(raw[:63], MESSAGE)


def _lengthen_integer(der: bytes) -> bytes:
    """The same r and s with r padded by a 00 byte: valid BER, not DER."""
    signature = parse_der(der)
    r = signature.r.to_bytes(signature.r.bit_length() // 8 + 1, "big")
    s = signature.s.to_bytes(signature.s.bit_length() // 8 + 1, "big")
    body = b"\x02" + bytes([len(r) + 1]) + b"\x00" + r + b"\x02" + bytes([len(s)]) + s
    return b"\x30" + bytes([len(body)]) + body


def test_non_canonical_der_is_rejected(backend: str) -> None:
    key = SM2PrivateKey.generate()
    der = key.sign(MESSAGE)
    body = der[2:]
    variants = {
        "padded integer": _lengthen_integer(der),
        "long-form length": b"\x30\x81" + bytes([len(body)]) + body,
        "trailing byte": der + b"\x00",
        "wrong outer length": b"\x30" + bytes([len(body) + 1]) + body + b"\x00",
        "not a sequence": b"\x31" + der[1:],
    }
    for name, variant in variants.items():
        with pytest.raises(BadSignature, match="malformed"):
            key.public_key.verify(variant, MESSAGE)
        assert name


@pytest.mark.parametrize(
    ("r", "s"),
    [
        (0, 1),
        (1, 0),
        (2**256 - 1, 1),
        (0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123, 5),
    ],
)
def test_out_of_range_values_are_rejected(r: int, s: int) -> None:
    body = Signature(r, s).to_der()
    with pytest.raises(BadSignature, match="out of range"):
        parse_signature(body)


def test_negative_integer_is_rejected() -> None:
    with pytest.raises(BadSignature, match="negative"):
        parse_der(bytes.fromhex("3006020180020101"))


def test_failed_gmssl_pyx_verification_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    if "gmssl_pyx" not in INSTALLED:
        pytest.skip("gmssl_pyx is not installed")
    key = SM2PrivateKey.generate()
    handle = key.public_key.handle(backends.get_backend("gmssl_pyx"))
    signature = parse_der(key.sign(MESSAGE))
    assert not handle.verify(signature, b"forged", DEFAULT_SIGNER_ID)
    assert handle.verify(signature, MESSAGE, DEFAULT_SIGNER_ID)
    captured = capfd.readouterr()
    assert "sm2_sign.c" not in captured.err
    assert captured.err == ""


class _ThreadRecordingKey(SM2PrivateKey):
    def sign(self, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
        self.threads.append(threading.current_thread().name)
        return super().sign(message, signer_id)


async def test_async_calls_run_in_the_crypto_pool(backend: str) -> None:
    key = _ThreadRecordingKey.generate()
    key.threads = []
    signatures = await asyncio.gather(*(sign_async(key, MESSAGE + bytes([i])) for i in range(4)))
    assert key.threads and all(name.startswith("gw-crypto") for name in key.threads)
    await asyncio.gather(
        *(verify_async(key.public_key, sig, MESSAGE + bytes([i])) for i, sig in enumerate(signatures))
    )
    with pytest.raises(BadSignature):
        await verify_async(key.public_key, signatures[0], MESSAGE)


def test_one_key_signs_and_verifies_from_several_threads(backend: str) -> None:
    """The crypto pool shares loaded keys between threads; every result must still be right."""
    key = SM2PrivateKey.generate()
    rounds = 3 if backend == "gmssl" else 100
    failures: list[str] = []

    def work(worker: int) -> None:
        for i in range(rounds):
            message = MESSAGE + f"{worker}/{i}".encode()
            try:
                key.public_key.verify(key.sign(message), message)
            except BadSignature as exc:
                failures.append(f"{worker}/{i}: {exc}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
