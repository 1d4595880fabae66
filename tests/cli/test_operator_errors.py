"""Ordinary operator mistakes end in one line in English and Chinese and a non-zero exit, never a traceback.

Each case runs the installed `gateway` command in a subprocess, as an operator would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_DSN, require_service


def gateway(
    tmp_path: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    base |= {"GW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "GW_DATA_DIR": str(tmp_path / "var")}
    command = Path(sys.executable).with_name("gateway")
    return subprocess.run(
        [str(command), *args],
        env=base | env,
        cwd=tmp_path,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_clear_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error:", "错误："))]
    assert len(errors) == 2, result.stderr  # one line in each language
    for word in words:
        assert word in result.stderr, result.stderr


def test_postgresql_unreachable(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{port}/test"
    for command in ("migrate", "serve"):
        assert_one_clear_error(gateway(tmp_path, command, GW_DATABASE_URL=url), "cannot reach", "无法连接")


def test_postgresql_database_missing(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    url = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/gw_no_such_database"
    assert_one_clear_error(
        gateway(tmp_path, "migrate", GW_DATABASE_URL=url), "does not exist", "数据库不存在"
    )


def test_serve_on_an_unmigrated_database_says_run_migrate(tmp_path: Path) -> None:
    assert_one_clear_error(gateway(tmp_path, "serve", "--port", "0"), "gateway migrate", "请先运行")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("GW_BANKS", "{not json", "GW_BANKS"),
        (
            "GW_INSTITUTIONS",
            '{"boc-dg": {"name": "中国银行", "credit_code": "91441900000000000X"}}',
            "credit_code",
        ),
        ("GW_LOG_LEVEL", "LOUD", "GW_LOG_LEVEL"),
    ],
)
def test_settings_that_do_not_parse_are_named(tmp_path: Path, variable: str, value: str, named: str) -> None:
    assert_one_clear_error(gateway(tmp_path, "migrate", **{variable: value}), named, "配置无效")


def test_a_data_directory_that_cannot_be_written(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data directory should be")
    result = gateway(tmp_path, "migrate", GW_DATA_DIR=str(blocked / "var"), GW_DATABASE_URL="")
    assert_one_clear_error(result, str(blocked), "无法使用")


def test_the_port_in_use(tmp_path: Path) -> None:
    assert gateway(tmp_path, "migrate").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_clear_error(
            gateway(tmp_path, "serve", "--port", str(port)), "port is in use", "端口已被占用"
        )


def test_users_add_without_a_terminal_or_password_stdin(tmp_path: Path) -> None:
    assert gateway(tmp_path, "migrate").returncode == 0
    result = gateway(tmp_path, "users", "add", "examiner-z", "--role", "examiner")
    assert_one_clear_error(result, "--password-stdin")
