"""gw-certs for relying parties: the CRL OpenSSL reads, verification without the CA key, honest output
without a CA, and password files read as OpenSSL reads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certs import CertificateAuthority, SM2PrivateKey, keyfile
from certs.cli import main
from tests.certs.conftest import OpenSSL

pytestmark = pytest.mark.openssl
VFY = ("-vfyopt", "distid:1234567812345678")
SIG = ("-sigopt", "distid:1234567812345678")


@pytest.fixture(autouse=True)
def _fast_pbkdf2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyfile, "PBKDF2_ITERATIONS", 2048)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def issue(capsys: pytest.CaptureFixture[str], ca_dir: Path, work: Path, party: str, *extra: str) -> Path:
    key = work / f"{party}.key"
    assert run(capsys, "genkey", "-o", str(key))[0] == 0
    cert = work / f"{party}.pem"
    code, _, err = run(
        capsys, "issue", "--dir", str(ca_dir), "--key", str(key), "--party", party, "--kind", "bank",
        "-o", str(cert), *extra,
    )  # fmt: skip
    assert code == 0, err
    return cert


def serial_of(openssl: OpenSSL, cert: Path) -> str:
    out = openssl("x509", "-in", str(cert), "-noout", "-serial").stdout.decode()
    return out.strip().removeprefix("serial=")


# --- item 3: the CRL, and verification with ca.pem and the revocations only ---------------------------


def test_the_crl_is_read_by_openssl_and_honoured_by_openssl_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], openssl: OpenSSL
) -> None:
    ca_dir, work = tmp_path / "ca", openssl.workdir
    (work / "ca.pass").write_text("root secret\n")
    assert run(capsys, "ca-init", "--dir", str(ca_dir), "--ca-password-file", str(work / "ca.pass"))[0] == 0
    ca_args = ("--ca-password-file", str(work / "ca.pass"))
    good = issue(capsys, ca_dir, work, "icbc-dg", *ca_args)
    bad = issue(capsys, ca_dir, work, "ccb-dg", *ca_args)
    bad_serial = serial_of(openssl, bad)
    revoke = ("revoke", "--dir", str(ca_dir), *ca_args, bad_serial, "--reason", "keyCompromise")
    assert run(capsys, *revoke)[0] == 0

    code, _, err = run(capsys, "crl", "--dir", str(ca_dir), *ca_args, "--out", str(work / "crl.pem"))
    assert code == 0, err
    text = openssl("crl", "-in", "crl.pem", "-noout", "-text").stdout.decode()
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "Last Update:" in text and "Next Update:" in text and "CRL Number" in text
    assert f"Serial Number: {bad_serial}" in text and "Key Compromise" in text
    assert serial_of(openssl, good) not in text
    assert (
        "verify OK"
        in openssl("crl", "-in", "crl.pem", "-CAfile", str(ca_dir / "ca.pem"), "-noout").stderr.decode()
    )

    def openssl_verify(cert: Path) -> tuple[int, str]:
        result = openssl(
            "verify", "-crl_check", *VFY, "-CAfile", str(ca_dir / "ca.pem"), "-CRLfile", "crl.pem", str(cert),
            check=False,
        )  # fmt: skip
        return result.returncode, (result.stdout + result.stderr).decode()

    assert openssl_verify(good) == (0, f"{good}: OK\n")
    code, said = openssl_verify(bad)
    assert code != 0 and "certificate revoked" in said

    # A second CRL carries a higher number.
    assert run(capsys, "crl", "--dir", str(ca_dir), *ca_args, "--out", str(work / "crl2.pem"))[0] == 0
    numbers = [
        openssl("crl", "-in", name, "-noout", "-crlnumber").stdout.decode().strip()
        for name in ("crl.pem", "crl2.pem")
    ]
    assert [int(n.split("=")[1], 16) for n in numbers] == [1, 2]

    # A relying party with ca.pem and the CRL only (no CA key, no password) gets the same answers.
    (work / "doc.txt").write_bytes(b"contract")
    for party in ("icbc-dg", "ccb-dg"):
        run(
            capsys,
            "sign",
            str(work / "doc.txt"),
            "--key",
            str(work / f"{party}.key"),
            "-o",
            str(work / f"{party}.sig"),
        )
    relying = ("--ca-cert", str(ca_dir / "ca.pem"), "--crl", str(work / "crl.pem"))
    code, out, _ = run(capsys, "verify", str(work / "doc.txt"), "--signature", str(work / "icbc-dg.sig"),
                       "--cert", str(good), *relying)  # fmt: skip
    assert code == 0 and "Verified OK" in out
    code, _, err = run(capsys, "verify", str(work / "doc.txt"), "--signature", str(work / "ccb-dg.sig"),
                       "--cert", str(bad), *relying)  # fmt: skip
    assert code == 1 and "revoked" in err


def test_verify_with_a_ca_directory_needs_neither_the_key_nor_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir, work = tmp_path / "ca", tmp_path
    (work / "ca.pass").write_text("root secret\n")
    assert run(capsys, "ca-init", "--dir", str(ca_dir), "--ca-password-file", str(work / "ca.pass"))[0] == 0
    cert = issue(capsys, ca_dir, work, "icbc-dg", "--ca-password-file", str(work / "ca.pass"))
    (work / "doc.txt").write_bytes(b"contract")
    run(
        capsys, "sign", str(work / "doc.txt"), "--key", str(work / "icbc-dg.key"), "-o", str(work / "doc.sig")
    )
    published = tmp_path / "published"  # what a relying party is given: no ca.key at all
    published.mkdir()
    for name in ("ca.pem", "revoked.json"):
        (published / name).write_bytes((ca_dir / name).read_bytes())
    verify = ("verify", str(work / "doc.txt"), "--signature", str(work / "doc.sig"), "--cert", str(cert))
    code, out, err = run(capsys, *verify, "--ca-dir", str(published))
    assert code == 0 and "Verified OK" in out, err
    code, out, err = run(capsys, *verify, "--ca-dir", str(ca_dir))  # encrypted ca.key: never asked for
    assert code == 0 and "Verified OK" in out, err
    code, _, err = run(capsys, *verify, "--ca-dir", str(ca_dir), "--crl", str(work / "doc.txt"))
    assert code == 1 and "--crl goes with --ca-cert" in err


def test_a_crl_not_signed_by_the_ca_or_out_of_date_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, other = CertificateAuthority.create(), CertificateAuthority.create()
    ca.save(tmp_path / "ca")
    other.save(tmp_path / "other")
    key = SM2PrivateKey.generate()
    (tmp_path / "leaf.pem").write_bytes(ca.issue(key.public_key, "icbc-dg", "bank").pem)
    (tmp_path / "doc.txt").write_bytes(b"x")
    (tmp_path / "doc.sig").write_bytes(key.sign(b"x"))
    verify = ("verify", str(tmp_path / "doc.txt"), "--signature", str(tmp_path / "doc.sig"),
              "--cert", str(tmp_path / "leaf.pem"), "--ca-cert", str(tmp_path / "ca" / "ca.pem"))  # fmt: skip
    (tmp_path / "foreign.crl").write_bytes(other.crl())
    code, _, err = run(capsys, *verify, "--crl", str(tmp_path / "foreign.crl"))
    assert code == 1 and "CRL" in err
    (tmp_path / "old.crl").write_bytes(ca.crl(days=1, now=datetime.now(UTC) - timedelta(days=3)))
    code, _, err = run(capsys, *verify, "--crl", str(tmp_path / "old.crl"))
    assert code == 1 and "out of date" in err


# --- item 4: without a CA, dates are checked and the output says the chain was not --------------------


def test_without_a_ca_an_expired_certificate_is_refused_and_an_impostor_is_not_called_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], openssl: OpenSSL
) -> None:
    work = openssl.workdir
    ca = CertificateAuthority.create()
    ca.save(tmp_path / "ca")
    key = SM2PrivateKey.generate()
    expired = ca.issue(
        key.public_key, "icbc-dg", "bank", days=30, not_before=datetime.now(UTC) - timedelta(days=60)
    )
    (work / "expired.pem").write_bytes(expired.pem)
    (work / "doc.txt").write_bytes(b"mortgage contract")
    (work / "doc.sig").write_bytes(key.sign(b"mortgage contract"))
    verify = ("verify", str(work / "doc.txt"), "--signature", str(work / "doc.sig"))
    code, out, err = run(capsys, *verify, "--cert", str(work / "expired.pem"))
    assert code == 1 and "expired" in err and "Verified OK" not in out

    # An impostor makes its own self-signed certificate with the bank's name, and signs with its key.
    openssl("genpkey", "-algorithm", "SM2", "-out", "impostor.key")
    openssl(
        "req", "-x509", "-new", "-key", "impostor.key", "-sm3", *SIG, "-days", "30",
        "-subj", "/C=CN/OU=bank/CN=icbc-dg", "-addext", "keyUsage=critical,digitalSignature",
        "-out", "impostor.pem",
    )  # fmt: skip
    openssl("dgst", "-sm3", "-sign", "impostor.key", *SIG, "-out", "impostor.sig", "doc.txt")
    impostor = ("verify", str(work / "doc.txt"), "--signature", str(work / "impostor.sig"),
                "--cert", str(work / "impostor.pem"))  # fmt: skip
    code, out, err = run(capsys, *impostor)
    assert code == 3, (out, err)
    assert "Verified OK" not in out and "NOT checked" in out and "未校验" in out
    code, out, _ = run(capsys, *impostor, "--json")
    report = json.loads(out)
    assert code == 3 and report["verified"] is False
    assert report["signature"] == "ok" and report["validity"] == "ok" and report["chain"] == "not_checked"
    assert report["party"] == "icbc-dg"
    code, _, err = run(capsys, *impostor, "--ca-dir", str(tmp_path / "ca"))
    assert code == 1 and "not issued by" in err

    # With the CA everything is checked, and the JSON says so.
    good = ca.issue(key.public_key, "icbc-dg", "bank")
    (work / "good.pem").write_bytes(good.pem)
    code, out, _ = run(
        capsys, *verify, "--cert", str(work / "good.pem"), "--ca-dir", str(tmp_path / "ca"), "--json"
    )
    report = json.loads(out)
    assert (
        code == 0 and report["verified"] is True and report["chain"] == "ok" and report["revocation"] == "ok"
    )


# --- item 8: password files as OpenSSL reads them --------------------------------------------------------


def test_a_crlf_password_file_means_the_same_password_to_gw_certs_and_openssl(
    capsys: pytest.CaptureFixture[str], openssl: OpenSSL
) -> None:
    work = openssl.workdir
    (work / "crlf.pass").write_bytes(b"Secret-2026\r\n")
    (work / "lf.pass").write_bytes(b"Secret-2026\n")
    (work / "doc.txt").write_bytes(b"doc")

    # gw-certs encrypts with the CRLF file; OpenSSL opens it with that file, and (like gw-certs) not with LF.
    code, _, err = run(
        capsys, "genkey", "-o", str(work / "ours.key"), "--password-file", str(work / "crlf.pass")
    )
    assert code == 0 and "carriage return" in err
    assert openssl("pkey", "-in", "ours.key", "-passin", "file:crlf.pass", "-noout").returncode == 0
    assert (
        openssl("pkey", "-in", "ours.key", "-passin", "file:lf.pass", "-noout", check=False).returncode != 0
    )
    sign = ("sign", str(work / "doc.txt"), "--key", str(work / "ours.key"), "-o", str(work / "doc.sig"))
    assert run(capsys, *sign, "--password-file", str(work / "crlf.pass"))[0] == 0
    code, _, err = run(capsys, *sign, "--password-file", str(work / "lf.pass"))
    assert code == 1 and "wrong password" in err

    # And the other way: OpenSSL encrypts with the CRLF file, gw-certs opens it with the same file.
    openssl("genpkey", "-algorithm", "SM2", "-out", "plain.key")
    openssl("pkey", "-in", "plain.key", "-aes256", "-passout", "file:crlf.pass", "-out", "theirs.key")
    sign = ("sign", str(work / "doc.txt"), "--key", str(work / "theirs.key"), "-o", str(work / "doc2.sig"))
    assert run(capsys, *sign, "--password-file", str(work / "crlf.pass"))[0] == 0
    assert run(capsys, *sign, "--password-file", str(work / "lf.pass"))[0] == 1

    # OpenSSL reads at most 1023 bytes of the line; so does gw-certs.
    (work / "long.pass").write_bytes(b"L" * 2000 + b"\n")
    openssl("pkey", "-in", "plain.key", "-aes256", "-passout", "file:long.pass", "-out", "long.key")
    (work / "cut.pass").write_bytes(b"L" * 1023)
    long_sign = ("sign", str(work / "doc.txt"), "--key", str(work / "long.key"), "-o", str(work / "doc3.sig"))
    assert run(capsys, *long_sign, "--password-file", str(work / "long.pass"))[0] == 0
    assert run(capsys, *long_sign, "--password-file", str(work / "cut.pass"))[0] == 0

    # Only the first line counts, as for OpenSSL.
    (work / "two.pass").write_bytes(b"Secret-2026\r\nsecond line\n")
    assert openssl("pkey", "-in", "theirs.key", "-passin", "file:two.pass", "-noout").returncode == 0
    assert run(capsys, *sign, "--password-file", str(work / "two.pass"))[0] == 0


@pytest.mark.parametrize("content", [b"", b"\n", b"\nsecond line\n"])
def test_an_empty_password_is_refused_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    (tmp_path / "empty.pass").write_bytes(content)
    code, _, err = run(
        capsys, "genkey", "-o", str(tmp_path / "k.pem"), "--password-file", str(tmp_path / "empty.pass")
    )
    assert code == 1 and "empty" in err and "口令为空" in err
    assert not (tmp_path / "k.pem").exists()
    code, _, err = run(
        capsys, "ca-init", "--dir", str(tmp_path / "ca"), "--ca-password-file", str(tmp_path / "empty.pass")
    )
    assert code == 1 and "empty" in err
    assert not (tmp_path / "ca" / "ca.key").exists()
