"""Certificate content: official row order, printed forms, and refusals of inconsistent content."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from e_license.content import (
    MortgageMethod,
    MortgageTerms,
    OwnershipCertificateContent,
    RegistrationProofContent,
)
from e_license.samples import sample_ownership, sample_proof

OWNERSHIP_ROWS = [
    "权利人",
    "共有情况",
    "坐落",
    "不动产单元号",
    "权利类型",
    "权利性质",
    "用途",
    "面积",
    "使用期限",
    "权利其他状况",
]
PROOF_ROWS = ["证明权利或事项", "权利人（申请人）", "义务人", "坐落", "不动产单元号", "其他"]


def test_ownership_rows_follow_the_official_sample() -> None:
    rows = dict(sample_ownership().rows())
    assert list(rows) == OWNERSHIP_ROWS
    assert rows["权利人"] == "陈美玲、黄志强"
    assert rows["共有情况"] == "按份共有：陈美玲占60%，黄志强占40%"
    assert rows["不动产单元号"] == "441900 001001 GB00023 F00030127"
    assert rows["面积"] == "共有宗地面积21536.40㎡/房屋建筑面积98.76㎡"
    assert rows["使用期限"] == "2015年10月16日起2085年10月15日止"


def test_proof_rows_carry_the_mortgage_terms_in_other() -> None:
    rows = dict(sample_proof().rows())
    assert list(rows) == PROOF_ROWS
    assert rows["其他"].splitlines() == [
        "抵押方式：最高额抵押",
        "最高债权额：3,200,000.00元",
        "债权确定期间：2026年11月27日起2046年11月26日止",
        "抵押顺位：1",
        "原不动产权证号：粤（2026）东莞市不动产权第0000001号",
    ]


def test_a_general_mortgage_prints_its_own_labels() -> None:
    terms = MortgageTerms(
        method=MortgageMethod.GENERAL,
        amount=Decimal("880000.5"),
        term_start=date(2026, 1, 1),
        term_end=date(2056, 1, 1),
        rank=2,
    )
    assert terms.lines()[:4] == [
        "抵押方式：一般抵押",
        "被担保主债权数额：880,000.50元",
        "债务履行期限：2026年1月1日起2056年1月1日止",
        "抵押顺位：2",
    ]


def test_content_survives_a_json_round_trip_with_decimals_intact() -> None:
    proof = sample_proof()
    again = RegistrationProofContent.model_validate_json(proof.model_dump_json())
    assert again == proof
    assert again.mortgage is not None and again.mortgage.amount == Decimal("3200000.00")
    assert isinstance(again.mortgage.amount, Decimal)


def _ownership(**changes: Any) -> OwnershipCertificateContent:
    data = sample_ownership().model_dump()
    data.update(changes)
    return OwnershipCertificateContent.model_validate(data)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"co_ownership": "单独所有"}, "单独所有只能有一个权利人，实有2个"),
        (
            {
                "holders": [
                    {"name": "陈美玲", "share": "3/5"},
                    {"name": "黄志强", "share": "0.3"},
                ]
            },
            "实为9/10",
        ),
        ({"holders": [{"name": "陈美玲", "share": "3/5"}, {"name": "黄志强"}]}, "须写明每人份额"),
        ({"co_ownership": "共同共有"}, "只有按份共有才写份额"),
        ({"holders": [{"name": "陈美玲"}], "co_ownership": "共同共有"}, "两个以上权利人"),
        ({"land_area": None, "building_area": None}, "面积至少填写一项"),
        ({"term_end": None}, "同时有起止日期"),
        ({"unit_code": "441900001001GB00023F0003012"}, "28位"),
        ({"building_area": "98.765"}, "至多两位小数"),
        ({"verification_url": "bdc.dg.gov.cn/verify/x"}, "verification_url"),
        (
            {"number": {"province": "粤", "year": 2026, "area": "东莞市", "kind": "proof", "seq": 1}},
            "证号种类",
        ),
    ],
)
def test_inconsistent_ownership_content_is_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        _ownership(**changes)


def test_a_mortgage_proof_needs_its_terms_and_a_positive_amount() -> None:
    data = sample_proof().model_dump()
    with pytest.raises(ValidationError, match="抵押权证明须有"):
        RegistrationProofContent.model_validate({**data, "mortgage": None})
    data["mortgage"]["amount"] = "0"
    with pytest.raises(ValidationError, match="金额须为正数"):
        RegistrationProofContent.model_validate(data)


def test_unit_code_is_normalised_from_its_printed_groups() -> None:
    assert _ownership(unit_code="441900 001001 gb00023 f00030127").unit_code == "441900001001GB00023F00030127"
