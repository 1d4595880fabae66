"""The core's part of the composition root: services, the parties' adapters, and the job handlers."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import AdapterContext, GatewayIdentity
from adapters.registry import Adapters, build_adapters
from adapters.utilities import build_utility_providers
from certs import FieldCipher, RevocationState, SM2PrivateKey, TrustAnchor
from gateway.blobs import DirectoryBlobStore
from gateway.db import Database
from gateway.domain.parties import Institution
from gateway.errors import ConfigError
from gateway.logging import get_logger
from gateway.ports.utilities import UtilityProvider
from gateway.privacy import PersonalDataProtector
from gateway.services.certification import RegistrySeal, certification_handlers
from gateway.services.context import ServiceContext
from gateway.services.deliveries import Deliveries
from gateway.services.utilities.delivery import UtilityDeliveries
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.bootstrap import Container

__all__ = ["build_parties", "build_services", "personal_data_cipher", "register_handlers"]

log = get_logger("gateway.wiring")


def personal_data_cipher(settings: Settings) -> FieldCipher:
    """The SM4 keys for ID numbers at rest: from settings in production; made once in data_dir when embedded."""
    if settings.pii_keys:
        if settings.pii_index_key is None:
            raise ConfigError(
                "GW_PII_INDEX_KEY is required with GW_PII_KEYS",
                "配置了 GW_PII_KEYS 时须配置 GW_PII_INDEX_KEY",
            )
        keys = {k: bytes.fromhex(v.get_secret_value()) for k, v in settings.pii_keys.items()}
        current = settings.pii_current_key_id or sorted(keys)[-1]
        return FieldCipher(
            keys, current_key_id=current, index_key=bytes.fromhex(settings.pii_index_key.get_secret_value())
        )
    path = settings.data_dir / "keys" / "pii.json"
    if not settings.is_embedded:
        # Several processes on one machine (the PostgreSQL + Redis walk) share the file; a real deployment
        # gives the keys through GW_PII_KEYS from its secret store.
        log.warning("no GW_PII_KEYS configured: using development keys", path=str(path))
    if not path.exists():
        _write_private(
            path, {"current": "k1", "keys": {"k1": secrets.token_hex(16)}, "index": secrets.token_hex(32)}
        )
    stored = json.loads(path.read_text())
    keys = {k: bytes.fromhex(v) for k, v in stored["keys"].items()}
    return FieldCipher(keys, current_key_id=stored["current"], index_key=bytes.fromhex(stored["index"]))


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
    )  # never readable by others, never clobbered
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)


def build_services(settings: Settings, database: Database, **overrides: Any) -> ServiceContext:
    institutions = {
        code: Institution(code=code, name=entry.name, credit_code=entry.credit_code)
        for code, entry in settings.institutions.items()
    }
    protector = overrides.pop("protector", None) or PersonalDataProtector(personal_data_cipher(settings))
    overrides.setdefault("blobs", DirectoryBlobStore(settings.effective_blob_dir()))
    return ServiceContext(
        db=database, protector=protector, registry=settings.registry, institutions=institutions, **overrides
    )


def build_parties(
    settings: Settings,
    registry_key: SM2PrivateKey,
    ca: TrustAnchor | None,
    revocations: RevocationState | None = None,
) -> tuple[Adapters, dict[str, UtilityProvider]]:
    """Every configured bank, tax and utility adapter, validated now (ConfigError naming the entry).

    `revocations` is the process's live revocation state, the one the inbound trust store consults: each
    reply a party signs is checked against it, so a revoked party is refused without a restart.
    """
    context = AdapterContext(GatewayIdentity(registry_key), ca, revocations)
    adapters = build_adapters(settings.banks, settings.tax or None, context)
    return adapters, build_utility_providers(settings.utilities, context)


def register_handlers(container: Container) -> None:
    """Bind the job handlers to this process's services and adapters (once; `open()` may run again)."""
    services = container.services
    if services is None:
        return
    handlers = {
        **Deliveries(services, banks=container.adapters.banks, tax=container.adapters.tax).handlers(),
        **UtilityDeliveries(services, container.utilities, wake=container.wake_dispatcher).handlers(),
    }
    if container.registry_cert is not None:
        seal = RegistrySeal(
            container.registry_key,
            container.registry_cert,
            container.settings.public_base_url,
            seal_image=container.registry_seal_image,
        )
        handlers.update(certification_handlers(services, seal))
    for name, handler in handlers.items():
        if name not in container.jobs:
            container.jobs.register(name, handler)
