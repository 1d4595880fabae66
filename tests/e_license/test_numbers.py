"""Certificate numbers: printing, parsing both bracket widths, per-registry patterns, precise refusals."""

from __future__ import annotations

import pytest

from e_license.numbers import CertificateKind, CertificateNumber, NumberFormat, format_number, parse_number
from gateway.errors import ConfigError, InputError
from gateway.settings import RegistrySettings

OWNERSHIP_1 = CertificateNumber("粤", 2026, "东莞市", CertificateKind.OWNERSHIP, 1)
PROOF_1 = CertificateNumber("粤", 2026, "东莞市", CertificateKind.PROOF, 1)


def test_prints_both_kinds_with_full_width_brackets() -> None:
    assert str(OWNERSHIP_1) == "粤（2026）东莞市不动产权第0000001号"
    assert format_number(PROOF_1) == "粤（2026）东莞市不动产证明第0000001号"


@pytest.mark.parametrize(
    "number", [OWNERSHIP_1, PROOF_1, CertificateNumber("粤", 2031, "东莞市", "proof", 9_999_999)]
)
@pytest.mark.parametrize("brackets", ["（）", "()", "（)", "(）"])
def test_parse_round_trips_either_bracket_width(number: CertificateNumber, brackets: str) -> None:
    printed = str(number)
    typed = printed.replace("（", brackets[0]).replace("）", brackets[1])
    parsed = parse_number(typed)
    assert parsed == number
    assert str(parsed) == printed  # always printed full-width


@pytest.mark.parametrize(
    ("text", "province", "year", "area", "kind", "seq"),
    [
        ("皖(2019)长丰县不动产证明第0010484号", "皖", 2019, "长丰县", CertificateKind.PROOF, 10484),
        ("桂（2017）南宁市不动产证明第0208814号", "桂", 2017, "南宁市", CertificateKind.PROOF, 208814),
        ("苏(2022)淮安市不动产权第0000001号", "苏", 2022, "淮安市", CertificateKind.OWNERSHIP, 1),
        ("赣（2021）南昌市不动产证明第1234567号", "赣", 2021, "南昌市", CertificateKind.PROOF, 1234567),
    ],
)
def test_parses_real_numbers_from_other_registries(
    text: str, province: str, year: int, area: str, kind: CertificateKind, seq: int
) -> None:
    assert parse_number(text) == CertificateNumber(province, year, area, kind, seq)


def test_tolerates_spaces_and_full_width_digits_from_scans() -> None:
    assert parse_number(" 粤 (２０２６) 东莞市 不动产权第 0000001 号 ") == OWNERSHIP_1


@pytest.mark.parametrize(
    ("text", "reason_zh"),
    [
        ("", "证号为空"),
        ("粤（2026）东莞市不动产权第0000001", "须以“号”结尾"),
        ("粤2026东莞市不动产权第0000001号", "括号内的四位数字"),
        ("粤（26）东莞市不动产权第0000001号", "括号内的四位数字"),
        ("粤（2026）东莞市不动产第0000001号", "不动产权第"),
        ("粤（2026）东莞市不动产权第号", "须为数字顺序号"),
        ("苏(2019)海门市不动产证明第020号", "顺序号须为7位数字，实为3位"),
        ("粤（2014）东莞市不动产权第0000001号", "登记年度2014不在2015"),
        ("粤（2026）东莞市不动产权第0000000号", "顺序号0须不小于1"),
        ("粤（2026）不动产权第0000001号", "不符合本登记机构的证号格式"),
    ],
)
def test_refuses_with_the_precise_reason(text: str, reason_zh: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_number(text)
    assert reason_zh in caught.value.message_zh
    assert caught.value.errors and caught.value.errors[0].reason_en


def test_a_registry_pattern_reads_its_own_local_style() -> None:
    shanghai = NumberFormat("{province}（{year}）{area}字不动产{kind}第{seq:06d}号")
    number = shanghai.parse("沪(2022)宝字不动产权第011468号")
    assert number == CertificateNumber("沪", 2022, "宝", CertificateKind.OWNERSHIP, 11468)
    assert shanghai.format(number) == "沪（2022）宝字不动产权第011468号"
    with pytest.raises(InputError, match="7 digits, not 6"):
        parse_number("沪(2022)宝字不动产权第011468号")  # the default pattern refuses it


def test_registry_settings_drive_the_number() -> None:
    registry = RegistrySettings(province_abbr="苏", area_name="淮安市")
    number = CertificateNumber.for_registry(registry, CertificateKind.OWNERSHIP, 2022, 1)
    assert NumberFormat.for_registry(registry).format(number) == "苏（2022）淮安市不动产权第0000001号"


def test_a_sequence_wider_than_the_pattern_is_refused_not_printed() -> None:
    with pytest.raises(InputError, match="more than 7 digits"):
        str(CertificateNumber("粤", 2026, "东莞市", CertificateKind.PROOF, 10_000_000))


@pytest.mark.parametrize(
    "pattern",
    ["{province}（{year}）{area}不动产第{seq:07d}号", "{province}{year}{area}{kind}{seq}{oops}", "{province"],
)
def test_a_broken_pattern_is_a_configuration_error(pattern: str) -> None:
    with pytest.raises(ConfigError):
        NumberFormat(pattern)
