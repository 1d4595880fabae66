"""The `portal` delivery style: nothing is pushed; the job waits for the provider's staff, parked and
dead-lettered exactly as a pull provider's job, and their answer settles it even after the dead letter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.registry import import_adapter_class
from adapters.utilities import build_utility_providers
from gateway.db.tables.infra import OutboxStatus
from gateway.errors import ConfigError
from gateway.jobs.retry import RetryPolicy
from gateway.ports.utilities import DeliveryStyle, OutcomeKind, UtilityService
from gateway.services.utilities import Acknowledgement, acknowledge, case_utilities
from gateway.services.utilities.portal import PortalState, portal_jobs
from gateway.settings import Settings
from sandbox.utilities import GAS, UtilityProviders
from tests.utilities.harness import BANK, register_transfer, running_gateway, transfer_input
from tests.utilities.support import Registry, eventually, job

SAMPLE = Path(__file__).parents[2] / "config" / "utilities.sample.json"
PORTAL = "adapters.utilities.portal:PortalProvider"


def test_the_gw_utilities_sample_has_the_four_ways_and_each_entry_is_valid() -> None:
    entries: dict[str, dict[str, Any]] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    settings = Settings(utilities=entries)  # what GW_UTILITIES='…this JSON…' gives
    styles = {}
    for code, entry in settings.utilities.items():
        adapter = import_adapter_class(code, entry["adapter"])
        adapter.Settings.model_validate(entry)  # every key known, every value of its type
        styles[code] = entry["adapter"].rsplit(":", 1)[1]
    assert sorted(styles.values()) == [
        "PortalProvider",
        "PowerSoapProvider",
        "PullProvider",
        "WaterWebhookProvider",
    ]


async def test_a_portal_provider_needs_no_certificate_and_lets_its_jobs_wait(registry: Registry) -> None:
    built = build_utility_providers({"dg-gas": {"adapter": PORTAL, "name": "燃气"}}, registry.context())
    gas = built["dg-gas"]
    assert gas.style is DeliveryStyle.PORTAL and gas.style.waits
    outcome = await gas.transfer(job(UtilityService.GAS))
    assert outcome.kind is OutcomeKind.LATER and outcome.check_after_seconds == 6 * 3600  # as pull's


def test_a_portal_providers_certificate_when_given_must_be_its_own(registry: Registry) -> None:
    other = registry.ca.issue(certs.SM2PrivateKey.generate().public_key, "dg-water", "utility")
    entry = {"adapter": PORTAL, "certificate_pem": other.pem.decode()}
    context = AdapterContext(GatewayIdentity(registry.key), ca=registry.ca)
    with pytest.raises(ConfigError, match="belongs to 'dg-water'"):
        build_utility_providers({"dg-gas": entry}, context)


async def test_a_portal_job_never_answered_is_dead_lettered_and_staff_may_still_settle_it(
    registry: Registry, providers: UtilityProviders, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}"
    short = RetryPolicy(schedule=(0, 0.1, 0.1, 0.1), jitter=0.1)
    async with running_gateway(
        registry,
        providers,
        url,
        tmp_path,
        retry_policy=short,
        portal={GAS: {"collect_within_seconds": 0.2}},
    ) as gateway:
        case_id = await register_transfer(gateway.services, transfer_input((UtilityService.GAS,)))
        (row,) = [r for r in await gateway.outbox() if r.target == GAS]

        async def dead() -> bool:
            found = next(r for r in await gateway.outbox() if r.id == row.id)
            return found.status == OutboxStatus.DEAD.value

        await eventually(dead)
        found = next(r for r in await gateway.outbox() if r.id == row.id)
        assert (
            found.last_error
            and "awaiting_portal" in found.last_error
            and "gave up after 4" in found.last_error
        )
        assert gateway.providers.gas.book.applied_effects == 0  # nothing was ever pushed to it
        (listed,) = await portal_jobs(gateway.services, GAS, PortalState.NEW)
        assert listed.id == row.id and listed.overdue

        answer = Acknowledgement(result="done", message="已过户")
        await acknowledge(gateway.services, GAS, row.id, answer, staff="user:gas-staff")
        view = await case_utilities(gateway.services, BANK, case_id)
        assert [(j.status.value, j.message) for j in view.jobs] == [("done", "已过户")]
        assert view.all_done and view.dead == []
        settled = next(r for r in await gateway.outbox() if r.id == row.id)
        assert settled.status == OutboxStatus.DELIVERED.value  # the dead letter is settled by the answer
