"""Resident ID, credit code and unit code validation with real values, each refusal with its reason."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from gateway.domain.identifiers import (
    CreditCode,
    ResidentId,
    UnitCode,
    credit_code_check_char,
    mask_id_number,
    mask_name,
    mask_phone,
    parse_credit_code,
    parse_resident_id,
    parse_unit_code,
    redact,
    resident_id_check_char,
    validate_resident_id,
)
from gateway.errors import InputError

# --- resident ID -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "female"),  # the example printed in GB 11643
        ("440524188001010014", date(1880, 1, 1), "male"),  # the standard's second example
        ("441900199001011231", date(1990, 1, 1), "male"),  # a Dongguan number built with the check digit
    ],
)
def test_valid_resident_ids_are_accepted_with_their_birth_date_and_sex(
    number: str, birth: date, sex: str
) -> None:
    info = parse_resident_id(number)
    assert (info.number, info.birth_date, info.sex, info.region_code) == (number, birth, sex, number[:6])


def test_resident_id_is_normalised_lower_case_x_and_spaces() -> None:
    assert validate_resident_id(" 110105 19491231 002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("11010519491231002", "应为18位", "18 characters, got 17"),
        ("1101051949123100AX", "前17位应为数字", "17 digits followed by"),
        ("11010519491231002Y", "前17位应为数字", "17 digits followed by"),
        ("990105199001011234", "行政区划代码990105不存在", "region code 990105"),
        ("110105199002300000", "出生日期19900230不是有效日期", "19900230 is not a calendar date"),
        ("110105209901010000", "不在合理范围内", "in the future"),
        ("110105194912310021", "校验码错误", "check character"),
    ],
)
def test_each_invalid_resident_id_is_refused_with_its_reason(value: str, zh: str, en: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_resident_id(value, field="buyer.id_number", today=date(2026, 11, 27))
    (reason,) = caught.value.errors
    assert reason.field == "buyer.id_number"
    assert zh in reason.reason_zh
    assert en in reason.reason_en


def test_check_character_helper_builds_valid_numbers() -> None:
    first17 = "44190020000229002"
    assert parse_resident_id(first17 + resident_id_check_char(first17)).birth_date == date(2000, 2, 29)


# --- unified social credit code ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91110000802100433B",  # an enterprise registered in Beijing
        "11100000MB0341032Y",  # 自然资源部
        "11420503087246977F",  # a Hubei registry
        "11330105002500287C",  # a Zhejiang agency
    ],
)
def test_real_credit_codes_are_accepted(code: str) -> None:
    info = parse_credit_code(code.lower())
    assert info.code == code
    assert info.region_code == code[2:8]
    assert info.organization_code == code[8:17]


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("9111000080210043B", "应为18位", "18 characters, got 17"),
        ("91110000802I00433B", "不允许的字符：I", "not allowed in a unified social credit code: I"),
        ("91110000802100433O", "不允许的字符：O", "I, O, Z, S, V are never used"),
        ("01110000802100433B", "登记管理部门代码0无效", "registration authority code 0"),
        ("911A0000802100433B", "第3至8位", "region code"),
        ("91110000802100433C", "校验码错误", "check character"),
    ],
)
def test_each_invalid_credit_code_is_refused_with_its_reason(value: str, zh: str, en: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_credit_code(value)
    (reason,) = caught.value.errors
    assert reason.field == "credit_code"
    assert zh in reason.reason_zh
    assert en in reason.reason_en


def test_credit_code_check_character_helper() -> None:
    assert credit_code_check_char("91440300MA5FUTT53") == "6"
    assert parse_credit_code("91440300MA5FUTT536").registration_authority == "9"


# --- 不动产单元号 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "440106001001GB00001F00010001",
        "320505400202GB00001F00010069",
        "370105012002GB00001F00010751",
        "340121261006GB00014F00220045",
        "320684100302JA00001W00000000",
        "320684108205GE00160L00010001",
    ],
)
def test_real_unit_codes_are_accepted(code: str) -> None:
    assert parse_unit_code(code).code == code


def test_unit_code_parts_and_print_form() -> None:
    parts = parse_unit_code("441900 001001 gb00001 f00010001")
    assert parts.code == "441900001001GB00001F00010001"
    assert parts.print_form == "441900 001001 GB00001 F00010001"
    assert (parts.admin_code, parts.cadastral_district, parts.cadastral_subdistrict) == (
        "441900",
        "001",
        "001",
    )
    assert (parts.ownership_code, parts.use_code, parts.parcel_seq) == ("G", "B", "00001")
    assert (parts.fixture_code, parts.building_no, parts.room_no) == ("F", "0001", "0001")
    assert parts.parcel_code == "441900001001GB00001"
    assert parse_unit_code("320684100302JA00001W00000000").building_no is None


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("441900001001GB00001F0001000", "应为28位", "28 characters, got 27"),
        ("44190A001001GB00001F00010001", "县级行政区划代码", "county code"),
        ("441900A01001GB00001F00010001", "地籍区代码", "cadastral district"),
        ("4419000010A1GB00001F00010001", "地籍子区", "cadastral subdistrict"),
        ("441900001001QB00001F00010001", "所有权特征码Q无效", "must be G, J or Z"),
        ("441900001001GI00001F00010001", "使用权特征码I无效", "land use right"),
        ("441900001001GB0000AF00010001", "宗地顺序号应为数字", "parcel number"),
        ("441900001001GB00000F00010001", "宗地顺序号不能为00000", "cannot be 00000"),
        ("441900001001GB00001H00010001", "定着物特征码H无效", "must be F, L, Q or W"),
        ("441900001001GB00001F0001000A", "定着物单元编号应为数字", "fixture number"),
        ("441900001001GB00001F00000001", "幢号", "building number"),
        ("441900001001GB00001F00010000", "户号", "room number"),
    ],
)
def test_each_invalid_unit_code_is_refused_with_its_reason(value: str, zh: str, en: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_unit_code(value)
    (reason,) = caught.value.errors
    assert zh in reason.reason_zh
    assert en in reason.reason_en


# --- pydantic field types ----------------------------------------------------------------------------


class Applicant(BaseModel):
    id_number: ResidentId
    employer: CreditCode
    unit: UnitCode


def test_annotated_types_normalise_valid_values() -> None:
    a = Applicant(
        id_number="11010519491231002x", employer="91110000802100433b", unit="441900 001001 GB00001 F00010001"
    )
    assert (a.id_number, a.employer, a.unit) == (
        "11010519491231002X",
        "91110000802100433B",
        "441900001001GB00001F00010001",
    )


def test_annotated_types_report_both_languages_per_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Applicant(
            id_number="110105194912310021", employer="91110000802100433B", unit="441900001001GB00000F00010001"
        )
    errors = {e["loc"][0]: e for e in caught.value.errors()}
    assert set(errors) == {"id_number", "unit"}
    assert "check character" in errors["id_number"]["ctx"]["reason_en"]
    assert "校验码错误" in errors["id_number"]["ctx"]["reason_zh"]
    assert "00000" in errors["unit"]["msg"]


# --- masking -----------------------------------------------------------------------------------------


def test_masks_for_logs_and_public_pages() -> None:
    assert mask_id_number("441900199001011234") == "441900********1234"
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("张") == "*"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0769-22123456") == "076*-****3456"
    assert mask_phone("95588") == "***88"


def test_redact_masks_ids_and_mobiles_inside_text_but_not_other_numbers() -> None:
    line = "buyer 11010519491231002X phone 13812345678 case 20261127000001234567 amount 1200000"
    assert redact(line) == (
        "buyer 110105********002X phone 138****5678 case 20261127000001234567 amount 1200000"
    )
