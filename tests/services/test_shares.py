"""按份共有 through the services, on SQLite and PostgreSQL: three exact thirds recorded and printed, and a
co-owner transferring its own share (民法典 §305) with, and without, the others' pre-emption waiver."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pypdf
import pytest
from sqlalchemy import select

import certs
from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.infra import OutboxRow
from gateway.domain.cases import TransferType
from gateway.domain.materials import MaterialKind
from gateway.domain.parties import CoOwnership, Owner
from gateway.domain.register import EntryKind, OwnershipFacts
from gateway.domain.workflow import CaseState
from gateway.errors import RuleViolation
from gateway.seed import CHEN_JING, LIU_YANG, PROOF_LI_WANG_ICBC, SUN_LI, UNITS, ZHOU_JIE
from gateway.services import cases, review, tracks
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from gateway.services.materials import MaterialUpload
from sandbox.story import SAMPLE_PDF
from tests.services import builders

THIRD = Fraction(1, 3)
WAIVER = MaterialUpload(
    "其他共有人放弃优先购买权声明.pdf",
    "application/pdf",
    SAMPLE_PDF,
    MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER,
)


@pytest.fixture(scope="module")
def seal() -> RegistrySeal:
    ca = certs.CertificateAuthority.create("Test Root CA")
    key = certs.SM2PrivateKey.generate()
    return RegistrySeal(key, ca.issue(key.public_key, "registry", "registry"), "https://bdc.dg.gov.cn")


async def ownership(ctx: ServiceContext) -> Any:
    async with ctx.reading() as store:
        entries = await store.entries_of(UNITS.co_owned_mortgaged)
    [entry] = [e for e in entries if e.kind is EntryKind.OWNERSHIP and e.is_open]
    assert isinstance(entry.facts, OwnershipFacts)
    return entry


async def register_transfer(ctx: ServiceContext, case_id: str, *, settle: bool) -> None:
    """The tracks close as the bank and the bureau would, two examiners approve, the registrar registers."""
    if settle:
        await tracks.record_bank_result(
            ctx, case_id, f"settlement:{PROOF_LI_WANG_ICBC}", confirmed=True, actor="bank:icbc-dg"
        )
    await tracks.record_tax_assessment(ctx, case_id, {"assessment_id": "A1", "total": "1.00"}, actor="tax")
    await review.review(ctx, "examiner-a", case_id, "first")
    await review.review(ctx, "examiner-b", case_id, "second")
    await tracks.record_tax_cleared(ctx, case_id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    case = await review.register(ctx, "registrar-c", case_id)
    assert case.state is CaseState.REGISTERED


async def ownership_pdf_text(ctx: ServiceContext, seal: RegistrySeal, case_id: str) -> str:
    """缮证 as the certificate.issue job does it; the text of the case's signed 不动产权证书."""
    handler = Certification(ctx, seal).handlers()["certificate.issue"]
    async with ctx.db.session() as s:
        rows = list(
            (
                await s.execute(
                    select(OutboxRow).where(
                        OutboxRow.case_id == case_id, OutboxRow.job == "certificate.issue"
                    )
                )
            ).scalars()
        )
    for row in rows:
        await handler(None, row)  # type: ignore[arg-type]  # the handler needs no JobContext
    async with ctx.db.session() as s:
        ref = (
            await s.execute(
                select(CertificateRow.pdf_ref).where(  # type: ignore[call-overload]
                    CertificateRow.case_id == case_id, CertificateRow.kind == "ownership"
                )
            )
        ).scalar_one()
    pdf = await ctx.blobs.get(ref)
    return "".join(str(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()).split())


async def thirds(ctx: ServiceContext) -> str:
    """李娜 and 王强 sell to three buyers in equal thirds; returns the new certificate number."""
    transfer = builders.transfer(
        buyers=[
            Owner(party=LIU_YANG, share="1/3"),
            Owner(party=CHEN_JING, share="1/3"),
            Owner(party=ZHOU_JIE, share="1/3"),
        ],  # type: ignore[arg-type]
        co_ownership=CoOwnership.SHARES,
        new_mortgage=None,
        utilities=[],
    )
    case = await cases.submit(ctx, "icbc-dg", "东城支行", "柜员0303", transfer)
    await register_transfer(ctx, case.id, settle=True)
    return case.id


