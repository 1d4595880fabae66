"""GW_CRYPTO_BACKEND and GW_SIGNER_ID are honoured (or refused) by gw-certs and the gateway, never ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from certs import SM2PrivateKey, backends
from gateway.cli import main as gateway_main
from gateway.settings import Settings
from tests.certs.conftest import OpenSSL

BIN = Path(sys.executable).parent
DOCUMENT = "抵押权首次登记 申请书".encode() * 20


def command(name: str, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = BIN / name
    if not script.exists():
        pytest.skip("the package is not installed with its console scripts")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GW_")} | env
    return subprocess.run(
        [str(script), *argv], capture_output=True, text=True, timeout=120, check=False, env=environment
    )


@pytest.mark.skipif("gmssl" not in backends.available_backends(), reason="the gmssl backend is not installed")
@pytest.mark.openssl
def test_gw_crypto_backend_selects_the_backend_that_signs(openssl: OpenSSL) -> None:
    info = command("gw-certs", "info", GW_CRYPTO_BACKEND="gmssl")
    assert info.returncode == 0, info.stderr
    assert "backend in use / 当前后端: gmssl (set by GW_CRYPTO_BACKEND)" in info.stdout
    assert "signer ID / 签名者标识: 1234567812345678" in info.stdout

    key = SM2PrivateKey.generate()
    work = openssl.workdir
    (work / "key.pem").write_bytes(key.to_pem())
    (work / "pub.pem").write_bytes(key.public_key.to_pem())
    (work / "doc.txt").write_bytes(DOCUMENT)
    signed = command(
        "gw-certs", "sign", str(work / "doc.txt"), "--key", str(work / "key.pem"), "-o", str(work / "sig.der"),
        GW_CRYPTO_BACKEND="gmssl",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert "signed with gmssl, signer ID 1234567812345678" in signed.stderr
    verified = openssl(
        "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", "distid:1234567812345678",
        "-signature", "sig.der", "doc.txt",
    )  # fmt: skip
    assert b"Verified OK" in verified.stdout

    # --backend on the command line wins over the environment.
    chosen = command(
        "gw-certs", "--backend", backends.available_backends()[0], "info", GW_CRYPTO_BACKEND="gmssl"
    )
    assert f"当前后端: {backends.available_backends()[0]} (set by --backend)" in chosen.stdout
    default = command("gw-certs", "info")
    assert f"当前后端: {backends.available_backends()[0]} (default: the fastest installed)" in default.stdout


def test_an_unknown_backend_is_a_clear_error() -> None:
    result = command("gw-certs", "info", GW_CRYPTO_BACKEND="openssl")
    assert result.returncode != 0
    assert "GW_CRYPTO_BACKEND='openssl'" in result.stderr
    assert "'tongsuopy', 'gmssl_pyx' or 'gmssl'" in result.stderr
    gateway = command("gateway", "migrate", GW_CRYPTO_BACKEND="openssl")
    assert gateway.returncode == 2
    assert "GW_CRYPTO_BACKEND" in gateway.stderr and "'tongsuopy', 'gmssl_pyx' or 'gmssl'" in gateway.stderr


def test_a_signer_id_other_than_the_contracts_is_refused_not_ignored() -> None:
    result = command("gw-certs", "info", GW_SIGNER_ID="ALICE123@YAHOO.COM")
    assert result.returncode != 0 and "GW_SIGNER_ID='ALICE123@YAHOO.COM'" in result.stderr
    assert "1234567812345678" in result.stderr
    gateway = command("gateway", "migrate", GW_SIGNER_ID="ALICE123@YAHOO.COM")
    assert gateway.returncode == 2 and "GW_SIGNER_ID" in gateway.stderr


@pytest.mark.skipif("gmssl" not in backends.available_backends(), reason="the gmssl backend is not installed")
def test_the_gateway_commands_use_the_configured_backend(tmp_path: Path) -> None:
    settings = Settings(crypto_backend="gmssl", data_dir=tmp_path)
    try:
        assert gateway_main(["migrate"], settings=settings) == 0
        assert backends.backend_name() == "gmssl"
    finally:
        backends.use_backend(None)
