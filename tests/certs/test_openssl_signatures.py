"""SM2 signatures interoperate with OpenSSL 3's command line in both directions."""

from __future__ import annotations

import pytest

from certs import SM2PrivateKey, SM2PublicKey
from gateway.errors import BadSignature
from tests.certs.conftest import OpenSSL

pytestmark = pytest.mark.openssl

DOCUMENT = "不动产权证书 粤（2026）东莞市不动产权第0000001号\n".encode() * 50
DISTID = "distid:1234567812345678"


def test_our_signature_verifies_in_openssl(openssl: OpenSSL, backend: str) -> None:
    key = SM2PrivateKey.generate()
    openssl.path("pub.pem").write_bytes(key.public_key.to_pem())
    openssl.path("doc.txt").write_bytes(DOCUMENT)
    openssl.path("sig.der").write_bytes(key.sign(DOCUMENT))
    result = openssl(
        "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", DISTID, "-signature", "sig.der", "doc.txt"
    )
    assert b"Verified OK" in result.stdout
    openssl.path("doc.txt").write_bytes(DOCUMENT + b"x")
    tampered = openssl(
        "dgst",
        "-sm3",
        "-verify",
        "pub.pem",
        "-sigopt",
        DISTID,
        "-signature",
        "sig.der",
        "doc.txt",
        check=False,
    )
    assert tampered.returncode != 0 and b"Verification failure" in tampered.stdout


def test_openssl_signature_verifies_here(openssl: OpenSSL, backend: str) -> None:
    openssl("genpkey", "-algorithm", "SM2", "-out", "key.pem")
    openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
    openssl.path("doc.txt").write_bytes(DOCUMENT)
    openssl("dgst", "-sm3", "-sign", "key.pem", "-sigopt", DISTID, "-out", "sig.der", "doc.txt")
    public_key = SM2PublicKey.from_pem(openssl.path("pub.pem").read_bytes())
    signature = openssl.path("sig.der").read_bytes()
    public_key.verify(signature, DOCUMENT)
    with pytest.raises(BadSignature):
        public_key.verify(signature, DOCUMENT[:-1])


def test_openssl_without_distid_uses_an_empty_id(openssl: OpenSSL, backend: str) -> None:
    """The interop trap: OpenSSL 3.0's CLI signs with an empty ID unless told; we reject it by default."""
    openssl("genpkey", "-algorithm", "SM2", "-out", "key.pem")
    openssl.path("doc.txt").write_bytes(DOCUMENT)
    openssl("dgst", "-sm3", "-sign", "key.pem", "-out", "sig.der", "doc.txt")
    public_key = SM2PrivateKey.from_pem(openssl.path("key.pem").read_bytes()).public_key
    signature = openssl.path("sig.der").read_bytes()
    with pytest.raises(BadSignature):
        public_key.verify(signature, DOCUMENT)
    public_key.verify(signature, DOCUMENT, signer_id=b"")


def test_other_signer_ids_interoperate(openssl: OpenSSL, backend: str) -> None:
    key = SM2PrivateKey.generate()
    openssl.path("key.pem").write_bytes(key.to_pem())
    openssl.path("pub.pem").write_bytes(key.public_key.to_pem())
    openssl.path("doc.txt").write_bytes(DOCUMENT)
    openssl(
        "dgst",
        "-sm3",
        "-sign",
        "key.pem",
        "-sigopt",
        "distid:ALICE123@YAHOO.COM",
        "-out",
        "theirs.der",
        "doc.txt",
    )
    key.public_key.verify(openssl.path("theirs.der").read_bytes(), DOCUMENT, signer_id=b"ALICE123@YAHOO.COM")
    openssl.path("ours.der").write_bytes(key.sign(DOCUMENT, signer_id=b"ALICE123@YAHOO.COM"))
    result = openssl(
        "dgst",
        "-sm3",
        "-verify",
        "pub.pem",
        "-sigopt",
        "distid:ALICE123@YAHOO.COM",
        "-signature",
        "ours.der",
        "doc.txt",
    )
    assert b"Verified OK" in result.stdout
