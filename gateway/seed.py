"""The demo register for Dongguan (441900): units, owners, a mortgage, a seizure, a pre-sale building, a flat for sale.

Enough to exercise every case kind and every rule. The people and institutions are invented; their ID
numbers and credit codes carry valid check characters so that they pass the same validation as real ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from gateway.db.tables.certificates import CertificateRow
from gateway.domain.identifiers import credit_code_check_char, resident_id_check_char
from gateway.domain.parties import CoOwnership, Institution, Owner, Party
from gateway.domain.register import (
    EntryFacts,
    MortgageFacts,
    MortgageKind,
    ObjectionFacts,
    OwnershipFacts,
    PreRegistrationFacts,
    PreRegistrationKind,
    SeizureFacts,
    Unit,
)
from gateway.domain.registration import NewEntry
from gateway.services.context import ServiceContext
from gateway.services.registration import holders_masked
from gateway.services.store import Store


def person(name: str, first17: str, phone: str) -> Party:
    return Party(name=name, id_number=first17 + resident_id_check_char(first17), phone=phone)


def institution(code: str, name: str, first17: str) -> Institution:
    return Institution(code=code, name=name, credit_code=first17 + credit_code_check_char(first17))


# The 17 banks of the reform, by participant code (= adapter configuration key).
BANKS: dict[str, Institution] = {
    b.code: b
    for b in (
        institution("icbc-dg", "中国工商银行股份有限公司东莞分行", "91441900MA4W00010"),
        institution("abc-dg", "中国农业银行股份有限公司东莞分行", "91441900MA4W00028"),
        institution("boc-dg", "中国银行股份有限公司东莞分行", "91441900MA4W00036"),
        institution("ccb-dg", "中国建设银行股份有限公司东莞市分行", "91441900MA4W00044"),
        institution("bocom-dg", "交通银行股份有限公司东莞分行", "91441900MA4W00052"),
        institution("psbc-dg", "中国邮政储蓄银行股份有限公司东莞市分行", "91441900MA4W00060"),
        institution("cmb-dg", "招商银行股份有限公司东莞分行", "91441900MA4W00079"),
        institution("citic-dg", "中信银行股份有限公司东莞分行", "91441900MA4W00087"),
        institution("ceb-dg", "中国光大银行股份有限公司东莞分行", "91441900MA4W00095"),
        institution("cmbc-dg", "中国民生银行股份有限公司东莞分行", "91441900MA4W00109"),
        institution("spdb-dg", "上海浦东发展银行股份有限公司东莞分行", "91441900MA4W00117"),
        institution("cib-dg", "兴业银行股份有限公司东莞分行", "91441900MA4W00125"),
        institution("cgb-dg", "广发银行股份有限公司东莞分行", "91441900MA4W00133"),
        institution("pab-dg", "平安银行股份有限公司东莞分行", "91441900MA4W00141"),
        institution("hxb-dg", "华夏银行股份有限公司东莞分行", "91441900MA4W0015X"),
        institution("dgb", "东莞银行股份有限公司", "91441900MA4W00168"),
        institution("dgrcb", "东莞农村商业银行股份有限公司", "91441900MA4W00176"),
    )
}
DEVELOPER = institution("dg-dev", "东莞市松湖置业有限公司", "91441900MA4W00184")
INSTITUTIONS: dict[str, Institution] = {**BANKS, DEVELOPER.code: DEVELOPER}

ZHANG_WEI = person("张伟", "44190019850312001", "13800000001")
LI_NA = person("李娜", "44190019880724002", "13800000002")
WANG_QIANG = person("王强", "44190019870101003", "13800000003")
ZHAO_MIN = person("赵敏", "44190019790915004", "13800000004")
SUN_LI = person("孙丽", "44190019920202005", "13800000005")
CHEN_JING = person("陈静", "44190019950505006", "13800000006")
LIU_YANG = person("刘洋", "44190019900909007", "13800000007")
HUANG_LEI = person("黄磊", "44190019831111008", "13800000008")
ZHOU_JIE = person("周杰", "44190019760630009", "13800000009")
WU_FANG = person("吴芳", "44190019890303010", "13800000010")

_HOUSE = "国有建设用地使用权/房屋所有权"
_TERM = "2005年07月01日起2075年06月30日止"


@dataclass(frozen=True)
class DemoUnits:
    """The unit codes of the demo register, named for what they demonstrate."""

    single_owner: str = "441900003001GB00101F00010101"  # 张伟: free to mortgage
    co_owned_mortgaged: str = "441900003001GB00101F00010102"  # 李娜+王强, mortgaged to icbc-dg: transfer
    seized: str = "441900003001GB00101F00010103"  # 赵敏, seized by a court: refused
    mortgaged_to_dgb: str = "441900003001GB00101F00010104"  # 孙丽, mortgaged to dgb: release
    with_objection: str = "441900003001GB00101F00010105"  # 黄磊, an objection recorded
    pre_registered_sale: str = "441900003001GB00101F00010106"  # 吴芳, sold to 刘洋 with a 预告登记
    presale: str = "441900003002GB00102F00020101"  # pre-sale flat: 陈静's 预告 + ccb-dg's 预抵押
    for_sale: str = "441900003002GB00102F00020102"  # developer's flat: contract filing


UNITS = DemoUnits()
CERT_ZHANG = "粤（2019）东莞市不动产权第0012345号"
CERT_LI_WANG = "粤（2018）东莞市不动产权第0023456号"
PROOF_LI_WANG_ICBC = "粤（2018）东莞市不动产证明第0034567号"
CERT_ZHAO = "粤（2020）东莞市不动产权第0045678号"
CERT_SUN = "粤（2021）东莞市不动产权第0056789号"
PROOF_SUN_DGB = "粤（2021）东莞市不动产证明第0067890号"
CERT_HUANG = "粤（2017）东莞市不动产权第0078901号"
CERT_WU = "粤（2022）东莞市不动产权第0089012号"
SALE_CONTRACT_WU_LIU = "WQ-2024-0099"
PRE_MORTGAGE_CONTRACT = "CCB-YDY-2025-0606"
PRESALE_CONTRACT = "YS-2025-0088"  # 陈静's filed pre-sale contract (商品房预售合同), her 预告登记's


def _unit(code: str, address: str, area: str, **kw: object) -> Unit:
    floor_area = Decimal(area)
    exclusive = (floor_area * Decimal("0.82")).quantize(Decimal("0.01"))  # a typical 得房率
    return Unit.model_validate(
        {
            "unit_code": code,
            "address": address,
            "floor_area": floor_area,
            "land_area": Decimal("12.35"),
            "right_type": _HOUSE,
            "land_term": _TERM,
            # The building facts 权利其他状况 prints (every demo flat is on the first floor of its block).
            "structure": "钢筋混凝土结构",
            "total_floors": 18,
            "floor": "1",
            "exclusive_area": exclusive,
            "shared_area": floor_area - exclusive,
            "completed_on": date(2008, 6, 30),
            **kw,
        }
    )


def _sole(p: Party) -> OwnershipFacts:
    return OwnershipFacts(owners=[Owner(party=p)], co_ownership=CoOwnership.SOLE)


def _mortgage(
    bank: Institution, mortgagors: list[Party], amount: str, start: date, contract: str
) -> MortgageFacts:
    return MortgageFacts(
        mortgagee=bank,
        mortgagors=mortgagors,
        mortgage_kind=MortgageKind.GENERAL,
        amount=Decimal(amount),
        term_start=start,
        term_end=date(start.year + 20, start.month, start.day),
        loan_contract_no=contract,
        mortgage_contract_no=contract.replace("-DK-", "-DY-"),
    )


async def seed_demo_register(ctx: ServiceContext) -> int:
    """Write the demo register (idempotent: does nothing if the units exist). Returns units written."""
    at = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
    u = UNITS
    street = "广东省东莞市松山湖高新技术产业开发区科技大道"
    units: list[tuple[Unit, list[tuple[EntryFacts, str | None, int | None]]]] = [
        (
            _unit(u.single_owner, f"{street}1号松湖花园1栋101", "89.50"),
            [(_sole(ZHANG_WEI), CERT_ZHANG, None)],
        ),
        (
            _unit(u.co_owned_mortgaged, f"{street}1号松湖花园1栋102", "128.36"),
            [
                (
                    OwnershipFacts(
                        owners=[Owner(party=LI_NA), Owner(party=WANG_QIANG)], co_ownership=CoOwnership.JOINT
                    ),
                    CERT_LI_WANG,
                    None,
                ),
                (
                    _mortgage(
                        BANKS["icbc-dg"],
                        [LI_NA, WANG_QIANG],
                        "1200000.00",
                        date(2018, 6, 1),
                        "ICBC-DK-2018-1102",
                    ),
                    PROOF_LI_WANG_ICBC,
                    1,
                ),
            ],
        ),
        (
            _unit(u.seized, f"{street}1号松湖花园1栋103", "95.00"),
            [
                (_sole(ZHAO_MIN), CERT_ZHAO, None),
                (
                    SeizureFacts(authority="东莞市第一人民法院", document_no="（2025）粤1971执保1234号"),
                    None,
                    None,
                ),
            ],
        ),
        (
            _unit(u.mortgaged_to_dgb, f"{street}1号松湖花园1栋104", "76.80"),
            [
                (_sole(SUN_LI), CERT_SUN, None),
                (
                    _mortgage(BANKS["dgb"], [SUN_LI], "500000.00", date(2021, 3, 15), "DGB-DK-2021-0315"),
                    PROOF_SUN_DGB,
                    1,
                ),
            ],
        ),
        (
            _unit(u.with_objection, f"{street}1号松湖花园1栋105", "101.20"),
            [
                (_sole(HUANG_LEI), CERT_HUANG, None),
                (
                    # The court accepted 周杰's suit, so the objection stays in force (民法典 §220).
                    ObjectionFacts(
                        applicant=ZHOU_JIE,
                        matter="主张该房屋为夫妻共同财产",
                        court="东莞市第一人民法院",
                        court_case_no="（2025）粤1971民初0567号",
                        court_accepted_on=date(2025, 1, 10),
                    ),
                    None,
                    None,
                ),
            ],
        ),
        (
            # A second-hand sale protected by a 预告登记 (实施细则 第85条（二）不动产买卖): only the transfer to
            # 刘洋 — or a disposal with his written consent — can register (民法典 §221).
            _unit(u.pre_registered_sale, f"{street}1号松湖花园1栋106", "97.40"),
            [
                (_sole(WU_FANG), CERT_WU, None),
                (
                    PreRegistrationFacts(
                        pre_kind=PreRegistrationKind.PURCHASE,
                        buyers=[LIU_YANG],
                        contract_no=SALE_CONTRACT_WU_LIU,
                    ),
                    None,
                    None,
                ),
            ],
        ),
        (
            _unit(
                u.presale,
                f"{street}9号松湖壹号2栋101",
                "92.10",
                first_registered=False,
                right_nature="出让/市场化商品房",
                developer=DEVELOPER.model_dump(),
            ),
            [
                (
                    PreRegistrationFacts(
                        pre_kind=PreRegistrationKind.PURCHASE,
                        buyers=[CHEN_JING],
                        contract_no=PRESALE_CONTRACT,
                    ),
                    None,
                    None,
                ),
                (
                    PreRegistrationFacts(
                        pre_kind=PreRegistrationKind.MORTGAGE,
                        buyers=[CHEN_JING],
                        mortgagee=BANKS["ccb-dg"],
                        amount=Decimal("800000.00"),
                        contract_no=PRE_MORTGAGE_CONTRACT,
                    ),
                    None,
                    None,
                ),
            ],
        ),
        (
            _unit(
                u.for_sale,
                f"{street}9号松湖壹号2栋102",
                "88.60",
                first_registered=False,
                for_sale=True,
                developer=DEVELOPER.model_dump(),
            ),
            [],
        ),
    ]
    written = 0
    async with ctx.unit_of_work() as (uow, store):
        if await store.unit_exists(u.single_owner):
            return 0
        for unit, entries in units:
            await store.add_unit(unit, at)
            await store.session.flush()
            for facts, number, rank in entries:
                await _legacy_entry(store, unit, facts, number, rank, at)
            written += 1
        uow.audit(
            actor="system", action="register.seeded", subject="register:441900", details={"units": written}
        )
    return written


async def _legacy_entry(
    store: Store, unit: Unit, facts: EntryFacts, number: str | None, rank: int | None, at: datetime
) -> None:
    """An entry migrated from the paper register: no opening case, a paper certificate if it had one."""
    entry_id = await store.open_entry(
        unit.unit_code, NewEntry(facts, rank=rank), case_id=None, at=at, certificate_number=number
    )
    if number:
        await store.add_certificate(
            CertificateRow(
                number=number,
                kind="ownership" if isinstance(facts, OwnershipFacts) else "proof",
                entry_id=entry_id,
                unit_code=unit.unit_code,
                holder_masked=holders_masked(facts),
                status="valid",
                issued_at=at,
            )
        )
