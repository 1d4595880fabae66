"""The gateway CA: issuing, chain and policy checks, revocation, expiry, and its directory on disk."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import csr, pem

from certs import Certificate, CertificateAuthority, SM2PrivateKey, keyfile, make_csr
from gateway.errors import (
    BadSignature,
    CertificateExpired,
    CertificateRevoked,
    ConfigError,
    InputError,
    NotFound,
)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("Test Root CA", days=3650)


def test_issued_certificate_names_the_participant(ca: CertificateAuthority) -> None:
    key = SM2PrivateKey.generate()
    cert = ca.issue(key.public_key, "icbc-dg", "bank", days=30)
    assert (cert.party_code, cert.party_kind) == ("icbc-dg", "bank")
    assert cert.public_key == key.public_key
    assert cert.not_after - cert.not_before == timedelta(days=30)
    assert cert.is_ca is False and "digital_signature" in cert.key_usage
    assert len(cert.fingerprint) == 64
    assert Certificate.from_pem(cert.pem) == cert
    ca.verify(cert)
    assert ca.certificate.party_kind == "ca" and ca.certificate.is_ca
    ca.verify(ca.certificate)


def test_certificate_from_a_csr(ca: CertificateAuthority) -> None:
    key = SM2PrivateKey.generate()
    cert = ca.issue_from_csr(make_csr(key, "dg-water"), "utility")
    assert (cert.party_code, cert.party_kind, cert.public_key) == ("dg-water", "utility", key.public_key)


def test_a_csr_signed_by_another_key_is_refused(ca: CertificateAuthority) -> None:
    genuine = make_csr(SM2PrivateKey.generate(), "dg-gas").decode()
    other = make_csr(SM2PrivateKey.generate(), "dg-gas").decode()
    # Splice the other request's signature into the genuine one: same subject and key, wrong signature.
    request = csr.CertificationRequest.load(pem.unarmor(genuine.encode())[2])
    request["signature"] = csr.CertificationRequest.load(pem.unarmor(other.encode())[2])["signature"]
    with pytest.raises(InputError, match="does not verify"):
        ca.issue_from_csr(pem.armor("CERTIFICATE REQUEST", request.dump()), "utility")


def test_bad_party_code_or_kind(ca: CertificateAuthority) -> None:
    key = SM2PrivateKey.generate().public_key
    with pytest.raises(InputError, match="participant kind"):
        ca.issue(key, "icbc-dg", "ca")
    with pytest.raises(InputError, match="participant code"):
        ca.issue(key, "ICBC DG", "bank")


def test_certificate_of_another_ca_is_rejected(ca: CertificateAuthority) -> None:
    impostor = CertificateAuthority.create("Test Root CA")  # same name, other key
    cert = impostor.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank")
    with pytest.raises(BadSignature, match="CA signature does not verify"):
        ca.verify(cert)
    stranger = CertificateAuthority.create("Other Root")
    with pytest.raises(BadSignature, match="not issued by"):
        ca.verify(stranger.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank"))


def test_tampered_certificate_is_rejected(ca: CertificateAuthority) -> None:
    cert = ca.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank")
    tampered = bytearray(cert.der)
    position = cert.der.index(b"icbc-dg")
    tampered[position] = ord("x")  # subject CN "xcbc-dg"
    forged = Certificate.from_der(bytes(tampered))
    assert forged.party_code == "xcbc-dg"
    with pytest.raises(BadSignature):
        ca.verify(forged)


def test_expired_and_not_yet_valid(ca: CertificateAuthority) -> None:
    key = SM2PrivateKey.generate().public_key
    expired = ca.issue(key, "old-bank", "bank", days=1, not_before=datetime.now(UTC) - timedelta(days=3))
    with pytest.raises(CertificateExpired, match="expired"):
        ca.verify(expired)
    assert expired.valid_at(datetime.now(UTC) - timedelta(days=2, hours=12))
    future = ca.issue(key, "new-bank", "bank", not_before=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(CertificateExpired, match="not valid before"):
        ca.verify(future)


def test_validity_never_exceeds_the_root() -> None:
    short_root = CertificateAuthority.create(days=10)
    cert = short_root.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank", days=825)
    assert cert.not_after == short_root.certificate.not_after


def test_revocation(ca: CertificateAuthority) -> None:
    cert = ca.issue(SM2PrivateKey.generate().public_key, "cmb-dg", "bank")
    ca.revoke(cert.serial, "keyCompromise")
    assert ca.is_revoked(cert.serial)
    with pytest.raises(CertificateRevoked, match="keyCompromise"):
        ca.verify(cert)
    with pytest.raises(NotFound):
        ca.revoke(12345)
    with pytest.raises(InputError, match="revocation reason"):
        ca.revoke(cert.serial, "because")


def test_save_and_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyfile, "PBKDF2_ITERATIONS", 2048)
    authority = CertificateAuthority.create()
    kept = authority.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank")
    revoked = authority.issue(SM2PrivateKey.generate().public_key, "boc-dg", "bank")
    authority.revoke(revoked.serial, "superseded")
    authority.save(tmp_path, password=b"ca-pass")
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "ca.key").read_bytes()
    assert (
        json.loads((tmp_path / "revoked.json").read_text())[format(revoked.serial, "X")]["reason"]
        == "superseded"
    )

    loaded = CertificateAuthority.load(tmp_path, password=b"ca-pass")
    assert loaded.certificate == authority.certificate
    assert [record.serial for record in loaded.issued()] == [kept.serial, revoked.serial]
    assert loaded.issued_certificate(kept.serial) == kept
    loaded.verify(kept)
    with pytest.raises(CertificateRevoked):
        loaded.verify(revoked)
    # The loaded CA keeps issuing certificates that the original CA object also accepts.
    authority.verify(loaded.issue(SM2PrivateKey.generate().public_key, "ccb-dg", "bank"))


def test_revocation_by_another_process_is_picked_up(tmp_path: Path) -> None:
    gateway_side = CertificateAuthority.create()
    cert = gateway_side.issue(SM2PrivateKey.generate().public_key, "icbc-dg", "bank")
    gateway_side.save(tmp_path)
    operator_side = CertificateAuthority.load(tmp_path)
    operator_side.revoke(cert.serial, "keyCompromise")
    operator_side.save(tmp_path)
    stat = (tmp_path / "revoked.json").stat()
    os.utime(tmp_path / "revoked.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    gateway_side.verify(cert)  # not yet re-read
    gateway_side.refresh_revocations()
    with pytest.raises(CertificateRevoked):
        gateway_side.verify(cert)


def test_load_refuses_a_mismatched_key(tmp_path: Path) -> None:
    CertificateAuthority.create().save(tmp_path / "a")
    CertificateAuthority.create().save(tmp_path / "b")
    (tmp_path / "a" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    with pytest.raises(ConfigError, match="does not match"):
        CertificateAuthority.load(tmp_path / "a")
    with pytest.raises(ConfigError, match="no CA"):
        CertificateAuthority.load(tmp_path / "missing")
