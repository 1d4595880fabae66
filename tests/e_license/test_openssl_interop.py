"""OpenSSL 3's command line verifies a certificate's signature from nothing but the file and the registry PEM."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import certs
from e_license.embedding import read_signature_blob
from e_license.signing import SignedCertificate

pytestmark = pytest.mark.openssl


@pytest.fixture
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl command line is not installed (scripts/install-system-deps.sh installs it)")
    return path


def _extract(distributed: bytes, folder: Path) -> tuple[Path, Path]:
    """What an offline verifier does: take the signed range and the signature out of signature.json."""
    blob = json.loads(read_signature_blob(distributed))
    signed, signature = folder / "signed.pdf", folder / "sig.der"
    signed.write_bytes(distributed[: blob["signed_length"]])
    signature.write_bytes(base64.b64decode(blob["signature"]))
    return signed, signature


def _openssl_verify(
    openssl: str, folder: Path, signed: Path, signature: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [openssl, "dgst", "-sm3", "-verify", str(folder / "pub.pem"), "-sigopt", "distid:1234567812345678",
         "-signature", str(signature), str(signed)],
        capture_output=True, text=True,
    )  # fmt: skip


@pytest.fixture
def public_key_pem(openssl: str, registry_cert: certs.Certificate, tmp_path: Path) -> Path:
    cert = tmp_path / "registry.pem"
    cert.write_bytes(registry_cert.pem)
    pub = tmp_path / "pub.pem"
    spki = subprocess.run(
        [openssl, "x509", "-pubkey", "-noout", "-in", str(cert)], check=True, capture_output=True
    )
    pub.write_bytes(spki.stdout)
    return pub


@pytest.mark.parametrize("fixture", ["signed_ownership", "signed_proof"])
def test_openssl_verifies_the_embedded_signature(
    openssl: str, public_key_pem: Path, tmp_path: Path, fixture: str, request: pytest.FixtureRequest
) -> None:
    signed_certificate: SignedCertificate = request.getfixturevalue(fixture)
    signed, signature = _extract(signed_certificate.distributable(), tmp_path)
    assert signed.read_bytes() == signed_certificate.pdf
    result = _openssl_verify(openssl, tmp_path, signed, signature)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Verified OK"


@pytest.mark.parametrize("where", [0.0, 0.37, 0.81, 1.0])
def test_openssl_refuses_one_changed_byte(
    openssl: str,
    public_key_pem: Path,
    signed_ownership: SignedCertificate,
    tmp_path: Path,
    where: float,
) -> None:
    signed, signature = _extract(signed_ownership.distributable(), tmp_path)
    data = bytearray(signed.read_bytes())
    data[min(int(where * len(data)), len(data) - 1)] ^= 0x20
    signed.write_bytes(bytes(data))
    result = _openssl_verify(openssl, tmp_path, signed, signature)
    assert result.returncode == 1
    assert "Verification failure" in result.stdout + result.stderr
