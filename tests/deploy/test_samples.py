"""The deployment samples in deploy/ are what the tools accept: systemd units (`systemd-analyze verify`), the
nginx site (`nginx -t`) and the environment file (every variable a setting, every value parsed)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config_checks import unknown_variables
from gateway.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.t*"))
SYSTEM_UNITS = Path("/lib/systemd/system")


def needs(tool: str, why: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if path is None:
        pytest.skip(f"{tool} is not installed ({why})")
    return path


def environment_file() -> dict[str, str]:
    """deploy/systemd/gateway.env read with shell quoting, as systemd's EnvironmentFile= reads it."""
    values: dict[str, str] = {}
    for line in (DEPLOY / "systemd" / "gateway.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            (assignment,) = shlex.split(line)
            name, _, value = assignment.partition("=")
            values[name] = value
    return values


def test_the_environment_sample_names_only_settings_and_every_value_parses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = environment_file()
    assert unknown_variables(values) == []
    assert values["GW_ENV"] == "production" and values["GW_PUBLIC_BASE_URL"].startswith("https://")
    for name in ("GW_DATABASE_URL", "GW_REDIS_URL", "GW_PII_KEYS", "GW_PARTIES_FILE", "GW_METRICS_ADDRESS"):
        assert name in values, name
    for name in [n for n in os.environ if n.startswith("GW_") and not n.startswith("GW_TEST_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        if name != "GW_PARTIES_FILE":  # /etc/gateway/parties.toml is the host's, not here
            filled = value.replace("REPLACE-WITH-32-HEX", "0" * 32).replace("REPLACE-WITH-64-HEX", "1" * 64)
            monkeypatch.setenv(name, filled)
    settings = Settings()
    assert settings.env == "production" and list(settings.pii_keys) == [settings.pii_current_key_id]
    assert settings.api.max_upload_bytes == 24 * 1024 * 1024
    assert [str(n) for n in settings.api.trusted_proxies] == ["127.0.0.1/32", "::1/128"]


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = needs("systemd-analyze", "Debian package systemd")
    if not SYSTEM_UNITS.is_dir():
        pytest.skip(f"{SYSTEM_UNITS} is missing: systemd's own units are needed to resolve the dependencies")
    # A root holding systemd's units, ours and the program they start (verify checks ExecStart= exists).
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    installed = root / "etc/systemd/system"
    installed.mkdir(parents=True)
    program = root / "opt/gateway/venv/bin/gateway"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    paths = []
    for unit in UNITS:
        shutil.copy(unit, installed / unit.name)
        # A template is verified as an instance of it. Paths, not names: by name, systemd 252 does not
        # print the warnings of the files it loads under --root.
        paths.append(installed / unit.name.replace("@.service", "@1.service"))
        shutil.copy(unit, paths[-1])
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    if "Failed to initialize" in result.stderr or "System has not been booted" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    # Warnings (an unknown key, a bad value) are printed but do not change the exit status: none allowed.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), result.stderr


def test_the_units_harden_and_restart_every_process() -> None:
    for name in ("gateway-serve.service", "gateway-worker@.service"):
        text = (DEPLOY / "systemd" / name).read_text()
        for line in (
            "Restart=always",
            "User=gateway",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/gateway",
            "PrivateTmp=yes",
            "EnvironmentFile=/etc/gateway/gateway.env",
        ):
            assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), (name, line)


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = needs("nginx", "Debian package nginx; not installed in CI")
    openssl = needs("openssl", "scripts/install-system-deps.sh installs it")
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=bdc.example.gov.cn",
            "-keyout",
            str(tls / "privkey.pem"),
            "-out",
            str(tls / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = (DEPLOY / "nginx" / "gateway.conf").read_text()
    site = site.replace("/etc/gateway/tls/", f"{tls}/").replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "gateway.conf").write_text(site)
    # What /etc/nginx/nginx.conf gives a conf.d file, with every path in tmp_path.
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
        f"  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  fastcgi_temp_path {tmp_path}/fastcgi;\n  uwsgi_temp_path {tmp_path}/uwsgi;\n"
        f"  scgi_temp_path {tmp_path}/scgi;\n  access_log off;\n  include {tmp_path}/gateway.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_nginx_site_matches_the_gateway_settings() -> None:
    site = (DEPLOY / "nginx" / "gateway.conf").read_text()
    api = Settings().api
    body = re.search(r"client_max_body_size (\d+)m;", site)
    assert body and int(body.group(1)) * 1024 * 1024 == api.max_upload_bytes
    for timeout in re.findall(r"proxy_(?:read|send)_timeout (\d+)s;", site):
        assert int(timeout) > api.request_timeout_seconds
    assert "proxy_http_version 1.1;" in site and "X-Forwarded-For" in site and "X-Forwarded-Proto" in site
    assert re.search(r"location = /metrics \{\s*return 404;", site)


def test_gateway_admin_runs_a_command_with_the_environment_file(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("gateway-admin runs as root (runuser)")
    root = Path(__file__).resolve().parents[2]
    sample = (DEPLOY / "systemd" / "gateway.env").read_text()
    env_file = tmp_path / "gateway.env"
    env_file.write_text(
        sample.replace("REPLACE-WITH-32-HEX", "ab" * 16)
        .replace("REPLACE-WITH-64-HEX", "cd" * 32)
        .replace("/etc/gateway/parties.toml", str(root / "config" / "parties.sample.toml"))
        .replace("/var/lib/gateway", str(tmp_path))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")} | {
        "GATEWAY_ENV_FILE": str(env_file),
        "GATEWAY_USER": "root",
        "GATEWAY_BIN": str(Path(sys.executable).with_name("gateway")),
        "GATEWAY_CREDENTIAL": str(tmp_path / "none.cred"),
    }
    result = subprocess.run(
        [str(DEPLOY / "gateway-admin"), "config", "show"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert '"env": "production"' in result.stdout and '"2026a": "**********"' in result.stdout
    assert "ab" * 16 not in result.stdout
