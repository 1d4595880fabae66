"""Cases left waiting in each back-office queue, so a person can try every page after the demo's walk."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from gateway.domain.cases import MortgageRegistrationInput
from gateway.seed import CERT_ZHANG, UNITS, ZHANG_WEI
from sandbox.stage import Stage
from sandbox.story import submission, terms

__all__ = ["WaitingCase", "leave_work"]

LOAN = "PSBC-DK-2026-1127"  # a loan psbc-dg's simulated core system knows, so its bank track passes


@dataclass(frozen=True)
class WaitingCase:
    case_id: str
    waits_for: str  # 初审 / 复审 / 登簿 / 补正
    who: str  # the demo user whose queue holds it


async def _submit(stage: Stage, clerk: str) -> str:
    case = MortgageRegistrationInput(
        unit_code=UNITS.single_owner,
        ownership_certificate_number=CERT_ZHANG,
        mortgagors=[ZHANG_WEI],
        mortgage=terms(LOAN, "600000.00"),
    )
    reply = await stage.bank("psbc-dg").post("/api/v1/cases", submission(case, "松山湖支行", clerk))
    if reply.status != 201:
        raise RuntimeError(f"demo case refused: {reply.status} {reply.body[:300]!r}")
    return str(reply.json()["id"])


async def _act(stage: Stage, username: str, path: str, payload: dict[str, str] | None = None) -> None:
    reply = await (await stage.staff(username)).post(path, payload)
    if reply.status >= 300:
        raise RuntimeError(f"{username} {path}: {reply.status} {reply.body[:300]!r}")


async def _bank_passed(stage: Stage, case_id: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        case = (await stage.bank("psbc-dg").get(f"/api/v1/cases/{case_id}")).json()
        if case["tracks"].get("bank", {}).get("status") == "passed":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the bank never confirmed case {case_id}")


async def leave_work(stage: Stage) -> list[WaitingCase]:
    """One case needing 初审, one 复审, one 登簿, one in 补正 (mortgage registrations on 张伟's flat)."""
    base = "/backoffice/api/v1/cases/"
    first = await _submit(stage, "柜员0201")
    second = await _submit(stage, "柜员0202")
    await _act(
        stage, "examiner-a", base + second + "/review", {"stage": "first", "opinion": "材料齐全，同意"}
    )
    ready = await _submit(stage, "柜员0203")
    await _act(stage, "examiner-a", base + ready + "/review", {"stage": "first", "opinion": "材料齐全，同意"})
    await _bank_passed(stage, ready)
    await _act(stage, "senior-b", base + ready + "/review", {"stage": "second", "opinion": "同意初审意见"})
    correction = await _submit(stage, "柜员0204")
    await _act(stage, "examiner-a", base + correction + "/request-material", {"reason": "缺少抵押合同签字页"})
    return [
        WaitingCase(first, "初审", "examiner-a"),
        WaitingCase(second, "复审/核定", "senior-b"),
        WaitingCase(ready, "登簿", "registrar-c"),
        WaitingCase(correction, "补正 (银行)", "psbc-dg"),
    ]
