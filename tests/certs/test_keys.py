"""Key files: PKCS#8, SEC1 and SubjectPublicKeyInfo, plain and encrypted, read and written like OpenSSL 3."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs import SM2PrivateKey, SM2PublicKey, keyfile
from gateway.errors import BadKey
from tests.certs.conftest import OpenSSL
from tests.certs.vectors import ANNEX_A, OPENSSL_SM2_KEY1


@pytest.fixture(autouse=True)
def _fast_pbkdf2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyfile, "PBKDF2_ITERATIONS", 2048)  # production strength only costs time here


def test_round_trips(backend: str) -> None:
    key = SM2PrivateKey.generate()
    for fmt in ("pkcs8", "sec1"):
        assert SM2PrivateKey.from_pem(key.to_pem(fmt)).public_key == key.public_key  # type: ignore[arg-type]
        assert SM2PrivateKey.from_der(key.to_der(fmt)).public_key == key.public_key  # type: ignore[arg-type]
    encrypted = key.to_pem(password=b"\xe5\xaf\x86\xe7\xa0\x81")
    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    assert (
        SM2PrivateKey.from_pem(encrypted, password=b"\xe5\xaf\x86\xe7\xa0\x81").public_key == key.public_key
    )
    assert SM2PublicKey.from_pem(key.public_key.to_pem()) == key.public_key
    assert SM2PublicKey.from_der(key.public_key.to_der()) == key.public_key


def test_openssl_test_key_is_read_and_written_back_identically() -> None:
    key = SM2PrivateKey.from_pem(OPENSSL_SM2_KEY1)
    assert key.to_pem() == OPENSSL_SM2_KEY1


def test_wrong_or_missing_password() -> None:
    encrypted = SM2PrivateKey.generate().to_pem(password=b"right")
    with pytest.raises(BadKey, match="wrong password"):
        SM2PrivateKey.from_pem(encrypted, password=b"wrong")
    with pytest.raises(BadKey, match="no password"):
        SM2PrivateKey.from_pem(encrypted)


def test_mismatched_public_key_in_the_file_is_refused() -> None:
    d = int(ANNEX_A["d"])  # type: ignore[call-overload]
    other = SM2PrivateKey.generate().public_key.raw
    with pytest.raises(BadKey, match="does not match"):
        SM2PrivateKey.from_der(keyfile.sec1_der(d, other))


def test_bad_keys_are_refused() -> None:
    with pytest.raises(BadKey, match="out of range"):
        SM2PrivateKey(0)
    with pytest.raises(BadKey, match="not a point on the curve"):
        SM2PublicKey(b"\x04" + bytes(63) + b"\x01")
    with pytest.raises(BadKey, match="no PUBLIC KEY"):
        SM2PublicKey.from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(BadKey, match="not SM2"):
        SM2PrivateKey.from_pem(p256_pem)
    p256_public = p256.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(BadKey, match="not SM2"):
        SM2PublicKey.from_der(p256_public)


def test_compressed_points_are_accepted() -> None:
    key = SM2PrivateKey.generate().public_key
    y_odd = key.raw[-1] & 1
    compressed = bytes([2 + y_odd]) + key.raw[:32]
    assert SM2PublicKey(compressed) == key


def test_repr_does_not_show_the_secret() -> None:
    key = SM2PrivateKey(int(ANNEX_A["d"]))  # type: ignore[call-overload]
    assert "3945208f" not in repr(key).lower()
    assert str(int(ANNEX_A["d"])) not in repr(key)  # type: ignore[call-overload]


@pytest.mark.openssl
def test_keys_made_by_openssl_are_read(openssl: OpenSSL, backend: str) -> None:
    openssl("genpkey", "-algorithm", "SM2", "-out", "pkcs8.pem")
    openssl("ec", "-in", "pkcs8.pem", "-out", "sec1.pem")  # OpenSSL 3 labels it "SM2 PRIVATE KEY"
    openssl("pkey", "-in", "pkcs8.pem", "-aes256", "-passout", "pass:s3cret", "-out", "enc.pem")
    openssl("ec", "-in", "pkcs8.pem", "-aes128", "-passout", "pass:s3cret", "-out", "legacy.pem")
    openssl("pkey", "-in", "pkcs8.pem", "-outform", "DER", "-out", "pkcs8.der")
    openssl("pkey", "-in", "pkcs8.pem", "-pubout", "-out", "pub.pem")
    openssl("pkey", "-in", "pkcs8.pem", "-pubout", "-outform", "DER", "-out", "pub.der")
    reference = SM2PrivateKey.from_pem(openssl.path("pkcs8.pem").read_bytes())
    assert SM2PrivateKey.from_pem(openssl.path("sec1.pem").read_bytes()).public_key == reference.public_key
    assert (
        SM2PrivateKey.from_pem(openssl.path("enc.pem").read_bytes(), b"s3cret").public_key
        == reference.public_key
    )
    legacy = SM2PrivateKey.from_pem(openssl.path("legacy.pem").read_bytes(), b"s3cret")
    assert legacy.public_key == reference.public_key
    assert SM2PrivateKey.from_der(openssl.path("pkcs8.der").read_bytes()).public_key == reference.public_key
    assert SM2PublicKey.from_pem(openssl.path("pub.pem").read_bytes()) == reference.public_key
    assert SM2PublicKey.from_der(openssl.path("pub.der").read_bytes()) == reference.public_key
    assert reference.to_pem() == openssl.path("pkcs8.pem").read_bytes()
    assert reference.public_key.to_pem() == openssl.path("pub.pem").read_bytes()


@pytest.mark.openssl
def test_keys_made_here_are_read_by_openssl(openssl: OpenSSL) -> None:
    key = SM2PrivateKey.generate()
    openssl.path("pkcs8.pem").write_bytes(key.to_pem("pkcs8"))
    openssl.path("sec1.pem").write_bytes(key.to_pem("sec1"))
    openssl.path("enc.pem").write_bytes(key.to_pem(password=b"s3cret"))
    openssl.path("pub.pem").write_bytes(key.public_key.to_pem())
    openssl.path("pub.der").write_bytes(key.public_key.to_der())
    expected_pub = key.public_key.to_pem()
    for name, extra in [("pkcs8.pem", ()), ("sec1.pem", ()), ("enc.pem", ("-passin", "pass:s3cret"))]:
        result = openssl("pkey", "-in", name, *extra, "-pubout")
        assert result.stdout == expected_pub, name
        text = openssl("pkey", "-in", name, *extra, "-noout", "-text").stdout.decode()
        assert "ASN1 OID: SM2" in text
    assert openssl("pkey", "-pubin", "-in", "pub.pem", "-pubout").stdout == expected_pub
    assert openssl("pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-pubout").stdout == expected_pub
