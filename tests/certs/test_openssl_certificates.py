"""Certificates and requests interoperate with OpenSSL 3: verify, x509 -text, req -verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from certs import CertificateAuthority, SM2PrivateKey, make_csr
from gateway.errors import InputError
from tests.certs.conftest import OpenSSL

pytestmark = pytest.mark.openssl

VFY = ("-vfyopt", "distid:1234567812345678")


def test_openssl_verifies_our_certificates(openssl: OpenSSL, backend: str) -> None:
    ca = CertificateAuthority.create()
    leaf = ca.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank")
    ca.save(openssl.workdir / "ca")
    openssl.path("leaf.pem").write_bytes(leaf.pem)
    result = openssl("verify", *VFY, "-CAfile", "ca/ca.pem", "leaf.pem")
    assert result.stdout.strip() == b"leaf.pem: OK"
    other_ca = CertificateAuthority.create()
    openssl.path("other.pem").write_bytes(other_ca.certificate.pem)
    refused = openssl("verify", *VFY, "-CAfile", "other.pem", "leaf.pem", check=False)
    assert refused.returncode != 0


def test_openssl_reads_our_certificate(openssl: OpenSSL) -> None:
    ca = CertificateAuthority.create()
    leaf = ca.issue(SM2PrivateKey.generate().public_key, "dg-power", "utility", days=90)
    openssl.path("leaf.pem").write_bytes(leaf.pem)
    text = openssl("x509", "-in", "leaf.pem", "-noout", "-text").stdout.decode()
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "Subject: C = CN, OU = utility, CN = dg-power" in text
    assert "Issuer: C = CN, OU = ca, CN = Gateway Root CA" in text
    assert "CA:FALSE" in text and "Digital Signature, Non Repudiation" in text
    serial = openssl("x509", "-in", "leaf.pem", "-noout", "-serial").stdout.decode().strip()
    assert serial == f"serial={leaf.serial:X}" or int(serial.split("=")[1], 16) == leaf.serial
    fingerprint = openssl("x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sm3").stdout.decode()
    assert fingerprint.split("=")[1].strip().replace(":", "").lower() == leaf.fingerprint


def test_openssl_accepts_our_csr_and_we_accept_its(openssl: OpenSSL) -> None:
    key = SM2PrivateKey.generate()
    openssl.path("ours.csr").write_bytes(make_csr(key, "abc-dg"))
    result = openssl("req", "-in", "ours.csr", "-verify", *VFY, "-noout", "-subject")
    assert b"CN = abc-dg" in result.stdout

    openssl("genpkey", "-algorithm", "SM2", "-out", "bank.key")
    openssl(
        "req",
        "-new",
        "-key",
        "bank.key",
        "-subj",
        "/CN=ccb-dg",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-out",
        "theirs.csr",
    )
    ca = CertificateAuthority.create()
    cert = ca.issue_from_csr(openssl.path("theirs.csr").read_bytes(), "bank")
    assert cert.party_code == "ccb-dg"
    assert cert.public_key == SM2PrivateKey.from_pem(openssl.path("bank.key").read_bytes()).public_key


def test_csr_made_without_distid_is_refused_with_a_hint(openssl: OpenSSL) -> None:
    openssl("genpkey", "-algorithm", "SM2", "-out", "bank.key")
    openssl("req", "-new", "-key", "bank.key", "-subj", "/CN=ccb-dg", "-sm3", "-out", "theirs.csr")
    with pytest.raises(InputError, match="distid:1234567812345678"):
        CertificateAuthority.create().issue_from_csr(Path(openssl.path("theirs.csr")).read_bytes(), "bank")
