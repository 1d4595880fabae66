"""Official SM3 and SM2 vectors pass on every installed backend."""

from __future__ import annotations

import pytest
from gmssl import sm2 as gmssl_sm2

from certs import SM2PrivateKey, SM2PublicKey, backends, hmac_sm3, sm3, sm3_hex
from certs.curve import compute_z
from certs.der import Signature, parse_der
from gateway.errors import BadSignature
from tests.certs.conftest import INSTALLED
from tests.certs.vectors import (
    ALICE,
    ANNEX_A,
    EXAMPLE_CURVE,
    OPENSSL_DIGEST_SIGNATURES,
    OPENSSL_SM2_KEY1,
    SM3_512_BIT,
    SM3_ABC,
)


def _point(vector: dict[str, object]) -> bytes:
    x, y = vector["x"], vector["y"]
    assert isinstance(x, int) and isinstance(y, int)
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def test_sm3_vectors_with_the_gateway_hash() -> None:
    assert sm3_hex(b"abc") == SM3_ABC
    assert sm3(b"abcd" * 16).hex() == SM3_512_BIT


@pytest.mark.parametrize("name", INSTALLED)
def test_sm3_vectors_on_every_backend(name: str) -> None:
    backend = backends.get_backend(name)
    assert backend.sm3(b"abc").hex() == SM3_ABC
    assert backend.sm3(b"abcd" * 16).hex() == SM3_512_BIT


def test_hmac_sm3_agrees_with_an_independent_implementation() -> None:
    gmssl_pyx = pytest.importorskip("gmssl_pyx")
    for key, data in [(b"k" * 16, b"abc"), (b"x" * 100, b"message digest" * 10), (b"\x01", b"")]:
        assert hmac_sm3(key, data) == bytes(gmssl_pyx.sm3_hmac(key, data))


def test_z_with_the_default_signer_id() -> None:
    assert compute_z(_point(ANNEX_A)).hex() == ANNEX_A["z"]
    assert sm3(bytes.fromhex(str(ANNEX_A["z"])) + b"message digest").hex() == ANNEX_A["e"]


def test_z_with_alice_on_the_example_curve() -> None:
    z = compute_z(_point(ALICE), bytes(ALICE["id"]), EXAMPLE_CURVE)  # type: ignore[arg-type]
    assert z.hex() == ALICE["z"]
    assert sm3(z + b"message digest").hex() == ALICE["e"]


def test_public_key_derivation_matches_annex_a(backend: str) -> None:
    key = SM2PrivateKey(int(ANNEX_A["d"]))  # type: ignore[call-overload]
    assert key.public_key.raw == _point(ANNEX_A)


def test_annex_a_signature_verifies(backend: str) -> None:
    public_key = SM2PublicKey(_point(ANNEX_A))
    signature = Signature(int(ANNEX_A["r"]), int(ANNEX_A["s"])).to_der()  # type: ignore[call-overload]
    public_key.verify(signature, b"message digest")
    with pytest.raises(BadSignature):
        public_key.verify(signature, b"message digesT")


def test_annex_a_signature_is_reproduced_from_its_nonce() -> None:
    # Only the pure-Python engine accepts a caller-chosen k; the C backends draw it themselves.
    engine = gmssl_sm2.CryptSM2(private_key=format(ANNEX_A["d"], "064x"), public_key=_point(ANNEX_A).hex())
    raw = engine.sign(bytes.fromhex(str(ANNEX_A["e"])), format(ANNEX_A["k"], "064x"))
    assert raw == format(ANNEX_A["r"], "064x") + format(ANNEX_A["s"], "064x")


def test_alice_signature_on_the_example_curve() -> None:
    # The C backends are fixed to the SM2 curve; gmssl takes curve parameters, so it runs the
    # GB/T 32918.2 example with the ALICE123@YAHOO.COM signer ID and our Z.
    table = {
        "n": format(EXAMPLE_CURVE.n, "064X"),
        "p": format(EXAMPLE_CURVE.p, "064X"),
        "g": format(EXAMPLE_CURVE.gx, "064x") + format(EXAMPLE_CURVE.gy, "064x"),
        "a": format(EXAMPLE_CURVE.a, "064X"),
        "b": format(EXAMPLE_CURVE.b, "064X"),
    }
    engine = gmssl_sm2.CryptSM2(
        private_key=format(ALICE["d"], "064x"), public_key=_point(ALICE).hex(), ecc_table=table
    )
    assert engine._kg(ALICE["d"], table["g"]) == _point(ALICE).hex()
    e = sm3(compute_z(_point(ALICE), bytes(ALICE["id"]), EXAMPLE_CURVE) + b"message digest")  # type: ignore[arg-type]
    expected = format(ALICE["r"], "064x") + format(ALICE["s"], "064x")
    assert engine.sign(e, format(ALICE["k"], "064x")) == expected
    assert engine.verify(expected, e)
    assert not engine.verify(expected, sm3(e))


@pytest.mark.parametrize("name", [name for name in INSTALLED if name != "tongsuopy"])
def test_openssl_digest_vectors(name: str) -> None:
    """OpenSSL's evppkey_sm2.txt vectors sign a digest e directly; tongsuopy has no such entry point."""
    public_key = SM2PrivateKey.from_pem(OPENSSL_SM2_KEY1).public_key
    for digest_hex, signature_hex in OPENSSL_DIGEST_SIGNATURES:
        digest, signature = bytes.fromhex(digest_hex), bytes.fromhex(signature_hex)
        if name == "gmssl_pyx":
            gmssl_pyx = pytest.importorskip("gmssl_pyx")
            assert gmssl_pyx.sm2_verify_sm3_digest(public_key.raw, digest, signature)
        else:
            engine = gmssl_sm2.CryptSM2(private_key="", public_key=public_key.raw.hex())
            assert engine.verify(parse_der(signature).to_raw().hex(), digest)
