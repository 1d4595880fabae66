"""The whole story on one machine: the gateway, the simulated banks, tax bureau and utilities, seeded alike.

Used by the demo (`gateway demo`) and the end-to-end tests. The gateway runs in this process (the embedded
default, or PostgreSQL + Redis in-process), or as separate processes — `gateway serve --workers N` and N
`gateway worker`s — configured through the same environment variables an operator would set.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from certs import Certificate, SM2PublicKey
from gateway.api import create_app
from gateway.bootstrap import Container, build_container, load_or_create_keys
from gateway.client import BackofficeClient, GatewayClient
from gateway.db import Database
from gateway.jobs.retry import RetryPolicy
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import (
    CHEN_JING,
    DEVELOPER,
    INSTITUTIONS,
    LI_NA,
    LIU_YANG,
    SUN_LI,
    UNITS,
    WANG_QIANG,
    ZHANG_WEI,
    seed_demo_register,
)
from gateway.services.context import ServiceContext
from gateway.settings import Settings
from gateway.wiring import personal_data_cipher
from sandbox.hangs import pending_tasks
from sandbox.parties import Parties, start_parties
from sandbox.utilities import UtilityProviders
from sandbox.utilities.launcher import GAS, WATER, start_utilities

__all__ = ["DEMO_PASSWORD", "PORTAL_USERS", "STAFF", "Stage", "StageHung", "StageOptions"]

DEMO_PASSWORD = "demo-password-2026"
# Back-office staff of the demo registry: username → roles.
STAFF: dict[str, tuple[Role, ...]] = {
    "examiner-a": (Role.EXAMINER,),
    "senior-b": (Role.SENIOR_EXAMINER,),
    "registrar-c": (Role.REGISTRAR,),
    "supervisor-d": (Role.SUPERVISOR, Role.ADMIN),
}
# People of the portals: (roles, institution, branch). 中国银行 and 工商银行 counters, and the gas company.
PORTAL_USERS: dict[str, tuple[tuple[Role, ...], str, str | None]] = {
    "boc-admin": ((Role.BANK_ADMIN,), "boc-dg", None),
    "boc-clerk": ((Role.BANK_CLERK,), "boc-dg", "东莞分行营业部"),
    "boc-supervisor": ((Role.BRANCH_SUPERVISOR,), "boc-dg", "东莞分行营业部"),
    "icbc-clerk": ((Role.BANK_CLERK,), "icbc-dg", "东莞分行营业部"),
    "gas-staff": ((Role.PROVIDER_STAFF,), GAS, None),
    "water-staff": ((Role.PROVIDER_STAFF,), WATER, None),
}
TRANSFER_ADDRESS = "广东省东莞市松山湖高新技术产业开发区科技大道1号松湖花园1栋102"
UTILITY_ACCOUNTS = {"water": "SW1020304", "power": "DL5566778", "gas": "RQ7788990", "network": "KD3344556"}


STOP_BOUND = 90.0  # seconds a part may take to stop: its own bounds are shorter (children 20 s, requests 5 s)


class StageHung(RuntimeError):
    """A part of the stage did not stop within STOP_BOUND seconds; the message says what was still waiting."""


async def _bounded(part: str, stopping: Coroutine[Any, Any, None]) -> str | None:
    """Run `stopping` for at most STOP_BOUND seconds; on overrun, a report of every task still pending (the
    part's own first: it runs as a task of its own so that its awaits can be read before it is cancelled)."""
    task = asyncio.create_task(stopping, name=f"stopping {part}")
    done, _ = await asyncio.wait({task}, timeout=STOP_BOUND)
    if done:
        task.result()
        return None
    report = f"{part} did not stop within {STOP_BOUND:g} s; still waiting:\n{pending_tasks()}"
    task.cancel()
    await asyncio.wait({task}, timeout=1)
    return report


def portal_entry(utilities: UtilityProviders, code: str, **overrides: Any) -> dict[str, Any]:
    """A provider's entry as a `portal` provider: its name, and its certificate (the pull API stays open)."""
    provider = utilities.all[code]
    return {
        "adapter": "adapters.utilities.portal:PortalProvider",
        "name": provider.name,
        "certificate_pem": provider.certificate.pem.decode(),
        **overrides,
    }


def reserve_port() -> socket.socket:
    """A socket bound to a free loopback port and held, so that the parties' servers, which start
    before the gateway listens, cannot be given the same port (a port probed and released could be)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    return listener


@dataclass
class StageOptions:
    data_dir: Path
    database_url: str | None = None  # None: SQLite in data_dir (the embedded default)
    redis_url: str | None = None  # None: in-process delivery
    processes: int = 0  # 0: the gateway in this process; N: N serve processes + N workers
    log_level: str = "WARNING"
    # In-process only: a shorter retry schedule, so a test sees a party's outage end within seconds.
    retry_policy: RetryPolicy | None = None
    # Providers configured as `portal` instead of their simulator's style: nothing is pushed to them, their
    # jobs wait for their staff at /provider/jobs (the demo's story keeps all four simulators automatic).
    portal: tuple[str, ...] = ()


@dataclass
class Stage:
    options: StageOptions
    settings: Settings
    base_url: str
    parties: Parties
    utilities: UtilityProviders
    session: aiohttp.ClientSession
    container: Container | None = None
    runner: web.AppRunner | None = None
    children: list[asyncio.subprocess.Process] = field(default_factory=list)
    listener: socket.socket | None = None  # the gateway's port, held until the gateway listens on it

    # --- lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def start(cls, options: StageOptions) -> Stage:
        data_dir = options.data_dir
        listener = reserve_port()
        port = int(listener.getsockname()[1])
        base_url = f"http://127.0.0.1:{port}"
        ca, _registry_key, registry_cert = load_or_create_keys(data_dir, create=True)
        parties = await start_parties(
            ca, registry_cert, tax_callback_url=f"{base_url}/callbacks/v1/tax/payment-cleared"
        )
        utilities = await start_utilities(ca, registry_cert)
        ca.save(data_dir / "ca")  # the gateway (and its other processes) trust what the CA issued
        config = parties.adapter_config()
        settings = Settings(
            data_dir=data_dir,
            database_url=options.database_url,
            redis_url=options.redis_url,
            http_port=port,
            public_base_url=base_url,
            institutions={
                c: {
                    "name": i.name,
                    "credit_code": i.credit_code,
                    "kind": "developer" if c == DEVELOPER.code else "bank",
                }
                for c, i in INSTITUTIONS.items()
            },
            banks=config["banks"],
            tax=config["tax"],
            utilities=utilities.adapter_config()
            | {code: portal_entry(utilities, code) for code in options.portal},
            log_level=options.log_level,
        )
        stage = cls(
            options, settings, base_url, parties, utilities, aiohttp.ClientSession(), listener=listener
        )
        try:
            await stage._prepare_database()
            if options.processes:
                await stage._start_processes(options.processes)
            else:
                await stage._start_in_process()
            await utilities.attach_gateway(base_url)
            stage._open_books()
        except BaseException:
            await stage.stop()
            raise
        return stage

    async def _prepare_database(self) -> None:
        """Migrate, seed the demo register and the back-office staff (idempotent: a second run reuses them)."""
        container = build_container(self.settings)
        try:
            await container.database.migrate(personal_data_cipher(self.settings))
            assert container.services is not None
            await seed_demo_register(container.services)
            users = UserDirectory(container.database)
            people = {u: (roles, None, None) for u, roles in STAFF.items()} | PORTAL_USERS
            for username, (roles, institution, branch) in people.items():
                try:
                    await users.get(username)
                except Exception:
                    await users.add(
                        username,
                        DEMO_PASSWORD,
                        roles,
                        display_name=username,
                        institution=institution,
                        branch=branch,
                    )
        finally:
            await container.database.dispose()

    async def _start_in_process(self) -> None:
        extra = {"retry_policy": self.options.retry_policy} if self.options.retry_policy else {}
        self.container = build_container(self.settings, **extra)
        # A request still running at the stop is cut after 5 s, not aiohttp's 60: nothing here waits on one.
        self.runner = web.AppRunner(create_app(self.container), access_log=None, shutdown_timeout=5)
        await self.runner.setup()
        assert self.listener is not None
        listener, self.listener = self.listener, None
        await web.SockSite(self.runner, listener).start()

    def environment(self) -> dict[str, str]:
        """The settings as an operator would give them: GW_* environment variables."""
        s = self.settings
        env = {
            "GW_DATA_DIR": str(s.data_dir),
            "GW_HTTP_HOST": "127.0.0.1",
            "GW_HTTP_PORT": str(s.http_port),
            "GW_PUBLIC_BASE_URL": s.public_base_url,
            "GW_LOG_LEVEL": s.log_level,
            "GW_INSTITUTIONS": json.dumps(
                {k: v.model_dump() for k, v in s.institutions.items()}, ensure_ascii=False
            ),
            "GW_BANKS": json.dumps(s.banks, ensure_ascii=False, default=str),
            "GW_TAX": json.dumps(s.tax, ensure_ascii=False, default=str),
            "GW_UTILITIES": json.dumps(s.utilities, ensure_ascii=False, default=str),
        }
        if s.database_url:
            env["GW_DATABASE_URL"] = s.database_url
        if s.redis_url:
            env["GW_REDIS_URL"] = s.redis_url
        return env

    async def _start_processes(self, count: int) -> None:
        env = {**os.environ, **self.environment()}
        gateway = [sys.executable, "-m", "gateway.cli"]
        self._release_port()  # the serve process binds it; the parties have their ports by now
        self.children.append(
            await asyncio.create_subprocess_exec(*gateway, "serve", "--workers", str(count), env=env)
        )
        if self.settings.redis_url:
            for _ in range(count):
                self.children.append(await asyncio.create_subprocess_exec(*gateway, "worker", env=env))
        await self._wait_ready()

    async def _wait_ready(self, within: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                async with self.session.get(self.base_url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the gateway at {self.base_url} did not become ready in {within} s")
            for child in self.children:
                if child.returncode is not None:
                    raise RuntimeError(f"a gateway process exited with {child.returncode}")
            await asyncio.sleep(0.2)

    def _release_port(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    async def stop(self) -> None:
        """Stop everything. Each part has `STOP_BOUND` seconds, more than any of them waits by design; one
        that overruns has hung: the rest still stop, then `StageHung` names the part and what is still
        waiting (a CI run once sat out pytest's whole timeout in this teardown and printed nothing useful)."""
        self._release_port()
        hung = [
            await _bounded("the utility providers", self.utilities.stop()),
            await _bounded("the gateway", self._stop_gateway()),
            await _bounded("the banks and the tax bureau", self.parties.stop()),
        ]
        await self.session.close()
        reports = [report for report in hung if report]
        if reports:
            raise StageHung("\n".join(reports))

    async def _stop_gateway(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        for child in self.children:
            if child.returncode is None:
                child.terminate()
        for child in self.children:
            try:
                await asyncio.wait_for(child.wait(), 20)
            except TimeoutError:
                child.kill()

    # --- the parties' own books, consistent with the demo register ------------------------------

    def _open_books(self) -> None:
        """Loan contracts in the banks' simulators and utility accounts at the providers, as the story needs."""
        for case in STORY_LOANS:
            ledger = self.parties.banks[case["bank"]].ledger
            if case["loan"] not in ledger.contracts:
                ledger.add_contract(
                    case["loan"],
                    case["loan"].replace("-DK-", "-DY-"),
                    borrower=(case["borrowers"][0].name, case["borrowers"][0].id_number),
                    mortgagor_id_numbers=[p.id_number for p in case["borrowers"]],
                    amount=Decimal(case["amount"]),
                    unit_code=case["unit"],
                    term=STORY_TERM,
                    settled_on=case.get("settled_on"),
                )
        holders = (LI_NA.name, WANG_QIANG.name)
        for service, account in UTILITY_ACCOUNTS.items():
            self.utilities.open_account(service, account, TRANSFER_ADDRESS, *holders)

    # --- who acts -----------------------------------------------------------------------------

    def bank(self, code: str) -> GatewayClient:
        """A bank counter's client, signing as that bank and checking the registry's signatures."""
        registry = self.registry_public_key
        return GatewayClient(self.session, self.base_url, code, self.parties.banks[code].key, registry)

    @cached_property
    def registry_public_key(self) -> SM2PublicKey:
        """The registry's public key, read once: every reply a party receives is checked against it."""
        return Certificate.from_pem(
            (self.settings.data_dir / "registry" / "registry.pem").read_bytes()
        ).public_key

    async def staff(self, username: str) -> BackofficeClient:
        client = BackofficeClient(self.session, self.base_url)
        await client.login(username, DEMO_PASSWORD)
        return client

    @property
    def services(self) -> ServiceContext | None:
        return self.container.services if self.container else None

    async def database(self) -> Database:
        return Database(self.settings.effective_database_url())


# The 债务履行期限 of every story loan, as the counters apply for it (sandbox.story.terms): the gateway compares
# the bank's recorded term with the application's, like the amount.
STORY_TERM = (date(2026, 12, 1), date(2046, 12, 1))
# The loans the banks' core systems hold for the demo story (bank, loan contract, borrowers, amount, unit).
STORY_LOANS: list[Mapping[str, Any]] = [
    {
        "bank": "psbc-dg",
        "loan": "PSBC-DK-2026-1127",
        "borrowers": [ZHANG_WEI],
        "amount": "600000.00",
        "unit": UNITS.single_owner,
    },
    {
        "bank": "boc-dg",
        "loan": "BOC-DK-2026-2001",
        "borrowers": [LIU_YANG],
        "amount": "1500000.00",
        "unit": UNITS.co_owned_mortgaged,
    },
    {
        "bank": "icbc-dg",
        "loan": "ICBC-DK-2018-1102",
        "borrowers": [LI_NA, WANG_QIANG],
        "amount": "1200000.00",
        "unit": UNITS.co_owned_mortgaged,
        "settled_on": date(2026, 11, 20),
    },
    {
        "bank": "ccb-dg",
        "loan": "CCB-DK-2025-0606",
        "borrowers": [CHEN_JING],
        "amount": "800000.00",
        "unit": UNITS.presale,
    },
    {
        "bank": "dgb",
        "loan": "DGB-DK-2021-0315",
        "borrowers": [SUN_LI],
        "amount": "500000.00",
        "unit": UNITS.mortgaged_to_dgb,
        "settled_on": date(2026, 11, 1),
    },
]
