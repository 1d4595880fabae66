"""A whole gateway for the utilities tests: migrated database with the demo register, the app on a loopback
server with the utility routes, the real dispatcher and job handlers, the simulated providers and a bank."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

import certs
from adapters.registry import Adapters, build_adapters
from adapters.utilities import build_utility_providers
from certs import FieldCipher
from gateway.api import create_app
from gateway.bootstrap import build_container
from gateway.db.database import Database
from gateway.db.tables.infra import OutboxRow
from gateway.domain.cases import TransferInput, UtilityAccount
from gateway.domain.parties import CoOwnership, Owner
from gateway.jobs.retry import RetryPolicy
from gateway.ports.utilities import UtilityService
from gateway.privacy import PersonalDataProtector
from gateway.seed import CERT_ZHANG, INSTITUTIONS, LIU_YANG, UNITS, ZHANG_WEI, seed_demo_register
from gateway.services import cases, effects, review, tracks
from gateway.services.context import ServiceContext
from gateway.settings import JobSettings, Settings
from sandbox.parties import Parties, start_parties
from sandbox.stage import portal_entry
from sandbox.story import submission
from sandbox.utilities import UtilityProviders
from tests.api.support import FakeClock, Reply, SignedClient
from tests.conftest import blob_store
from tests.utilities.support import Registry

BANK = "citic-dg"  # submits the transfer; its simulator speaks the REST resource format
OTHER_BANK = "dgb"
ADDRESS = (
    "广东省东莞市松山湖高新技术产业开发区科技大道1号松湖花园1栋101"  # the demo register's single_owner unit
)
ACCOUNTS = {
    UtilityService.WATER: "SW1020304",
    UtilityService.POWER: "DL5566778",
    UtilityService.GAS: "RQ7788990",
    UtilityService.NETWORK: "KD3344556",
}
# Short enough that a test sees retries; the parked rows' own horizons come from the adapters' settings.
FAST_RETRIES = RetryPolicy(schedule=(0, 0.2, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0), jitter=0.1)


# SM4 key and SM3 index key for ID numbers at rest, shared with worker processes of the same test.
PII_KEY, PII_INDEX = secrets.token_bytes(16), secrets.token_bytes(32)


def protector() -> PersonalDataProtector:
    return PersonalDataProtector(FieldCipher({"k1": PII_KEY}, current_key_id="k1", index_key=PII_INDEX))


async def service_context(url: str) -> ServiceContext:
    db = Database(url)
    await db.migrate()
    ctx = ServiceContext(db=db, protector=protector(), institutions=dict(INSTITUTIONS), blobs=blob_store())
    await seed_demo_register(ctx)
    return ctx


@dataclass
class Gateway:
    services: ServiceContext
    client: TestClient[Any, Any]
    providers: UtilityProviders
    banks: Parties
    registry: Registry
    settings: Settings
    adapter_config: dict[str, dict[str, Any]]

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def bank(self, code: str = BANK) -> SignedClient:
        server = self.banks.banks[code]
        return SignedClient(self.client, code, server.key, self.registry.key.public_key, FakeClock())

    def provider(self, code: str) -> SignedClient:
        key = self.providers.keys()[code]
        return SignedClient(self.client, code, key, self.registry.key.public_key, FakeClock())

    async def get(self, who: SignedClient, path: str) -> Reply:
        return await who.get(path)

    def notices(self, event: str, code: str = BANK) -> list[Any]:
        return [d for d in self.banks.banks[code].ledger.received("notification") if d.data["event"] == event]

    async def outbox(self, job: str = effects.UTILITY_TRANSFER) -> list[OutboxRow]:
        async with self.services.db.session() as session:
            rows = await session.execute(select(OutboxRow).where(OutboxRow.job == job))  # type: ignore[arg-type]
            return list(rows.scalars())


def open_accounts(providers: UtilityProviders, holder: str = ZHANG_WEI.name, **kwargs: Any) -> None:
    for service, account_no in ACCOUNTS.items():
        providers.open_account(service, account_no, ADDRESS, holder, **kwargs)


def transfer_input(services: tuple[UtilityService, ...] = tuple(ACCOUNTS)) -> TransferInput:
    """张伟 sells the single-owner flat to 刘洋; the counter records the four accounts (户号)."""
    return TransferInput(
        unit_code=UNITS.single_owner,
        ownership_certificate_number=CERT_ZHANG,
        sellers=[ZHANG_WEI],
        buyers=[Owner(party=LIU_YANG)],
        co_ownership=CoOwnership.SOLE,
        price=Decimal("1650000.00"),
        contract_no="WQ-2026-556677",
        contract_date=date(2026, 11, 20),
        seller_acquired_on=date(2019, 3, 1),
        seller_only_home=True,
        utilities=[
            UtilityAccount(
                provider=f"dg-{service.value}", service=service.value, account_no=ACCOUNTS[service]
            )
            for service in services
        ],
    )


async def register_transfer(
    ctx: ServiceContext, transfer: TransferInput | None = None, *, submitted: str | None = None
) -> str:
    """受理 (or the case `submitted` over the bank API) → review → taxes paid → 登簿, through the services;
    returns the case id."""
    if submitted is None:
        submitted = (await cases.submit(ctx, BANK, "松山湖支行", "clerk-07", transfer or transfer_input())).id
    case = await cases.get_case(ctx, submitted)
    await tracks.record_tax_assessment(
        ctx, case.id, {"assessment_id": "A-1", "total": "16500.00"}, actor="tax"
    )
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A-1", "voucher": "V-1"}, actor="tax")
    registered = await review.register(ctx, "registrar-c", case.id)
    return registered.id


@asynccontextmanager
async def running_gateway(
    registry: Registry,
    providers: UtilityProviders,
    url: str,
    tmp_path: Path,
    *,
    dispatch: bool = True,
    redis_url: str | None = None,
    jobs: JobSettings | None = None,
    pull: dict[str, Any] | None = None,
    retry_policy: RetryPolicy = FAST_RETRIES,
    portal: dict[str, dict[str, Any]] | None = None,
    **adapter_overrides: Any,
) -> AsyncIterator[Gateway]:
    """`portal`: providers configured as `portal` instead of their simulator's style ({code: settings})."""
    services = await service_context(url)
    banks = await start_parties(registry.ca, registry.certificate, banks=[BANK, OTHER_BANK], tax=False)
    trust = certs.CATrustStore(registry.ca)
    for certificate in [*banks.certificates().values(), *providers.certificates().values()]:
        trust.add(certificate)
    bank_adapters: Adapters = build_adapters(banks.adapter_config()["banks"], None, registry.context())
    config = providers.adapter_config(pull=pull, **adapter_overrides)
    config |= {code: portal_entry(providers, code, **extra) for code, extra in (portal or {}).items()}
    utility_adapters = build_utility_providers(config, registry.context())
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        redis_url=redis_url,
        jobs=jobs
        or JobSettings(poll_interval_seconds=0.05, sweep_interval_seconds=0.5, stale_after_seconds=15),
    )
    # The production wiring (gateway.wiring): the container starts the adapters and binds the handlers,
    # and the app mounts the utility routes on the container's services.
    container = build_container(
        settings,
        database=services.db,
        trust=trust,
        registry_key=registry.key,
        registry_cert=registry.certificate,
        services=services,
        adapters=bank_adapters,
        utilities=utility_adapters,
        retry_policy=retry_policy,
    )
    app = create_app(container, dispatch=dispatch)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    gateway = Gateway(services, client, providers, banks, registry, settings, config)
    await providers.attach_gateway(gateway.url)
    try:
        yield gateway
    finally:
        await providers.detach()
        await client.close()
        await banks.stop()


