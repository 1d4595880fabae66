"""A bank's look-up of a unit before lending (GET /api/v1/units/{unit_code}): the facts it needs to lend,
another bank's loan never — and every look-up audited with the bank that looked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from gateway.api.keys import CONTAINER
from gateway.db.tables.infra import AuditRecord
from gateway.seed import INSTITUTIONS, PRE_MORTGAGE_CONTRACT, PROOF_LI_WANG_ICBC, UNITS, seed_demo_register


@pytest.fixture
async def gateway(serve: Any) -> Any:
    institutions = {c: {"name": i.name, "credit_code": i.credit_code} for c, i in INSTITUTIONS.items()}
    client = await serve(institutions=institutions)
    await seed_demo_register(client.server.app[CONTAINER].services)
    return client


async def test_a_bank_sees_the_ranks_of_other_banks_mortgages_but_not_their_loans(
    gateway: Any, bank: Any, database: Any
) -> None:
    ccb, icbc = bank(gateway, "ccb-dg"), bank(gateway, "icbc-dg")
    seen = await ccb.get(f"/api/v1/units/{UNITS.co_owned_mortgaged}")
    assert seen.status == 200
    body = seen.body.decode()
    # ICBC's loan on the flat: its contract numbers and amount are ICBC's business, not CCB's.
    for secret in ("ICBC-DK-2018-1102", "ICBC-DY-2018-1102", "1200000", "2038-06-01"):
        assert secret not in body, secret
    [mortgage] = seen.json()["mortgages"]
    assert (mortgage["rank"], mortgage["own"], mortgage["certificate_number"]) == (
        1,
        False,
        PROOF_LI_WANG_ICBC,
    )
    assert mortgage["summary"]["mortgagee"]["code"] == "icbc-dg"
    assert seen.json()["owners"] == ["李*", "王*"]

    own = (await icbc.get(f"/api/v1/units/{UNITS.co_owned_mortgaged}")).json()["mortgages"][0]
    assert own["own"] is True and own["summary"]["loan_contract_no"] == "ICBC-DK-2018-1102"
    assert own["summary"]["amount"] == "1200000.00"

    # The same for a 预抵押: CCB's pre-mortgage contract is shown to CCB alone.
    presale = (await icbc.get(f"/api/v1/units/{UNITS.presale}")).json()
    assert PRE_MORTGAGE_CONTRACT not in str(presale) and "800000" not in str(presale)
    assert [(p["summary"]["pre_kind"], p["own"]) for p in presale["pre_registrations"]] == [
        ("purchase", None),
        ("mortgage", False),
    ]
    own_pre = (await ccb.get(f"/api/v1/units/{UNITS.presale}")).json()["pre_registrations"][1]
    assert own_pre["own"] is True and own_pre["summary"]["contract_no"] == PRE_MORTGAGE_CONTRACT

    async with database.session() as session:
        looked = (
            await session.execute(select(AuditRecord).where(AuditRecord.action == "register.viewed_by_bank"))
        ).scalars()
        actors = [(r.actor, r.subject) for r in looked]
    assert ("bank:ccb-dg", f"unit:{UNITS.co_owned_mortgaged}") in actors
    assert ("bank:icbc-dg", f"unit:{UNITS.co_owned_mortgaged}") in actors
