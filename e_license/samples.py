"""Fictitious but realistic certificate content, for `gw-elicense render`, the benchmark and the tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from gateway.settings import RegistrySettings

from .content import (
    CoOwnership,
    MortgageMethod,
    MortgageTerms,
    OwnershipCertificateContent,
    RegistrationProofContent,
    RightHolder,
)
from .identifier import identifier_for
from .numbers import CertificateKind, CertificateNumber


def verification_url(base_url: str, identifier: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{identifier}"


def sample_ownership(
    registry: RegistrySettings | None = None,
    seq: int = 1,
    base_url: str = "https://bdc.dg.gov.cn",
    issue_date: date = date(2026, 11, 27),
) -> OwnershipCertificateContent:
    """A flat bought by two co-owners in shares (按份共有), as issued after a transfer."""
    registry = registry or RegistrySettings()
    number = CertificateNumber.for_registry(registry, CertificateKind.OWNERSHIP, issue_date.year, seq)
    identifier = identifier_for(number, registry)
    return OwnershipCertificateContent(
        number=number,
        number_pattern=registry.number_pattern,
        identifier=identifier,
        issuer_name=registry.name,
        issue_date=issue_date,
        verification_url=verification_url(base_url, str(identifier)),
        holders=(
            RightHolder(name="陈美玲", share=Fraction(3, 5)),
            RightHolder(name="黄志强", share=Fraction(2, 5)),
        ),
        co_ownership=CoOwnership.BY_SHARE,
        location="东莞市南城街道鸿福路88号御景华庭3栋2单元1203",
        unit_code="441900001001GB00023F00030127",
        right_type="国有建设用地使用权/房屋所有权",
        right_nature="出让/市场化商品房",
        usage="城镇住宅用地/住宅",
        land_area=Decimal("21536.40"),
        building_area=Decimal("98.76"),
        term_start=date(2015, 10, 16),
        term_end=date(2085, 10, 15),
        other_conditions=(
            "专有建筑面积：82.35㎡，分摊建筑面积：16.41㎡",
            "房屋结构：钢筋混凝土结构",
            "房屋总层数：32层，所在层：12层",
            "房屋竣工时间：2019年6月30日",
            "持证人：陈美玲",
        ),
        remarks=(
            "共有人：陈美玲 占60%；黄志强 占40%。",
            "本证由二手房转移登记取得，原不动产权证号：粤（2020）东莞市不动产权第0123456号。",
        ),
    )


def sample_proof(
    registry: RegistrySettings | None = None,
    seq: int = 1,
    base_url: str = "https://bdc.dg.gov.cn",
    issue_date: date = date(2026, 11, 27),
) -> RegistrationProofContent:
    """A maximum-amount mortgage (最高额抵押) of the same flat in favour of a bank."""
    registry = registry or RegistrySettings()
    number = CertificateNumber.for_registry(registry, CertificateKind.PROOF, issue_date.year, seq)
    identifier = identifier_for(number, registry)
    return RegistrationProofContent(
        number=number,
        number_pattern=registry.number_pattern,
        identifier=identifier,
        issuer_name=registry.name,
        issue_date=issue_date,
        verification_url=verification_url(base_url, str(identifier)),
        right_or_matter="抵押权",
        right_holders=("中国工商银行股份有限公司东莞分行",),
        obligors=("陈美玲", "黄志强"),
        location="东莞市南城街道鸿福路88号御景华庭3栋2单元1203",
        unit_code="441900001001GB00023F00030127",
        mortgage=MortgageTerms(
            method=MortgageMethod.MAXIMUM,
            amount=Decimal("3200000.00"),
            term_start=date(2026, 11, 27),
            term_end=date(2046, 11, 26),
            rank=1,
            original_certificate="粤（2026）东莞市不动产权第0000001号",
        ),
        remarks=("抵押人：陈美玲、黄志强；债务人：陈美玲。",),
    )