def worker_config(gateway: Gateway, directory: Path, schedule: tuple[float, ...]) -> Path:
    """The configuration a worker process (`tests.utilities.worker_process`) runs with: same database,
    Redis, keys, providers and banks as the gateway under test."""
    gateway.registry.ca.save(directory / "ca")
    settings = gateway.settings
    config = {
        "ca_dir": str(directory / "ca"),
        "data_dir": str(directory),
        "registry_key": gateway.registry.key.to_pem().decode(),
        "pii_key": PII_KEY.hex(),
        "pii_index": PII_INDEX.hex(),
        "database_url": settings.database_url,
        "redis_url": settings.redis_url,
        "jobs": settings.jobs.model_dump(),
        "schedule": list(schedule),
        "utilities": gateway.adapter_config,
        "banks": gateway.banks.adapter_config()["banks"],
        "ready_file": str(directory / "worker.ready"),
    }
    path = directory / "worker.json"
    path.write_text(json.dumps(config))
    return path


async def submit_over_http(gateway: Gateway, transfer: TransferInput | None = None) -> str:
    """The bank's counter submits the transfer with its utility accounts (户号) over the signed bank API."""
    reply = await gateway.bank().post(
        "/api/v1/cases", submission(transfer or transfer_input(), "松山湖支行", "柜员0707")
    )
    assert reply.status == 201, reply.body
    case_id: str = reply.json()["id"]
    return case_id
