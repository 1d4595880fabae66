"""Builds the configured adapters at start-up from an import path and validated settings.

Each is checked against its port (a Protocol) before anything runs: adding a bank is one configuration entry,
plus one module when it speaks a new wire format.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pydantic
from aiohttp import web

from adapters.base import AdapterContext, AdapterSettings, ManagedAdapter
from gateway.errors import ConfigError, NotFound
from gateway.ports import BankCoreSystem, TaxBureau

P = TypeVar("P")


def _config_error(entry: str, en: str, zh: str) -> ConfigError:
    return ConfigError(f"adapter {entry}: {en}", f"适配器 {entry}：{zh}")


def import_adapter_class(entry: str, path: str) -> type[Any]:
    """`package.module:Class` → the class; ConfigError naming the entry when it cannot be found."""
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise _config_error(
            entry, f"adapter {path!r} is not 'module:Class'", f"adapter {path!r} 应为 '模块:类'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _config_error(
            entry, f"cannot import {module_name}: {exc}", f"无法导入 {module_name}：{exc}"
        ) from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise _config_error(
            entry, f"{module_name} has no class {class_name}", f"{module_name} 中没有类 {class_name}"
        )
    return cls


def _port_members(port: type) -> dict[str, Any]:
    """The public members a Protocol declares (its own and its Protocol bases')."""
    members: dict[str, Any] = {}
    for base in reversed(port.__mro__):
        if base is object or not getattr(base, "_is_protocol", False):
            continue
        for name, value in vars(base).items():
            if not name.startswith("_"):
                members[name] = value
    return members


def check_against_port(entry: str, cls: type, port: type) -> None:
    """Every member of the port exists on the class with the same kind (async method, method, property)
    and the same parameters; a mismatch is a ConfigError at start-up, not an AttributeError at 3 a.m."""
    for name, wanted in _port_members(port).items():
        found = inspect.getattr_static(cls, name, None)
        if found is None:
            raise _config_error(
                entry, f"{cls.__name__} lacks {name} of {port.__name__}", f"{cls.__name__} 缺少 {name}"
            )
        if isinstance(wanted, property):
            if not isinstance(found, property):
                raise _config_error(entry, f"{cls.__name__}.{name} must be a property", f"{name} 应为属性")
            continue
        if not callable(found):
            raise _config_error(entry, f"{cls.__name__}.{name} is not a method", f"{name} 不是方法")
        if inspect.iscoroutinefunction(wanted) != inspect.iscoroutinefunction(found):
            kind = "async" if inspect.iscoroutinefunction(wanted) else "plain"
            raise _config_error(entry, f"{cls.__name__}.{name} must be {kind}", f"{name} 的同步/异步形式不符")
        wanted_params = list(inspect.signature(wanted).parameters)
        found_params = list(inspect.signature(found).parameters)
        if len(wanted_params) != len(found_params):
            raise _config_error(
                entry,
                f"{cls.__name__}.{name}{inspect.signature(found)} does not match the port's {inspect.signature(wanted)}",
                f"{name} 的参数与端口不符",
            )


def build_adapter(
    entry: str, code: str, config: Mapping[str, Any], port: type[P], context: AdapterContext
) -> P:
    """One adapter from its configuration entry: import, validate its own Settings, check the port, build."""
    path = config.get("adapter")
    if not isinstance(path, str):
        raise _config_error(entry, "missing 'adapter' (module:Class)", "缺少 adapter（模块:类）")
    cls = import_adapter_class(entry, path)
    settings_cls = getattr(cls, "Settings", None)
    if not (isinstance(settings_cls, type) and issubclass(settings_cls, AdapterSettings)):
        raise _config_error(
            entry, f"{cls.__name__} has no Settings model", f"{cls.__name__} 没有 Settings 模型"
        )
    try:
        settings = settings_cls.model_validate(dict(config))
    except pydantic.ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors())
        raise _config_error(entry, f"invalid settings: {reasons}", f"配置无效：{reasons}") from exc
    check_against_port(entry, cls, port)
    adapter: P = cls(code, settings, context)  # reads and checks the party certificate: ConfigError
    if not isinstance(adapter, ManagedAdapter):
        raise _config_error(
            entry, f"{cls.__name__} lacks start()/close()", f"{cls.__name__} 缺少 start()/close()"
        )
    return adapter


@dataclass
class Adapters:
    """Every configured adapter, started and closed together (aiohttp: `app.cleanup_ctx.append(adapters.cleanup_ctx)`)."""

    banks: dict[str, BankCoreSystem] = field(default_factory=dict)
    tax: TaxBureau | None = None

    def bank(self, code: str) -> BankCoreSystem:
        try:
            return self.banks[code]
        except KeyError:
            raise NotFound(
                f"no adapter configured for bank {code!r}", f"未配置银行 {code!r} 的适配器"
            ) from None

    def tax_bureau(self) -> TaxBureau:
        if self.tax is None:
            raise NotFound("no tax bureau adapter configured", "未配置税务适配器")
        return self.tax

    def _managed(self) -> list[ManagedAdapter]:
        found = [*self.banks.values(), *([self.tax] if self.tax is not None else [])]
        return [adapter for adapter in found if isinstance(adapter, ManagedAdapter)]

    async def start(self) -> None:
        """Start all (sessions, WSDLs parsed once); if one fails, close the others and raise."""
        managed = self._managed()
        results = await asyncio.gather(*(a.start() for a in managed), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            raise failures[0]

    async def close(self) -> None:
        await asyncio.gather(*(a.close() for a in self._managed()), return_exceptions=True)

    async def __aenter__(self) -> Adapters:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.close()


def build_adapters(
    banks: Mapping[str, Mapping[str, Any]], tax: Mapping[str, Any] | None, context: AdapterContext
) -> Adapters:
    """All adapters from `Settings.banks` (code → entry) and `Settings.tax` (one entry with its `code`)."""
    built = Adapters()
    for code, entry in banks.items():
        built.banks[code] = build_adapter(f"banks.{code}", code, entry, BankCoreSystem, context)  # type: ignore[type-abstract]
    if tax:
        entry = dict(tax)
        code = entry.pop("code", None)
        if not isinstance(code, str):
            raise _config_error(
                "tax", "missing 'code' (the bureau's participant code)", "缺少 code（税务参与方代码）"
            )
        built.tax = build_adapter(f"tax.{code}", code, entry, TaxBureau, context)  # type: ignore[type-abstract]
    return built
