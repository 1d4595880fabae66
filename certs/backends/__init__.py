"""Which SM2 implementation is in use: discovery, the default by measurement, and the override.

Preference (bench/bench_crypto.py, reference/crypto.md): tongsuopy (fastest here, and the only one that
releases the GIL, so two threads use both cores), then gmssl_pyx (C, any signer ID, actively released),
then the pure-Python gmssl (portable, about 50 signatures/s). tongsuopy cannot use a signer ID other than
the default; such calls go to the first installed backend that can.
"""

from __future__ import annotations

import importlib
import threading
from functools import cache

from certs.backends.base import SM2Backend
from certs.curve import DEFAULT_SIGNER_ID
from gateway.errors import ConfigError

PREFERENCE: tuple[str, ...] = ("tongsuopy", "gmssl_pyx", "gmssl")

_MODULES = {
    "tongsuopy": ("certs.backends.tongsuo", "TongsuoBackend"),
    "gmssl_pyx": ("certs.backends.gmssl_pyx", "GmsslPyxBackend"),
    "gmssl": ("certs.backends.gmssl_pure", "GmsslPureBackend"),
}

_lock = threading.Lock()
_selected: SM2Backend | None = None


@cache
def _load(name: str) -> SM2Backend | None:
    module_name, class_name = _MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    backend: SM2Backend = getattr(module, class_name)()
    return backend


def available_backends() -> list[str]:
    """Names of the installed backends, in order of preference."""
    return [name for name in PREFERENCE if _load(name) is not None]


def get_backend(name: str) -> SM2Backend:
    """One backend by name (tests and the benchmark call them side by side)."""
    if name not in _MODULES:
        raise ConfigError(
            f"unknown crypto backend {name!r}; choose one of {', '.join(PREFERENCE)}",
            f"未知的密码后端 {name!r}，可选：{'、'.join(PREFERENCE)}",
        )
    backend = _load(name)
    if backend is None:
        raise ConfigError(
            f"crypto backend {name!r} is not installed", f"密码后端 {name!r} 未安装（pip install {name}）"
        )
    return backend


def use_backend(name: str | None) -> SM2Backend:
    """Select the backend by name (settings.crypto_backend), or None for the default; returns it."""
    global _selected
    if name is None:
        names = available_backends()
        if not names:
            raise ConfigError("no SM2 backend is installed", "未安装任何 SM2 密码后端")
        backend = get_backend(names[0])
    else:
        backend = get_backend(name)
    with _lock:
        _selected = backend
    return backend


def current() -> SM2Backend:
    selected = _selected
    return selected if selected is not None else use_backend(None)


def backend_name() -> str:
    """The name of the backend in use, e.g. "tongsuopy"."""
    return current().name


def for_signer_id(signer_id: bytes) -> SM2Backend:
    """The backend for this signer ID: the selected one, or the first that supports a non-default ID."""
    backend = current()
    if signer_id == DEFAULT_SIGNER_ID or backend.any_signer_id:
        return backend
    for name in available_backends():
        candidate = get_backend(name)
        if candidate.any_signer_id:
            return candidate
    raise ConfigError(
        "no installed SM2 backend supports a signer ID other than 1234567812345678",
        "已安装的 SM2 密码后端均不支持非默认签名者标识",
    )
