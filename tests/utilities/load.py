"""Many utility jobs at once, for the fault tests and the benchmark: registered cases written directly with
the four outbox rows 登簿 writes for them (the same payload as `registration._write_utility_jobs`), and
the matching accounts opened in the providers' books. Registration itself is covered end to end elsewhere."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert

from gateway.db.ids import new_outbox_id
from gateway.db.tables.cases import CaseRow
from gateway.domain.cases import TransferInput
from gateway.ports.utilities import UtilityService
from gateway.privacy import case_input, outbox_payload
from gateway.seed import LIU_YANG, ZHANG_WEI
from gateway.services import effects
from gateway.services.context import ServiceContext
from sandbox.utilities import GAS, NETWORK, POWER, WATER, UtilityProviders
from tests.utilities.harness import transfer_input

CASES = CaseRow.__table__  # type: ignore[attr-defined]
PREFIX = {
    UtilityService.WATER: "SW",
    UtilityService.POWER: "DL",
    UtilityService.GAS: "RQ",
    UtilityService.NETWORK: "KD",
}


CODES = {
    UtilityService.WATER: WATER,
    UtilityService.POWER: POWER,
    UtilityService.GAS: GAS,
    UtilityService.NETWORK: NETWORK,
}


def account(i: int, service: UtilityService) -> tuple[str, str]:
    """The i-th case's account number with `service` and its address (the same in every process)."""
    return f"{PREFIX[service]}{i:08d}", f"广东省东莞市南城街道测试路{i}号"


def open_accounts(providers: UtilityProviders, cases: int, start: int = 0) -> None:
    """The accounts `write_jobs` will ask the providers to move, held by the seller."""
    for i in range(start, start + cases):
        for service in UtilityService:
            providers.open_account(service, *account(i, service), ZHANG_WEI.name)


def _person(name: str, id_number: str, phone: str | None) -> dict[str, object]:
    return {"name": name, "id_type": "resident_id", "id_number": id_number, "phone": phone}


async def write_jobs(
    ctx: ServiceContext,
    providers: UtilityProviders | None,
    cases: int,
    *,
    bank: str,
    batch: int = 50,
    start: int = 0,
) -> list[str]:
    """`cases` registered transfers, each with one job per provider; returns the case ids. With `providers`
    (in this process) their accounts are opened too; simulators elsewhere call `open_accounts` themselves."""
    if providers is not None:
        open_accounts(providers, cases, start)
    now = datetime.now(UTC)
    seller = _person(ZHANG_WEI.name, ZHANG_WEI.id_number, ZHANG_WEI.phone)
    buyer = _person(LIU_YANG.name, LIU_YANG.id_number, LIU_YANG.phone)
    template = transfer_input().model_dump(mode="json")
    case_ids: list[str] = []
    for first in range(start, start + cases, batch):
        async with ctx.db.transaction() as uow:
            for i in range(first, min(first + batch, start + cases)):
                case_id = uuid.uuid4().hex
                # GB/T 37346: parcel 00001–99999, building 0001, unit 0001–9999
                unit_code = f"441900009001GB{i // 9999 % 99999 + 1:05d}F0001{i % 9999 + 1:04d}"
                transfer = TransferInput.model_validate({**template, "unit_code": unit_code})
                await uow.session.execute(
                    insert(CASES).values(
                        id=case_id,
                        kind="transfer",
                        state="registered",
                        unit_code=unit_code,
                        submitted_by=bank,
                        branch="测试支行",
                        clerk="clerk-load",
                        input=ctx.protector.protect(transfer.model_dump(mode="json"), case_input(case_id)),
                        tracks={},
                        rule_results=[],
                        received_at=now,
                        deadline_at=now,
                        registered_at=now,
                        updated_at=now,
                    )
                )
                for service in UtilityService:
                    account_no, address = account(i, service)
                    payload = {
                        "case_id": case_id,
                        "service": service.value,
                        "account_no": account_no,
                        "address": address,
                        "unit_code": unit_code,
                        "certificate_number": f"粤（2026）东莞市不动产权第{i + 1:07d}号",
                        "registered_at": now.isoformat(),
                        "sellers": [seller],
                        "buyers": [buyer],
                    }
                    row_id = new_outbox_id()
                    uow.outbox(
                        job=effects.UTILITY_TRANSFER,
                        target=CODES[service],
                        payload=ctx.protector.protect(payload, outbox_payload(row_id)),
                        case_id=case_id,
                        row_id=row_id,
                    )
                case_ids.append(case_id)
    return case_ids
