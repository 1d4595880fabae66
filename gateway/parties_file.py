"""The parties file (GW_PARTIES_FILE): banks, developers, the tax bureau and utilities in one TOML file.

An operator keeps one entry per party, as `config/parties.sample.toml` shows:

```toml
[banks.icbc-dg]                  # participant code = its certificate's CN
adapter = "adapters.banks.soap_retcode:RetCodeSoapBank"
name = "中国工商银行股份有限公司东莞分行"
credit_code = "91441900MA4W00010X"   # GB 32100: what the register records for the bank
endpoint = "https://…"
certificate_file = "parties/icbc-dg.pem"  # relative to this file

[developers.dg-dev]              # submits contract filings; no adapter
name = "…"
credit_code = "…"

[tax]
adapter = "…"

[utilities.dg-water]
adapter = "…"
```

A bank's entry is both an institution (name and credit code, `Settings.institutions`) and its adapter
(`Settings.banks`), so the two can no longer disagree.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError

__all__ = ["PartiesFile", "read_parties_file"]

_SECTIONS = frozenset({"banks", "developers", "tax", "utilities"})


@dataclass(frozen=True)
class PartiesFile:
    """What one parties file holds, in the shapes of the settings it fills."""

    banks: dict[str, dict[str, Any]]
    tax: dict[str, Any]
    utilities: dict[str, dict[str, Any]]
    institutions: dict[str, dict[str, Any]]


def read_parties_file(path: Path) -> PartiesFile:
    """Read and shape `path`; relative certificate files resolve against the file's folder."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read the parties file {path}: {exc}", f"无法读取参与方配置 {path}：{exc}"
        ) from exc
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(unknown)}; expected banks, developers, tax, utilities",
            f"{path}：未知的配置节 {', '.join(unknown)}",
        )

    def resolved(entry: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        if isinstance(out.get("certificate_file"), str):
            out["certificate_file"] = str((path.parent / out["certificate_file"]).resolve())
        return out

    banks: dict[str, dict[str, Any]] = {}
    institutions: dict[str, dict[str, Any]] = {}
    for code, entry in data.get("banks", {}).items():
        adapter = resolved(entry)
        credit_code = adapter.pop("credit_code", None)
        if credit_code is None:
            raise ConfigError(
                f"{path}: [banks.{code}] needs credit_code (the bank as the register records it)",
                f"{path}：[banks.{code}] 缺少 credit_code（统一社会信用代码）",
            )
        institutions[code] = {"name": adapter.get("name", ""), "credit_code": credit_code, "kind": "bank"}
        banks[code] = adapter
    for code, entry in data.get("developers", {}).items():
        institutions[code] = {**entry, "kind": "developer"}
    utilities = {code: resolved(entry) for code, entry in data.get("utilities", {}).items()}
    return PartiesFile(banks, resolved(data.get("tax", {})), utilities, institutions)
