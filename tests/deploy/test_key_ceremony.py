"""The key ceremony of docs/deployment.md, command by command: the CA key stays offline and encrypted, the
registry key is encrypted at rest, and a production gateway starts, serves and rotates its key that way."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from gateway.bootstrap import load_or_create_keys

BIN = Path(sys.executable).parent


def run(tool: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / tool), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{tool} {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def publish_public_part(ca_dir: Path, gateway_ca_dir: Path) -> None:
    """What the doc's rsync does: everything of the CA directory but its key (and its lock)."""
    shutil.copytree(ca_dir, gateway_ca_dir, ignore=shutil.ignore_patterns("ca.key", "ca.lock"))


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def test_a_production_gateway_runs_with_the_ca_key_offline_and_the_registry_key_encrypted(
    tmp_path: Path,
) -> None:
    offline, data = tmp_path / "offline", tmp_path / "var"
    offline.mkdir()
    (offline / "ca.pass").write_text("two people hold this one\n")
    registry_pass = tmp_path / "registry-key-password"
    registry_pass.write_text(secrets.token_urlsafe(24) + "\n")

    # On the offline CA machine.
    run(
        "gw-certs",
        "ca-init",
        "--dir",
        str(offline / "ca"),
        "--ca-password-file",
        str(offline / "ca.pass"),
        "--name",
        "东莞市不动产登记中心 网关根CA",
    )
    # On a gateway host: the registry key is made there, encrypted, and never leaves it.
    (data / "registry").mkdir(parents=True)
    key = data / "registry" / "registry.key"
    run("gw-certs", "genkey", "-o", str(key), "--password-file", str(registry_pass))
    csr = tmp_path / "registry.csr"
    run(
        "gw-certs",
        "csr",
        "--key",
        str(key),
        "--party",
        "registry",
        "--password-file",
        str(registry_pass),
        "-o",
        str(csr),
    )
    # The request goes to the CA machine; the certificate and the CA's public part come back.
    run(
        "gw-certs",
        "issue",
        "--dir",
        str(offline / "ca"),
        "--ca-password-file",
        str(offline / "ca.pass"),
        "--csr",
        str(csr),
        "--kind",
        "registry",
        "-o",
        str(data / "registry" / "registry.pem"),
    )
    publish_public_part(offline / "ca", data / "ca")
    assert not (data / "ca" / "ca.key").exists() and key.read_text().startswith("-----BEGIN ENCRYPTED")

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")} | {
        "GW_ENV": "production",
        "GW_DATA_DIR": str(data),
        "GW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}",
        "GW_PUBLIC_BASE_URL": "https://bdc.example.gov.cn",
        "GW_PII_KEYS": f'{{"2026a": "{secrets.token_hex(16)}"}}',
        "GW_PII_INDEX_KEY": secrets.token_hex(32),
        "GW_REGISTRY_KEY_PASSWORD_FILE": str(registry_pass),
        "GW_HTTP_PORT": str(port),
    }
    assert "0 error(s)" in run("gateway", "config", "check", env=env).stdout
    run("gateway", "migrate", env=env)
    server = subprocess.Popen([str(BIN / "gateway"), "serve"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready(port):
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0

    # Rotation: the CA directory is brought to the gateway host for the ceremony, then taken away again.
    before = (data / "registry" / "registry.pem").read_bytes()
    run(
        "gateway",
        "keys",
        "rotate-registry",
        "--ca-dir",
        str(offline / "ca"),
        "--ca-password-file",
        str(offline / "ca.pass"),
        env=env,
    )
    assert (data / "registry" / "registry.pem").read_bytes() != before
    assert key.read_text().startswith("-----BEGIN ENCRYPTED"), "the new key is encrypted at rest too"
    listing = run("gateway", "keys", "registry", env=env).stdout.splitlines()
    assert len(listing) == 2 and "in use" in listing[0] and "retired" in listing[1]
    assert "0 error(s)" in run("gateway", "config", "check", env=env).stdout


def test_production_refuses_a_registry_key_stored_in_clear(tmp_path: Path) -> None:
    load_or_create_keys(tmp_path / "var", create=True)  # what a first embedded run leaves: keys in clear
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")} | {
        "GW_ENV": "production",
        "GW_DATA_DIR": str(tmp_path / "var"),
    }
    result = subprocess.run(
        [str(BIN / "gateway"), "config", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert (
        "registry.key is not encrypted" in result.stdout and "GW_REGISTRY_KEY_PASSWORD_FILE" in result.stdout
    )