async def test_three_equal_thirds_are_recorded_exactly_and_printed_as_fractions(
    ctx: ServiceContext, seal: RegistrySeal
) -> None:
    case_id = await thirds(ctx)

    entry = await ownership(ctx)
    assert [(o.party.name, o.share) for o in entry.facts.owners] == [
        ("刘洋", THIRD),
        ("陈静", THIRD),
        ("周杰", THIRD),
    ]
    assert sum(o.share for o in entry.facts.owners) == 1
    text = await ownership_pdf_text(ctx, seal, case_id)
    assert "按份共有：刘洋占三分之一，陈静占三分之一，周杰占三分之一" in text


async def test_a_co_owner_transfers_its_share_only_with_the_others_waiver(
    ctx: ServiceContext, seal: RegistrySeal
) -> None:
    await thirds(ctx)
    before = await ownership(ctx)
    share_sale = builders.transfer(
        transfer_type=TransferType.CO_OWNER_SHARE,
        ownership_certificate_number=before.certificate_number,
        sellers=[CHEN_JING],
        buyers=[Owner(party=SUN_LI, share=THIRD)],
        co_ownership=CoOwnership.SHARES,
        price=Decimal("800000.00"),
        contract_date=date(2026, 12, 1),
        seller_acquired_on=date(2026, 11, 30),
        release_proof_numbers=[],
        new_mortgage=None,
        utilities=[],
    )

    with pytest.raises(RuleViolation) as refused:
        await cases.submit(ctx, "icbc-dg", "东城支行", "柜员0303", share_sale)
    [(name, zh, en)] = [f for f in refused.value.failures]
    assert name == "co_owners_waived_pre_emption"
    assert "第三百零五条" in zh and "优先购买权" in zh and "刘*" in zh and "周*" in zh
    assert "§305" in en and "waiver" in en

    case = await cases.submit(ctx, "icbc-dg", "东城支行", "柜员0303", share_sale, materials=[WAIVER])
    async with ctx.reading() as store:
        assert [m.kind for m in await store.materials(case.id)] == [MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER]
    await register_transfer(ctx, case.id, settle=False)

    after = await ownership(ctx)
    assert after.facts.co_ownership is CoOwnership.SHARES
    assert [(o.party.name, o.share) for o in after.facts.owners] == [
        ("刘洋", THIRD),
        ("周杰", THIRD),
        ("孙丽", THIRD),
    ], "the others keep their shares; the buyer holds the seller's"
    assert after.certificate_number != before.certificate_number
    text = await ownership_pdf_text(ctx, seal, case.id)
    assert "按份共有：刘洋占三分之一，周杰占三分之一，孙丽占三分之一" in text
    assert "按份共有份额转移登记" in text


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"sellers": [LIU_YANG, CHEN_JING, ZHOU_JIE]}, "sellers_are_co_owners"),
        ({"sellers": [SUN_LI]}, "sellers_are_co_owners"),
        ({"buyers": [Owner(party=SUN_LI, share=Fraction(1, 4))]}, "share_transferred_whole"),
    ],
)
async def test_a_share_transfer_is_refused_with_the_rule_it_breaks(
    ctx: ServiceContext, change: dict[str, Any], rule: str
) -> None:
    await thirds(ctx)
    before = await ownership(ctx)
    base: dict[str, Any] = {
        "transfer_type": TransferType.CO_OWNER_SHARE,
        "ownership_certificate_number": before.certificate_number,
        "sellers": [CHEN_JING],
        "buyers": [Owner(party=SUN_LI, share=THIRD)],
        "co_ownership": CoOwnership.SHARES,
        "contract_date": date(2026, 12, 1),
        "seller_acquired_on": date(2026, 11, 30),
        "release_proof_numbers": [],
        "new_mortgage": None,
        "utilities": [],
    }
    with pytest.raises(RuleViolation) as refused:
        await cases.submit(
            ctx, "icbc-dg", "b", "c", builders.transfer(**{**base, **change}), materials=[WAIVER]
        )
    assert rule in {name for name, _, _ in refused.value.failures}


async def test_a_unit_owned_jointly_has_no_share_to_transfer(ctx: ServiceContext) -> None:
    # 李娜 and 王强 own the seeded unit 共同共有 (民法典 §299): neither has a share of its own.
    share_sale = builders.transfer(
        transfer_type=TransferType.CO_OWNER_SHARE,
        sellers=[builders.LI_NA],
        buyers=[Owner(party=SUN_LI, share="1/2")],  # type: ignore[arg-type]
        co_ownership=CoOwnership.SHARES,
        release_proof_numbers=[],
        new_mortgage=None,
        utilities=[],
        mortgagee_consent=True,
    )
    with pytest.raises(RuleViolation) as refused:
        await cases.submit(ctx, "icbc-dg", "b", "c", share_sale, materials=[WAIVER])
    assert "ownership_by_shares" in {name for name, _, _ in refused.value.failures}
