"""Revoking a party's certificate with gw-certs stops the gateway trusting its replies at once, no restart."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certs import RevocationState
from gateway.client import BackofficeClient
from gateway.jobs.retry import RetryPolicy
from sandbox.stage import Stage, StageOptions
from sandbox.story import submission, terms
from tests.services import builders

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(schedule=(0, 0.3, 0.3, 0.5, 0.5, 1, 1, 1, 1, 2), jitter=0.1)


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage", retry_policy=FAST))
    try:
        yield running
    finally:
        await running.stop()


async def gw_certs(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "certs.cli", *argv,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def delivery_errors(supervisor: BackofficeClient, target: str) -> list[str]:
    rows = (await supervisor.get("/backoffice/api/v1/deliveries?status=pending")).json()["items"]
    return [row["last_error"] or "" for row in rows if row["target"] == target]


async def test_a_revoked_banks_signed_reply_is_refused_without_a_restart(stage: Stage) -> None:
    code = "psbc-dg"
    simulator = stage.parties.banks[code]
    await simulator.stop()  # the bank is away while its case is submitted
    case = builders.mortgage_registration(mortgage=terms("PSBC-DK-2026-1127", "600000.00"))
    created = await stage.bank(code).post("/api/v1/cases", submission(case, "松山湖支行", "柜员0101"))
    assert created.status == 201
    case_id = created.json()["id"]

    # Its key is compromised: the operator revokes the certificate, the gateway keeps running.
    serial = format(simulator.certificate.serial, "X")
    status, said = await gw_certs(
        "revoke", "--dir", str(stage.settings.data_dir / "ca"), serial, "--reason", "keyCompromise"
    )
    assert status == 0, said
    await asyncio.sleep(RevocationState.REFRESH_SECONDS + 0.1)  # the gateway re-reads revocations this often
    await simulator.start()  # it answers again, signing with the revoked key

    supervisor = await stage.staff("supervisor-d")
    errors: list[str] = []
    bank_track: dict[str, Any] = {}
    for _ in range(100):
        errors = await delivery_errors(supervisor, code)
        bank_track = (await supervisor.get(f"/backoffice/api/v1/cases/{case_id}")).json()["tracks"]["bank"]
        if any("revoked" in error for error in errors) or bank_track["status"] == "passed":
            break
        await asyncio.sleep(0.1)
    assert simulator.ledger.effects_applied >= 1, "the bank received the request and answered it"
    assert bank_track["status"] != "passed", "a reply signed with a revoked key was believed"
    assert any("revoked" in error for error in errors), errors
