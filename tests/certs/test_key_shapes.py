"""Keys of unusual shape sign and verify on every backend and in OpenSSL (1 key in 256 has x starting 0x04)."""

from __future__ import annotations

from functools import cache

import pytest

from certs import DEFAULT_SIGNER_ID, SM2PrivateKey, backends
from certs.curve import COORDINATE_SIZE, SM2_CURVE
from tests.certs.conftest import INSTALLED, OpenSSL

MESSAGE = "抵押权首次登记 粤（2026）东莞市不动产证明第0000042号".encode()
DISTID = "distid:1234567812345678"


def _add(p: tuple[int, int], q: tuple[int, int]) -> tuple[int, int]:
    """Affine point addition on SM2 (test-only, independent of every backend)."""
    prime = SM2_CURVE.p
    if p == q:
        slope = (3 * p[0] * p[0] + SM2_CURVE.a) * pow(2 * p[1], -1, prime) % prime
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, prime) % prime
    x = (slope * slope - p[0] - q[0]) % prime
    return x, (slope * (p[0] - x) - p[1]) % prime


@cache
def key_whose_x_starts_with(first_byte: int) -> SM2PrivateKey:
    """The smallest d whose public x begins with `first_byte`: found by walking d·G = (d-1)·G + G."""
    generator = (SM2_CURVE.gx, SM2_CURVE.gy)
    d, point = 1, generator
    while point[0].to_bytes(COORDINATE_SIZE, "big")[0] != first_byte:  # 1 point in 256 qualifies
        d, point = d + 1, _add(point, generator)
    key = SM2PrivateKey(d)
    assert key.public_key.raw[0] == first_byte
    assert key.public_key.raw == point[0].to_bytes(COORDINATE_SIZE, "big") + point[1].to_bytes(
        COORDINATE_SIZE, "big"
    )
    return key


SHAPES = [0x04, 0x00, 0x40]


@pytest.mark.parametrize("first_byte", SHAPES, ids=lambda b: f"x0={b:02x}")
@pytest.mark.parametrize("signer", INSTALLED)
def test_every_backend_signs_and_verifies_keys_of_every_shape(signer: str, first_byte: int) -> None:
    key = key_whose_x_starts_with(first_byte)
    for name in INSTALLED:  # each backend derives the same public point from d
        assert backends.get_backend(name).public_point(int.from_bytes(key.private_bytes, "big")) == (
            key.public_key.raw
        ), name
    signature = key.handle(backends.get_backend(signer)).sign(MESSAGE, DEFAULT_SIGNER_ID)
    for verifier in INSTALLED:
        handle = key.public_key.handle(backends.get_backend(verifier))
        assert handle.verify(signature, MESSAGE, DEFAULT_SIGNER_ID), f"{signer} → {verifier}"
        assert not handle.verify(signature, MESSAGE + b"!", DEFAULT_SIGNER_ID), f"{signer} → {verifier}"


@pytest.mark.openssl
@pytest.mark.parametrize("first_byte", SHAPES, ids=lambda b: f"x0={b:02x}")
def test_signatures_of_every_shape_verify_in_openssl_both_ways(
    openssl: OpenSSL, backend: str, first_byte: int
) -> None:
    key = key_whose_x_starts_with(first_byte)
    openssl.path("key.pem").write_bytes(key.to_pem())
    openssl.path("pub.pem").write_bytes(key.public_key.to_pem())
    openssl.path("doc.txt").write_bytes(MESSAGE)
    openssl.path("ours.der").write_bytes(key.sign(MESSAGE))  # with the selected backend
    verified = openssl(
        "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", DISTID, "-signature", "ours.der", "doc.txt"
    )
    assert b"Verified OK" in verified.stdout
    openssl("dgst", "-sm3", "-sign", "key.pem", "-sigopt", DISTID, "-out", "theirs.der", "doc.txt")
    key.public_key.verify(openssl.path("theirs.der").read_bytes(), MESSAGE)
