"""The registry's signing key and every certificate it has had: load, make on first run, rotate.

Layout under `data_dir/registry/`: `registry.key` (PKCS#8, 0600, encrypted with the first line of
GW_REGISTRY_KEY_PASSWORD_FILE when that is set) and `registry.pem`, the key in use and its certificate; `history/<SERIAL>.pem`, every registry certificate the gateway has signed with, kept for
good. The gateway CA's key is needed only to issue a new registry certificate (`rotate_registry_key`,
from the CA directory on its offline medium); running gateways read the CA's public records alone. A
certificate issued today is checked decades later against the registry certificate that signed it
(e_license.verify), so rotating the key never invalidates what the old one signed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from certs import Certificate, CertificateAuthority, SM2PrivateKey
from certs.keyfile import read_password_file
from gateway.errors import ConfigError, GatewayError
from gateway.logging import get_logger
from gateway.settings import Settings

__all__ = [
    "REGISTRY_CODE",
    "RegistryKeys",
    "create_registry_key",
    "load_registry_keys",
    "registry_key_password",
    "rotate_registry_key",
]

log = get_logger("gateway.registry_keys")
REGISTRY_CODE = "registry"
KEY_FILE, CERT_FILE, HISTORY_DIR = "registry.key", "registry.pem", "history"
DEFAULT_DAYS = 825  # the CA's default for participant certificates; capped by the root's own validity


@dataclass(frozen=True)
class RegistryKeys:
    """The key that signs now, its certificate, and every registry certificate ever used (current first)."""

    key: SM2PrivateKey
    certificate: Certificate
    history: tuple[Certificate, ...]


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _archive(registry_dir: Path, certificate: Certificate) -> None:
    history = registry_dir / HISTORY_DIR
    history.mkdir(parents=True, exist_ok=True)
    path = history / f"{certificate.serial:X}.pem"
    if not path.exists():
        _write_atomically(path, certificate.pem, 0o644)


def _history(registry_dir: Path) -> list[Certificate]:
    found: list[Certificate] = []
    for path in sorted((registry_dir / HISTORY_DIR).glob("*.pem")):
        try:
            found.append(Certificate.from_pem(path.read_bytes()))
        except GatewayError as exc:  # one unreadable file must not stop verification with the others
            log.warning("registry certificate not readable", path=str(path), reason=exc.message_en)
    return found


def registry_key_password(settings: Settings) -> bytes | None:
    """The first line of GW_REGISTRY_KEY_PASSWORD_FILE, read as OpenSSL's `-passin file:` reads it."""
    path = settings.registry_key_password_file
    if path is None:
        return None
    try:
        return read_password_file(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"GW_REGISTRY_KEY_PASSWORD_FILE {path} cannot be read: {exc.strerror}",
            f"无法读取 GW_REGISTRY_KEY_PASSWORD_FILE {path}：{exc.strerror}",
        ) from exc


def create_registry_key(registry_dir: Path, ca: CertificateAuthority, ca_dir: Path) -> None:
    """A first registry key and certificate from the gateway CA (the embedded mode's first run)."""
    key = SM2PrivateKey.generate()
    certificate = ca.issue(key.public_key, REGISTRY_CODE, REGISTRY_CODE)
    ca.save(ca_dir)
    registry_dir.mkdir(parents=True, exist_ok=True)
    _archive(registry_dir, certificate)
    _write_atomically(registry_dir / KEY_FILE, key.to_pem(), 0o600)
    _write_atomically(registry_dir / CERT_FILE, certificate.pem, 0o644)


def load_registry_keys(registry_dir: Path, password: bytes | None = None) -> RegistryKeys:
    """The key in use with its certificate, and the history; ConfigError when there is no key."""
    try:
        key = SM2PrivateKey.from_pem((registry_dir / KEY_FILE).read_bytes(), password)
        current = Certificate.from_pem((registry_dir / CERT_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no registry key in {registry_dir}: issue one with gw-certs and place registry.key/registry.pem",
            f"{registry_dir} 中没有登记机构签名密钥",
        ) from exc
    certificates = [current, *(c for c in _history(registry_dir) if c.fingerprint != current.fingerprint)]
    # registry.pem is written after registry.key by a rotation; after a crash in between, the key's
    # certificate is already in the history.
    matching = [c for c in certificates if c.public_key == key.public_key]
    certificate = max(matching, key=lambda c: c.not_before) if matching else current
    history = (certificate, *(c for c in certificates if c.fingerprint != certificate.fingerprint))
    return RegistryKeys(key, certificate, history)


def rotate_registry_key(
    data_dir: Path,
    *,
    days: int = DEFAULT_DAYS,
    ca_dir: Path | None = None,
    ca_password: bytes | None = None,
    key_password: bytes | None = None,
) -> tuple[Certificate, Certificate]:
    """A new registry key and certificate from the gateway CA; the old certificate stays trusted.

    `ca_dir` (default data_dir/ca) holds the CA key, decrypted with `ca_password`; the new registry key is
    written encrypted with `key_password` (and the old one read with it). Returns (old certificate, new
    certificate). Gateway processes sign with the new key once restarted.
    """
    registry_dir = data_dir / REGISTRY_CODE
    ca = CertificateAuthority.load(ca_dir or data_dir / "ca", ca_password)
    old = load_registry_keys(registry_dir, key_password)
    for certificate in old.history:  # also a registry.pem placed by hand before there was a history
        _archive(registry_dir, certificate)
    key = SM2PrivateKey.generate()
    new = ca.issue(key.public_key, REGISTRY_CODE, REGISTRY_CODE, days)
    ca.save(ca_dir or data_dir / "ca")
    _archive(registry_dir, new)  # first: a crash after it leaves the old key and certificate in use
    _write_atomically(registry_dir / KEY_FILE, key.to_pem(password=key_password), 0o600)
    _write_atomically(registry_dir / CERT_FILE, new.pem, 0o644)
    log.warning(
        "registry key rotated",
        old_serial=format(old.certificate.serial, "X"),
        new_serial=format(new.serial, "X"),
        not_after=new.not_after.isoformat(),
    )
    return old.certificate, new
