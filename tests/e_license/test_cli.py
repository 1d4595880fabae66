"""`gw-elicense`: offline verification with exit codes a script can use, and sample rendering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import certs
from e_license.cli import main
from e_license.signing import SignedCertificate
from e_license.verify import verify_file


@pytest.fixture
def files(
    tmp_path: Path, signed_proof: SignedCertificate, registry_cert: certs.Certificate
) -> tuple[Path, Path]:
    certificate = tmp_path / "proof.pdf"
    certificate.write_bytes(signed_proof.distributable())
    pem = tmp_path / "registry.pem"
    pem.write_bytes(registry_cert.pem)
    return certificate, pem


def test_verify_prints_the_number_and_exits_zero(
    files: tuple[Path, Path], signed_proof: SignedCertificate
) -> None:
    certificate, pem = files
    result = subprocess.run(
        [sys.executable, "-m", "e_license.cli", "verify", str(certificate), "--cert", str(pem)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "验证通过" in result.stdout
    assert signed_proof.number in result.stdout


def test_verify_json(
    files: tuple[Path, Path], signed_proof: SignedCertificate, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate, pem = files
    assert main(["verify", str(certificate), "--cert", str(pem), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["valid"] is True
    assert (output["identifier"], output["sm3_hex"]) == (signed_proof.identifier, signed_proof.sm3_hex)


def test_a_tampered_file_exits_one_with_the_reason(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    certificate, pem = files
    data = bytearray(certificate.read_bytes())
    data[2000] ^= 0x01
    certificate.write_bytes(bytes(data))
    assert main(["verify", str(certificate), "--cert", str(pem)]) == 1
    err = capsys.readouterr().err
    assert "证照内容在签名后被改动" in err and "changed after signing" in err


def test_render_signs_a_sample_that_verifies(
    tmp_path: Path, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    key, pem, out = tmp_path / "registry.key", tmp_path / "registry.pem", tmp_path / "sample.pdf"
    key.write_bytes(registry_key.to_pem())
    pem.write_bytes(registry_cert.pem)
    assert main(["render", "--kind", "proof", "--out", str(out), "--key", str(key), "--cert", str(pem)]) == 0
    assert verify_file(out.read_bytes(), registry_cert).number.endswith("不动产证明第0000001号")
    unsigned = tmp_path / "plain.pdf"
    assert main(["render", "--out", str(unsigned)]) == 0
    assert unsigned.read_bytes().startswith(b"%PDF-")


def test_identifier_and_number_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["identifier", "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"]) == 0
    )
    assert (
        main(["identifier", "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.1"]) == 1
    )
    assert main(["number", "粤(2026)东莞市不动产证明第0000001号"]) == 0
    out, err = capsys.readouterr()
    assert "粤（2026）东莞市不动产证明第0000001号" in out
    assert "校验位1不正确（应为0）" in err
