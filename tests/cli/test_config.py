"""Settings that cannot be wrong silently: the parties file, the start-up checks, `gateway config check|show`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.bootstrap import load_or_create_keys
from gateway.config_checks import check_settings, variables
from gateway.settings import Settings

SAMPLE = Path(__file__).parents[2] / "config" / "parties.sample.toml"
README = Path(__file__).parents[2] / "README.md"


def gateway(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    base |= {"GW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "GW_DATA_DIR": str(tmp_path / "var")}
    command = Path(sys.executable).with_name("gateway")
    return subprocess.run(
        [str(command), *args], env=base | env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_the_sample_parties_file_gives_each_bank_its_institution_and_adapter() -> None:
    settings = Settings(parties_file=SAMPLE)
    assert len(settings.banks) == 17 and set(settings.banks) <= set(settings.institutions)
    icbc = settings.institutions["icbc-dg"]
    assert (icbc.kind, icbc.name) == ("bank", "中国工商银行股份有限公司东莞分行")
    assert "credit_code" not in settings.banks["icbc-dg"]  # the adapter's own settings forbid unknown keys
    assert settings.institutions["dg-dev"].kind == "developer"
    assert set(settings.utilities) == {"dg-water", "dg-power", "dg-gas", "dg-network"}
    assert settings.tax["code"] == "tax-dg"
    assert settings.banks["icbc-dg"]["certificate_file"] == str(SAMPLE.parent / "parties" / "icbc-dg.pem")
    assert [p for p in check_settings(settings, {}) if p.level == "error"] == []


def test_a_bank_without_an_adapter_or_an_adapter_without_an_institution_refuses_to_start(
    tmp_path: Path,
) -> None:
    icbc = Settings(parties_file=SAMPLE).institutions["icbc-dg"].model_dump()
    settings = Settings(
        institutions={"icbc-dg": icbc},
        banks={"dgb": {"adapter": "adapters.banks.rest_resource:ResourceRestBank"}},
    )
    messages = [p.message_en for p in check_settings(settings, {}) if p.level == "error"]
    assert any("dgb" in m and "not in GW_INSTITUTIONS" in m for m in messages)
    assert any("icbc-dg" in m and "no adapter" in m for m in messages)
    # … and `gateway serve` refuses, naming both, before it opens anything.
    result = gateway(
        tmp_path,
        "serve",
        GW_INSTITUTIONS=f'{{"icbc-dg": {{"name": "工行", "credit_code": "{icbc["credit_code"]}"}}}}',
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "icbc-dg" in result.stderr and "拒绝启动" in result.stderr


def test_production_names_every_unsafe_setting(tmp_path: Path) -> None:
    load_or_create_keys(tmp_path / "var", create=True)  # what a first embedded run makes
    result = gateway(tmp_path, "config", "check", GW_ENV="production", GW_PUBLC_BASE_URL="https://x")
    assert result.returncode == 1, result.stdout + result.stderr
    for expected in (
        "development CA",
        "ca.key is not encrypted",
        "GW_PII_KEYS is not set",
        "GW_PUBLIC_BASE_URL is http://127.0.0.1:8080",
        "GW_PUBLC_BASE_URL is not a setting",
    ):
        assert expected in result.stdout, expected
    served = gateway(tmp_path, "serve", GW_ENV="production")
    assert served.returncode == 2 and "refusing to start" in served.stderr and "拒绝启动" in served.stderr
    assert "Traceback" not in served.stderr


def test_a_missing_registry_key_in_production_is_named_not_created(tmp_path: Path) -> None:
    result = gateway(tmp_path, "config", "check", GW_ENV="production")
    assert result.returncode == 1 and "development ones would be created" in result.stdout
    assert not (tmp_path / "var" / "ca").exists()


def test_config_check_hides_secrets(tmp_path: Path) -> None:
    secret = "00112233445566778899aabbccddeeff"
    result = gateway(
        tmp_path, "config", "check", GW_PII_KEYS=f'{{"k1": "{secret}"}}', GW_PII_INDEX_KEY=secret * 2
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert secret not in result.stdout and '"k1": "**********"' in result.stdout


def test_config_show_env_lists_nested_variables_and_the_readme_documents_each() -> None:
    names = [name for name, _type, _meaning in variables()]
    assert {"GW_REGISTRY__NAME", "GW_API__MAX_UPLOAD_BYTES", "GW_JOBS__JOB_TIMEOUT_SECONDS"} <= set(names)
    readme = README.read_text(encoding="utf-8")
    undocumented = [name for name in names if f"`{name}`" not in readme]
    assert undocumented == []


@pytest.mark.parametrize("given", ["GW_TEST_REDIS_DB", "GW_BANKS__DGB"])
def test_variables_that_are_not_misspellings(given: str) -> None:
    assert check_settings(Settings(), {given: "1"}) == []
