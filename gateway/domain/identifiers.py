"""Citizen and register identifiers: resident ID, unified social credit code, unit code, and masking."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from gateway.errors import FieldReason, InputError

__all__ = [
    "CreditCode",
    "CreditCodeInfo",
    "ResidentId",
    "ResidentIdInfo",
    "UnitCode",
    "UnitCodeParts",
    "credit_code_check_char",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "parse_credit_code",
    "parse_resident_id",
    "parse_unit_code",
    "redact",
    "resident_id_check_char",
    "validate_credit_code",
    "validate_resident_id",
    "validate_unit_code",
]


def _refuse(field: str, reason_zh: str, reason_en: str) -> InputError:
    return InputError(reason_en, reason_zh, [FieldReason(field, reason_zh, reason_en)])


_SEPARATORS = re.compile(r"[\s\-_]")


def _normalise(value: str) -> str:
    # People paste codes with spaces, group separators and lower-case letters; none of them carry meaning.
    if value.isalnum():  # the usual case, a code as stored: no separators to strip (~10x faster)
        return value.upper()
    return _SEPARATORS.sub("", value).upper()


# --- resident ID (公民身份号码, GB 11643-1999) -------------------------------------------------------

_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
# First two digits of GB/T 2260 codes: provinces, plus 81/82/83 used by 港澳台居民居住证.
_PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42"}
    | {"43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
    | {"83"}
)
_EARLIEST_BIRTH = date(1850, 1, 1)  # GB 11643's own example is born in 1880


@dataclass(frozen=True)
class ResidentIdInfo:
    """A valid 18-character resident ID and what it encodes."""

    number: str
    region_code: str
    birth_date: date
    sex: Literal["male", "female"]


def resident_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits (`X` stands for 10)."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    total = sum(int(ch) * weight for ch, weight in zip(first17, _RESIDENT_WEIGHTS, strict=True))
    return _RESIDENT_CHECK[total % 11]


def parse_resident_id(value: str, *, field: str = "id_number", today: date | None = None) -> ResidentIdInfo:
    """Validate a resident ID; raise `InputError` naming the first thing wrong with it."""
    number = _normalise(value)
    if len(number) != 18:
        raise _refuse(
            field,
            f"身份证号码应为18位，实际为{len(number)}位",
            f"a resident ID has 18 characters, got {len(number)}",
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise _refuse(
            field,
            "身份证号码前17位应为数字，第18位应为数字或X",
            "a resident ID is 17 digits followed by a digit or X",
        )
    if number[:2] not in _PROVINCE_CODES:
        raise _refuse(
            field,
            f"身份证号码的行政区划代码{number[:6]}不存在（省级代码{number[:2]}无效）",
            f"region code {number[:6]} does not exist (no province {number[:2]})",
        )
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _refuse(
            field,
            f"身份证号码中的出生日期{number[6:14]}不是有效日期",
            f"birth date {number[6:14]} is not a calendar date",
        ) from None
    if not _EARLIEST_BIRTH <= birth <= (today or date.today()):
        raise _refuse(
            field,
            f"身份证号码中的出生日期{number[6:14]}不在合理范围内",
            f"birth date {number[6:14]} is in the future or implausibly early",
        )
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise _refuse(
            field,
            "身份证号码校验码错误（第18位不符合GB 11643校验规则）",
            "the check character (18th) does not match GB 11643 (ISO 7064 MOD 11-2)",
        )
    return ResidentIdInfo(
        number=number,
        region_code=number[:6],
        birth_date=birth,
        sex="male" if int(number[16]) % 2 else "female",
    )


# --- unified social credit code (统一社会信用代码, GB 32100-2015) ----------------------------------------

_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# 登记管理部门代码 (GB 32100 table 1)
_REGISTRATION_AUTHORITIES = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "市场监管（工商）",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}


@dataclass(frozen=True)
class CreditCodeInfo:
    """A valid unified social credit code and its parts."""

    code: str
    registration_authority: str  # 登记管理部门代码
    category: str  # 机构类别代码
    region_code: str  # 登记管理机关行政区划码
    organization_code: str  # 主体标识码 (组织机构代码), 9 characters


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character (MOD 31) for the first 17 characters."""
    if len(first17) != 17 or any(ch not in _CREDIT_ALPHABET for ch in first17):
        raise ValueError("need exactly 17 characters of the GB 32100 alphabet")
    total = sum(
        _CREDIT_ALPHABET.index(ch) * weight for ch, weight in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def parse_credit_code(value: str, *, field: str = "credit_code") -> CreditCodeInfo:
    """Validate a unified social credit code; raise `InputError` naming the first thing wrong with it."""
    code = _normalise(value)
    if len(code) != 18:
        raise _refuse(
            field,
            f"统一社会信用代码应为18位，实际为{len(code)}位",
            f"a unified social credit code has 18 characters, got {len(code)}",
        )
    bad = sorted({ch for ch in code if ch not in _CREDIT_ALPHABET})
    if bad:
        shown = "".join(bad)
        raise _refuse(
            field,
            f"统一社会信用代码含有不允许的字符：{shown}（不使用I、O、Z、S、V）",
            f"characters not allowed in a unified social credit code: {shown} (I, O, Z, S, V are never used)",
        )
    if code[0] not in _REGISTRATION_AUTHORITIES:
        raise _refuse(
            field,
            f"统一社会信用代码第1位登记管理部门代码{code[0]}无效",
            f"registration authority code {code[0]} (1st character) does not exist",
        )
    if not code[2:8].isdigit():
        raise _refuse(
            field,
            "统一社会信用代码第3至8位应为行政区划代码（数字）",
            "characters 3–8 must be the digits of a region code",
        )
    if code[17] != credit_code_check_char(code[:17]):
        raise _refuse(
            field,
            "统一社会信用代码校验码错误（第18位不符合GB 32100校验规则）",
            "the check character (18th) does not match GB 32100",
        )
    return CreditCodeInfo(
        code=code,
        registration_authority=code[0],
        category=code[1],
        region_code=code[2:8],
        organization_code=code[8:17],
    )


# --- 不动产单元代码 (GB/T 37346-2019, 28 characters, no check digit) ----------------------------------

_OWNERSHIP_CODES = "GJZ"  # 国家 / 集体 / 未确定
_USE_CODES = "ABSXCDEFHGLNWY"  # 宗地/宗海特征码 second character
_FIXTURE_CODES = "FLQW"  # 房屋 / 林木 / 其他 / 无定着物


@dataclass(frozen=True)
class UnitCodeParts:
    """A valid 28-character unit code and its seven layers."""

    code: str
    admin_code: str  # 县级行政区划代码 (6)
    cadastral_district: str  # 地籍区 (3)
    cadastral_subdistrict: str  # 地籍子区 (3)
    ownership_code: str  # 宗地特征码 1st: G / J / Z
    use_code: str  # 宗地特征码 2nd
    parcel_seq: str  # 宗地顺序号 (5)
    fixture_code: str  # 定着物特征码: F / L / Q / W
    fixture_number: str  # 定着物单元编号 (8)

    @property
    def parcel_code(self) -> str:
        """宗地代码: the first 19 characters."""
        return self.code[:19]

    @property
    def building_no(self) -> str | None:
        """幢号 of a house (F), else None."""
        return self.fixture_number[:4] if self.fixture_code == "F" else None

    @property
    def room_no(self) -> str | None:
        """户号 of a house (F), else None."""
        return self.fixture_number[4:] if self.fixture_code == "F" else None

    @property
    def print_form(self) -> str:
        """The four groups printed on certificates: `441900 001001 GB00001 F00010001`."""
        c = self.code
        return f"{c[:6]} {c[6:12]} {c[12:19]} {c[19:]}"


def parse_unit_code(value: str, *, field: str = "unit_code") -> UnitCodeParts:
    """Validate a unit code per GB/T 37346 (domain.md §2.6); raise `InputError` with the precise reason."""
    code = _normalise(value)
    if len(code) != 28:
        raise _refuse(
            field,
            f"不动产单元号应为28位，实际为{len(code)}位",
            f"a unit code has 28 characters, got {len(code)}",
        )
    checks = (
        (
            code[0:6].isdigit(),
            "第1–6位县级行政区划代码应为数字",
            "characters 1–6 (county code) must be digits",
        ),
        (
            code[6:9].isdigit(),
            "第7–9位地籍区代码应为数字",
            "characters 7–9 (cadastral district) must be digits",
        ),
        (
            code[9:12].isdigit(),
            "第10–12位地籍子区代码应为数字",
            "characters 10–12 (cadastral subdistrict) must be digits",
        ),
        (
            code[12] in _OWNERSHIP_CODES,
            f"第13位宗地所有权特征码{code[12]}无效（应为G、J或Z）",
            f"character 13 (land ownership) {code[12]} must be G, J or Z",
        ),
        (
            code[13] in _USE_CODES,
            f"第14位宗地使用权特征码{code[13]}无效",
            f"character 14 (land use right) {code[13]} is not a GB/T 37346 code",
        ),
        (
            code[14:19].isdigit(),
            "第15–19位宗地顺序号应为数字",
            "characters 15–19 (parcel number) must be digits",
        ),
        (code[14:19] != "00000", "宗地顺序号不能为00000", "the parcel number cannot be 00000"),
        (
            code[19] in _FIXTURE_CODES,
            f"第20位定着物特征码{code[19]}无效（应为F、L、Q或W）",
            f"character 20 (fixture kind) {code[19]} must be F, L, Q or W",
        ),
        (
            code[20:28].isdigit(),
            "第21–28位定着物单元编号应为数字",
            "characters 21–28 (fixture number) must be digits",
        ),
    )
    for ok, reason_zh, reason_en in checks:
        if not ok:
            raise _refuse(field, reason_zh, reason_en)
    if code[19] == "F":
        if code[20:24] == "0000":
            raise _refuse(field, "房屋幢号应在0001–9999之间", "the building number must be 0001–9999")
        if code[24:28] == "0000":
            raise _refuse(field, "房屋户号应在0001–9999之间", "the room number must be 0001–9999")
    return UnitCodeParts(
        code=code,
        admin_code=code[0:6],
        cadastral_district=code[6:9],
        cadastral_subdistrict=code[9:12],
        ownership_code=code[12],
        use_code=code[13],
        parcel_seq=code[14:19],
        fixture_code=code[19],
        fixture_number=code[20:28],
    )


# --- one-call validators: the normalised value or InputError ----------------------------------------


def validate_resident_id(value: str, *, field: str = "id_number") -> str:
    """The normalised resident ID (upper-case X, no spaces), or `InputError` with the reason."""
    return parse_resident_id(value, field=field).number


def validate_credit_code(value: str, *, field: str = "credit_code") -> str:
    """The normalised unified social credit code, or `InputError` with the reason."""
    return parse_credit_code(value, field=field).code


def validate_unit_code(value: str, *, field: str = "unit_code") -> str:
    """The normalised 28-character unit code, or `InputError` with the reason."""
    return parse_unit_code(value, field=field).code


# --- pydantic field types ----------------------------------------------------------------------------


def _pydantic_check(kind: str, parse: Callable[[str], str]) -> BeforeValidator:
    def validate(value: object) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError(kind, "must be a string / 应为字符串")
        try:
            return parse(value)
        except InputError as exc:
            reason = exc.errors[0]
            # ctx carries both languages so the API's error handler can build FieldReasons from it.
            raise PydanticCustomError(
                kind,
                "{reason_en} / {reason_zh}",
                {"reason_en": reason.reason_en, "reason_zh": reason.reason_zh},
            ) from None

    return BeforeValidator(validate)


ResidentId = Annotated[str, _pydantic_check("resident_id", validate_resident_id)]
"""A pydantic field type: a valid resident ID, normalised (upper-case X, no spaces)."""
CreditCode = Annotated[str, _pydantic_check("credit_code", validate_credit_code)]
"""A pydantic field type: a valid unified social credit code, normalised."""
UnitCode = Annotated[str, _pydantic_check("unit_code", validate_unit_code)]
"""A pydantic field type: a valid 28-character unit code, normalised (no spaces, upper-case)."""


# --- masking for logs and public pages ---------------------------------------------------------------


def mask_id_number(value: str) -> str:
    """Keep the region (first 6) and the last 4: `441900********1234`; short values keep only the last 2."""
    text = _normalise(value)
    if len(text) > 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    return "*" * max(len(text) - 2, 0) + text[-2:]


def mask_name(value: str) -> str:
    """Keep the first character: `张三丰` → `张**`, `张三` → `张*`."""
    name = value.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 digits of a phone number, separators intact: `138****5678`."""
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    # Short numbers (extensions, service numbers) keep only their last two digits.
    keep = set(digits[-2:]) if len(digits) <= 7 else set(digits[:3] + digits[-4:])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(value))


_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
# Alphanumeric boundaries on both: a digit run inside a hex id (request, case, delivery ids) is not a
# number to mask, or an id a bank quotes could no longer be found in the logs.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)(\d{4})(\d{4})(?![0-9A-Za-z])")


def redact(text: str) -> str:
    """Mask every 18-character ID number and 11-digit mobile number inside free text (a log processor)."""
    text = _ID_IN_TEXT.sub(lambda m: f"{m.group(1)}********{m.group(3)}", text)
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
