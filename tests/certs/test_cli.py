"""gw-certs end to end, as an operator and an integrator use it, checked with OpenSSL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from certs import Certificate, backends, keyfile
from certs.cli import main
from tests.certs.conftest import OpenSSL


@pytest.fixture(autouse=True)
def _fast_pbkdf2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyfile, "PBKDF2_ITERATIONS", 2048)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.openssl
def test_operator_and_integrator_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], openssl: OpenSSL
) -> None:
    ca_dir, work = tmp_path / "ca", openssl.workdir
    (work / "ca.pass").write_text("root secret\n")
    assert run(capsys, "ca-init", "--dir", str(ca_dir), "--ca-password-file", str(work / "ca.pass"))[0] == 0
    ca_args = ("--dir", str(ca_dir), "--ca-password-file", str(work / "ca.pass"))

    # A bank makes its key and CSR; the operator issues from the CSR.
    assert run(capsys, "genkey", "-o", str(work / "bank.key"), "--pubout", str(work / "bank.pub"))[0] == 0
    assert (work / "bank.key").stat().st_mode & 0o777 == 0o600
    assert (
        run(
            capsys, "csr", "--key", str(work / "bank.key"), "--party", "icbc-dg", "-o", str(work / "bank.csr")
        )[0]
        == 0
    )
    code, _, err = run(
        capsys,
        "issue",
        *ca_args,
        "--csr",
        str(work / "bank.csr"),
        "--kind",
        "bank",
        "-o",
        str(work / "bank.pem"),
    )
    assert code == 0 and "icbc-dg" in err
    bank_cert = Certificate.from_pem((work / "bank.pem").read_bytes())
    assert (
        openssl(
            "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", str(ca_dir / "ca.pem"), "bank.pem"
        ).returncode
        == 0
    )

    # A utility hands over only its public key (made with OpenSSL).
    openssl("genpkey", "-algorithm", "SM2", "-out", "water.key")
    openssl("pkey", "-in", "water.key", "-pubout", "-out", "water.pub")
    code, out, _ = run(
        capsys,
        "issue",
        *ca_args,
        "--pubkey",
        str(work / "water.pub"),
        "--party",
        "dg-water",
        "--kind",
        "utility",
    )
    assert code == 0 and out.startswith("-----BEGIN CERTIFICATE-----")

    # Sign a file here, verify in OpenSSL; sign in OpenSSL, verify here.
    (work / "contract.pdf").write_bytes(b"%PDF-1.7 mortgage contract " * 100)
    assert (
        run(
            capsys,
            "sign",
            str(work / "contract.pdf"),
            "--key",
            str(work / "bank.key"),
            "-o",
            str(work / "contract.sig"),
        )[0]
        == 0
    )
    openssl(
        "dgst",
        "-sm3",
        "-verify",
        "bank.pub",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        "contract.sig",
        "contract.pdf",
    )
    openssl(
        "dgst",
        "-sm3",
        "-sign",
        "water.key",
        "-sigopt",
        "distid:1234567812345678",
        "-out",
        "water.sig",
        "contract.pdf",
    )
    code, out, _ = run(
        capsys,
        "verify",
        str(work / "contract.pdf"),
        "--signature",
        str(work / "water.sig"),
        "--pubkey",
        str(work / "water.pub"),
    )
    assert code == 0 and "Verified OK / 验证通过" in out
    verify_with_cert = (
        "verify",
        str(work / "contract.pdf"),
        "--signature",
        str(work / "contract.sig"),
        "--cert",
        str(work / "bank.pem"),
        "--ca-dir",
        str(ca_dir),
        "--ca-password-file",
        str(work / "ca.pass"),
    )
    code, out, _ = run(capsys, *verify_with_cert)
    assert code == 0 and "bank:icbc-dg" in out

    # A tampered file fails, in both languages, with a non-zero exit.
    (work / "tampered.pdf").write_bytes((work / "contract.pdf").read_bytes() + b"!")
    code, _, err = run(
        capsys,
        "verify",
        str(work / "tampered.pdf"),
        "--signature",
        str(work / "contract.sig"),
        "--cert",
        str(work / "bank.pem"),
    )
    assert code == 1 and "验证失败" in err and "verification failed" in err

    # List, revoke, and the revoked certificate no longer verifies against the CA.
    code, out, _ = run(capsys, "list", *ca_args)
    assert code == 0 and "icbc-dg" in out and "dg-water" in out and out.count("valid / 有效") == 2
    assert run(capsys, "revoke", *ca_args, format(bank_cert.serial, "x"), "--reason", "keyCompromise")[0] == 0
    code, out, _ = run(capsys, "list", *ca_args)
    assert "revoked / 已吊销" in out
    code, _, err = run(capsys, *verify_with_cert)
    assert code == 1 and "已被吊销" in err and "revoked" in err


def test_errors_are_bilingual_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--dir", str(tmp_path / "nowhere"))
    assert code == 1 and "错误" in err and "no CA" in err
    assert run(capsys, "ca-init", "--dir", str(tmp_path / "ca"))[0] == 0
    code, _, err = run(capsys, "ca-init", "--dir", str(tmp_path / "ca"))
    assert code == 1 and "already holds a CA" in err
    code, _, err = run(capsys, "revoke", "--dir", str(tmp_path / "ca"), "zz-not-hex")
    assert code == 1 and "不是十六进制" in err
    code, _, err = run(capsys, "revoke", "--dir", str(tmp_path / "ca"), "abcdef")
    assert code == 1 and "未签发" in err
    code, _, err = run(capsys, "sign", str(tmp_path / "missing.pdf"), "--key", str(tmp_path / "missing.key"))
    assert code == 1 and "无法读写文件" in err


def test_installed_entry_point(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "gw-certs"
    if not script.exists():
        pytest.skip("the package is not installed with its console scripts")
    result = subprocess.run([str(script), "info"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "backend in use" in result.stdout


def test_backend_can_be_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code, out, _ = run(capsys, "--backend", "gmssl", "info")
        assert code == 0 and "backend in use / 当前后端: gmssl" in out
    finally:
        backends.use_backend(None)
    code, out, _ = run(capsys, "info")
    assert f"当前后端: {backends.available_backends()[0]}" in out
