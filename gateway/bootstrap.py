"""The composition root: builds the `Container` of long-lived parts from `Settings`, once per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from redis.asyncio import Redis

from adapters.base import ManagedAdapter
from adapters.registry import Adapters
from certs import (
    CATrustStore,
    Certificate,
    CertificateAuthority,
    NonceStore,
    RedisNonceStore,
    RevocationState,
    SM2PrivateKey,
    TrustAnchor,
    TrustStore,
)
from e_license.seal import SAMPLE_SEAL_NAME, load_seal, sample_seal_png
from gateway.db import Database
from gateway.db.audit_chain import AuditSealer
from gateway.db.calendar_store import CalendarSource
from gateway.errors import GatewayError
from gateway.jobs.dispatch import ArqDispatcher, Dispatcher, EmbeddedDispatcher
from gateway.jobs.registry import JobContext, JobRegistry
from gateway.jobs.retry import RetryPolicy
from gateway.jobs.runner import DeliveryRunner
from gateway.jobs.sweeper import Sweeper
from gateway.logging import get_logger
from gateway.ports.utilities import UtilityProvider
from gateway.registry_keys import (
    REGISTRY_CODE,
    RegistryKeys,
    create_registry_key,
    load_registry_keys,
    registry_key_password,
)
from gateway.security.idempotency import IdempotencyStore
from gateway.security.nonces import DatabaseNonceStore
from gateway.security.users import UserDirectory
from gateway.services.context import ServiceContext
from gateway.settings import Settings
from gateway.wiring import build_parties, build_services, register_handlers

if TYPE_CHECKING:
    from arq.connections import ArqRedis

__all__ = ["Container", "build_container", "load_or_create_keys"]

log = get_logger("gateway.bootstrap")


@dataclass
class Container:
    """Every long-lived part of one gateway process. Built by `build_container`; tests build it directly.

    `open()` creates what needs a running event loop (HTTP client session, arq pool, the dispatcher task);
    `close()` releases everything. The aiohttp app does both in its cleanup_ctx; the worker does too.
    """

    settings: Settings
    database: Database
    redis: Redis | None
    trust: TrustStore
    nonces: NonceStore
    registry_key: SM2PrivateKey
    # The registry key's certificate: signs e-certificates, and checks uploaded ones (/public/api/v1/verify).
    registry_cert: Certificate | None = None
    # Every registry certificate the gateway has signed with (current first; gateway.registry_keys): an
    # uploaded file is checked against the one that signed it.
    registry_history: tuple[Certificate, ...] = ()
    # The registry's seal image (PNG or SVG) printed over 登记机构（章）; None: certificates carry no seal.
    registry_seal_image: bytes | None = None
    # The use cases (submit, review, 登簿 …) on this process's database; None only in framework tests.
    services: ServiceContext | None = None
    jobs: JobRegistry = field(default_factory=JobRegistry)
    adapters: Adapters = field(default_factory=Adapters)  # banks and the tax bureau
    utilities: dict[str, UtilityProvider] = field(default_factory=dict)  # water, power, gas, network
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time
    # Set by open():
    http: aiohttp.ClientSession | None = None
    arq_pool: ArqRedis | None = None
    runner: DeliveryRunner | None = None
    sweeper: Sweeper | None = None
    dispatcher: Dispatcher | None = None
    sealer: AuditSealer | None = None

    async def open(self, *, dispatch: bool = True) -> None:
        """Create the HTTP client, the delivery runner, the sweeper and (if `dispatch`) start the dispatcher
        and the audit sealer (which chains committed audit rows; gateway.db.audit_chain)."""
        jobs = self.settings.jobs
        await self._open_parties()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=jobs.job_timeout_seconds))
        parties = {"banks": self.adapters.banks, "tax": self.adapters.tax, "utilities": self.utilities}
        context = JobContext(self.database, self.http, self.registry_key, self.settings, parties)
        self.runner = DeliveryRunner(
            self.database, self.jobs, context, policy=self.retry_policy, job_timeout=jobs.job_timeout_seconds
        )
        housekeeping: tuple[IdempotencyStore | DatabaseNonceStore | UserDirectory, ...] = (
            IdempotencyStore(
                self.database, retention=timedelta(hours=self.settings.api.idempotency_retention_hours)
            ),
            UserDirectory(self.database),
            *([self.nonces] if isinstance(self.nonces, DatabaseNonceStore) else []),
        )
        if self.settings.redis_url:
            from arq.connections import ArqRedis

            from gateway.jobs.worker import arq_probe

            # Not arq's create_pool, which pings Redis and fails start-up while it is down: the API must
            # keep accepting cases (the outbox grows) and the dispatcher catches up once Redis is back.
            self.arq_pool = ArqRedis.from_url(self.settings.redis_url)
            self.sweeper = Sweeper(
                self.database,
                stale_after=jobs.stale_after_seconds,
                probe=arq_probe(self.arq_pool),
                housekeeping=housekeeping,
                outbox_retention=timedelta(days=jobs.outbox_retention_days),
            )
            self.dispatcher = ArqDispatcher(
                self.database,
                self.arq_pool,
                queue_name=jobs.arq_queue,
                max_queued=2 * jobs.arq_max_jobs,
                poll_interval=jobs.poll_interval_seconds,
                sweeper=self.sweeper,
                sweep_interval=jobs.sweep_interval_seconds,
            )
        else:
            self.sweeper = Sweeper(
                self.database,
                stale_after=jobs.stale_after_seconds,
                housekeeping=housekeeping,
                outbox_retention=timedelta(days=jobs.outbox_retention_days),
            )
            self.dispatcher = EmbeddedDispatcher(
                self.database,
                self.runner,
                concurrency=jobs.concurrency,
                poll_interval=jobs.poll_interval_seconds,
                sweeper=self.sweeper,
                sweep_interval=jobs.sweep_interval_seconds,
            )
        if dispatch:
            await self.dispatcher.start()
            self.sealer = AuditSealer(self.database, interval=jobs.audit_seal_interval_seconds)
            await self.sealer.start()

    async def _open_parties(self) -> None:
        """Start the adapters (sessions, WSDLs parsed once), load the calendar, bind the job handlers."""
        await self.adapters.start()
        for provider in self.utilities.values():
            if isinstance(provider, ManagedAdapter):
                await provider.start()
        if self.services is not None:
            calendar = CalendarSource(self.database, check_every=self.settings.calendar_check_seconds)
            self.services.calendar = await calendar.current()
            self.services.calendar_loader = calendar.current
            self.services.wake = self.wake_dispatcher
        register_handlers(self)

    def trusted_registry_certs(self) -> tuple[Certificate, ...]:
        """The registry certificates an uploaded certificate file may be signed with."""
        if self.registry_history:
            return self.registry_history
        return (self.registry_cert,) if self.registry_cert is not None else ()

    def wake_dispatcher(self) -> None:
        """Pass to `uow.after_commit` after writing outbox rows, so delivery starts at once."""
        if self.dispatcher is not None:
            self.dispatcher.wake()

    async def close(self) -> None:
        if self.sealer is not None:
            await self.sealer.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.http is not None:
            await self.http.close()
        await self.adapters.close()
        for provider in self.utilities.values():
            if isinstance(provider, ManagedAdapter):
                await provider.close()
        if self.arq_pool is not None:
            await self.arq_pool.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.database.dispose()


DEVELOPMENT_CA_NAME = "Gateway Development CA"  # what a first embedded run names the CA it makes


def load_or_create_keys(
    data_dir: Path, *, create: bool
) -> tuple[CertificateAuthority, SM2PrivateKey, Certificate]:
    """The gateway CA with its key (`data_dir/ca`) and the registry's signing key and certificate
    (`data_dir/registry`), for the embedded mode, the sandbox and the benches, which issue certificates.

    In the embedded mode (`create=True`) a development CA and registry key are made on first run.
    """
    _, keys = _load_or_create(data_dir, create=create)
    return CertificateAuthority.load(data_dir / "ca"), keys.key, keys.certificate


def _load_or_create(
    data_dir: Path, *, create: bool, registry_password: bytes | None = None
) -> tuple[TrustAnchor, RegistryKeys]:
    """The CA's public records and the registry keys. A running gateway never needs the CA's key, so in
    production it stays offline (docs/deployment.md): only ca.pem, serials.json, issued/ and revoked.json
    are read here."""
    ca_dir, registry_dir = data_dir / "ca", data_dir / REGISTRY_CODE
    if create and not (ca_dir / "ca.pem").exists():
        log.warning("creating a development CA", directory=str(ca_dir))
        CertificateAuthority.create(DEVELOPMENT_CA_NAME).save(ca_dir)
    if create and not (registry_dir / "registry.key").exists():
        create_registry_key(registry_dir, CertificateAuthority.load(ca_dir), ca_dir)
    return TrustAnchor.load(ca_dir), load_registry_keys(registry_dir, registry_password)


def registry_seal_image(settings: Settings) -> bytes | None:
    """The configured seal (checked now, not at the first 缮证); in the embedded mode a fake sample."""
    if settings.registry.seal_image is not None:
        return load_seal(settings.registry.seal_image)
    if not settings.is_embedded:
        return None
    sample = settings.data_dir / REGISTRY_CODE / SAMPLE_SEAL_NAME
    if not sample.exists():
        log.warning("creating a sample seal (样章, not valid)", path=str(sample))
        sample.parent.mkdir(parents=True, exist_ok=True)
        sample.write_bytes(sample_seal_png(settings.registry.name))
    return load_seal(sample)


def trust_from_ca(ca: TrustAnchor, revocations: RevocationState | None = None) -> CATrustStore:
    """Trust every participant certificate the CA issued and has not revoked (the newest per code wins)."""
    trust = CATrustStore(ca, revocations=revocations)
    for record in ca.issued():  # sorted by not_before, so a rollover's newer certificate is added last
        if record.party_kind in (REGISTRY_CODE, "ca") or ca.is_revoked(record.serial):
            continue
        try:
            trust.add(ca.issued_certificate(record.serial))
        except GatewayError as exc:
            log.warning("certificate not trusted", party=record.party_code, reason=exc.message_en)
    return trust


def build_container(settings: Settings, **overrides: Any) -> Container:
    """The production wiring from settings; keyword overrides replace parts (tests pass fakes or fixtures)."""
    database = overrides.pop("database", None) or Database(settings.effective_database_url())
    redis = overrides.pop("redis", None)
    if redis is None and settings.redis_url:
        redis = Redis.from_url(settings.redis_url)
    ca: TrustAnchor | None = None
    revocations: RevocationState | None = None  # one per process: inbound requests and adapters share it
    if "trust" not in overrides or "registry_key" not in overrides:
        ca, keys = _load_or_create(
            settings.data_dir, create=settings.is_embedded, registry_password=registry_key_password(settings)
        )
        revocations = RevocationState(ca)
        if "trust" not in overrides:
            overrides["trust"] = trust_from_ca(ca, revocations)
        if "registry_key" not in overrides:  # the certificate of that key, never of an overriding one
            overrides.setdefault("registry_cert", keys.certificate)
            overrides.setdefault("registry_history", keys.history)
        overrides.setdefault("registry_key", keys.key)
    if "registry_seal_image" not in overrides:
        overrides["registry_seal_image"] = registry_seal_image(settings)
    nonces = overrides.pop("nonces", None) or (
        RedisNonceStore(redis) if redis else DatabaseNonceStore(database)
    )
    overrides.setdefault("services", build_services(settings, database))
    if "adapters" not in overrides:
        overrides["adapters"], overrides["utilities"] = build_parties(
            settings, overrides["registry_key"], ca, revocations
        )
    return Container(settings=settings, database=database, redis=redis, nonces=nonces, **overrides)
