"""Start-up checks: settings that would go wrong silently are named before the gateway serves anything.

`gateway serve` and `gateway worker` run them and refuse to start on an error; `gateway config check` runs
them and prints the effective settings. Some are errors everywhere (a bank whose cases could never finish);
the rest are errors with `GW_ENV=production` and warnings in development, where the embedded default
makes its own CA and keys on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from gateway.settings import Settings

__all__ = ["Problem", "check_settings", "enforce", "unknown_variables", "variables"]

DEFAULT_PUBLIC_BASE_URL = Settings.model_fields["public_base_url"].default
_IGNORED_PREFIXES = ("GW_TEST_",)  # the test suite's own variables (tests/conftest.py)


@dataclass(frozen=True)
class Problem:
    level: Literal["error", "warning"]
    message_en: str
    message_zh: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message_en} / {self.message_zh}"


def check_settings(settings: Settings, environ: Mapping[str, str]) -> list[Problem]:
    """Every start-up problem, errors first; `environ` is scanned for misspelled GW_ variables."""
    production = settings.env == "production"
    strict: Literal["error", "warning"] = "error" if production else "warning"
    found = [*_parties(settings)]
    if production:  # the embedded default makes its own CA and keys on purpose, and serves on loopback
        found += [*_keys(settings), *_public_url(settings)]
    found += [
        Problem(strict, f"{name} is not a setting (misspelled?)", f"{name} 不是有效的配置项（拼写错误？）")
        for name in unknown_variables(environ)
    ]
    return sorted(found, key=lambda p: p.level != "error")


def _parties(settings: Settings) -> Iterator[Problem]:
    banks = {code for code, entry in settings.institutions.items() if entry.kind == "bank"}
    for code in sorted(set(settings.banks) - set(settings.institutions)):
        yield Problem(
            "error",
            f"bank {code} has an adapter but is not in GW_INSTITUTIONS: every submission it signs would get 403",
            f"银行 {code} 配置了适配器但不在 GW_INSTITUTIONS 中：其提交的每个案件都会被拒绝（403）",
        )
    for code in sorted(banks - set(settings.banks)):
        yield Problem(
            "error",
            f"bank {code} is an institution with no adapter in GW_BANKS: its cases would wait for ever",
            f"银行 {code} 已登记为机构但没有适配器（GW_BANKS）：其案件将无法办结",
        )


def _keys(settings: Settings) -> Iterator[Problem]:
    ca_dir, registry_dir = settings.data_dir / "ca", settings.data_dir / "registry"
    if not (ca_dir / "ca.pem").exists() or not (registry_dir / "registry.key").exists():
        # The embedded default makes them on first run; production must be given its own.
        yield Problem(
            "error",
            f"no CA or registry key in {settings.data_dir}: development ones would be created",
            f"{settings.data_dir} 中没有 CA 或登记机构密钥：将生成开发用密钥",
        )
    else:
        from certs import Certificate
        from gateway.bootstrap import DEVELOPMENT_CA_NAME

        if DEVELOPMENT_CA_NAME in Certificate.from_pem((ca_dir / "ca.pem").read_bytes()).subject:
            yield Problem(
                "error",
                f"{ca_dir} holds the development CA made by a first run",
                f"{ca_dir} 中是首次运行生成的开发用 CA",
            )
        key_file = ca_dir / "ca.key"
        if key_file.exists() and b"ENCRYPTED" not in key_file.read_bytes()[:64]:
            yield Problem("error", f"{key_file} is not encrypted", f"{key_file} 未加密")
        registry_key = registry_dir / "registry.key"
        if b"ENCRYPTED" not in registry_key.read_bytes()[:64]:
            yield Problem(
                "error",
                f"{registry_key} is not encrypted: encrypt it (openssl pkcs8 -topk8 -passout file:…) and give "
                "GW_REGISTRY_KEY_PASSWORD_FILE",
                f"{registry_key} 未加密：请加密并配置 GW_REGISTRY_KEY_PASSWORD_FILE",
            )
    if not settings.pii_keys:
        yield Problem(
            "error",
            "GW_PII_KEYS is not set: development keys in the data directory would encrypt ID numbers",
            "未配置 GW_PII_KEYS：将使用数据目录中的开发用密钥加密身份证号",
        )


def _public_url(settings: Settings) -> Iterator[Problem]:
    url = settings.public_base_url
    if url == DEFAULT_PUBLIC_BASE_URL or not url.startswith("https://"):
        yield Problem(
            "error",
            f"GW_PUBLIC_BASE_URL is {url}: it is printed in every certificate's QR code for ever; give the "
            "registry's public https address",
            f"GW_PUBLIC_BASE_URL 为 {url}：它将永久印在每本证书的二维码中，请配置登记机构对外的 https 地址",
        )


def variables() -> list[tuple[str, str, str]]:
    """(variable, type, meaning) of every setting, nested ones as GW_API__… — `gateway config show --env`."""
    return list(_walk(Settings, "GW_"))


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str]]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        variable = prefix + name.upper()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation is not Settings:
            yield variable, "JSON", field.description or (annotation.__doc__ or "").strip().splitlines()[0]
            yield from _walk(annotation, variable + "__")
        else:
            yield variable, _type_name(annotation), field.description or ""


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " | ".join(str(choice) for choice in get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("pydantic.types.", "").replace("pathlib.", "")


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """GW_ variables that name no setting. A mapping's entries may be given one by one (GW_BANKS__DGB)."""
    known = {name for name, _type, _meaning in variables()}
    mappings = tuple(f"{name}__" for name, kind, _meaning in variables() if kind.startswith("dict"))
    return sorted(
        name
        for name in environ
        if name.startswith("GW_") and not name.startswith(_IGNORED_PREFIXES + mappings) and name not in known
    )


def enforce(settings: Settings, environ: Mapping[str, str]) -> list[Problem]:
    """Refuse to start (ConfigError naming every error) or return the warnings for the caller to log."""
    from gateway.errors import ConfigError

    problems = check_settings(settings, environ)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ConfigError(
            "refusing to start: " + "; ".join(p.message_en for p in errors),
            "拒绝启动：" + "；".join(p.message_zh for p in errors),
        )
    return problems
