"""Shares of 按份共有 as exact fractions: parsed from "1/3" or "0.5", stored as "1/3", printed 三分之一.

民法典 第二百九十八条: "按份共有人按照其份额对共有的不动产或者动产享有所有权。" A share is a part of the whole, so
three equal owners hold exactly 1/3 each and their shares add up to exactly 1; a decimal (0.333333) cannot.
Shares are `fractions.Fraction` in the domain and a string "numerator/denominator" in JSON (the register's
facts, a case's input); decimals such as "0.5" or 0.25 are still accepted and read exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_DENOMINATOR = 1_000_000  # a share is a part a registry writes down, not an arbitrary rational
MAX_DECIMALS = 6  # what decimal shares could carry before fractions (0.000001)
_SHARE_PATTERN = r"^\s*([1-9][0-9]{0,6}\s*/\s*[1-9][0-9]{0,6}|0?\.[0-9]{1,6}|1(\.0{1,6})?)\s*$"


def _refuse(value: object, en: str, zh: str) -> PydanticCustomError:
    return PydanticCustomError(
        "share",
        "{reason_en} / {reason_zh}",
        {"reason_en": f"{en}: {value!r}", "reason_zh": f"{zh}：{value!r}"},
    )


def parse_share(value: Any) -> Fraction:
    """A share from "1/3", "0.5", 0.5, Decimal or Fraction: exact, 0 < share ≤ 1."""
    if isinstance(value, Fraction):
        share = value
    elif isinstance(value, bool):
        raise _refuse(
            value, "a share is a fraction such as 1/3 or 0.5", "份额应为分数（如1/3）或小数（如0.5）"
        )
    elif isinstance(value, str) and "/" in value:
        top, _, bottom = value.partition("/")
        try:
            numerator, denominator = int(top.strip()), int(bottom.strip())
        except ValueError:
            raise _refuse(
                value, "a share is a fraction such as 1/3", "份额分数格式应为“分子/分母”，如1/3"
            ) from None
        if denominator <= 0:
            raise _refuse(value, "the denominator must be positive", "份额的分母须为正整数")
        share = Fraction(numerator, denominator)
    elif isinstance(value, str | int | float | Decimal):
        try:
            exact = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            raise _refuse(
                value, "a share is a fraction such as 1/3 or 0.5", "份额应为分数（如1/3）或小数（如0.5）"
            ) from None
        if not exact.is_finite() or exact.as_tuple().exponent < -MAX_DECIMALS:  # type: ignore[operator]
            raise _refuse(
                value,
                f"a decimal share has at most {MAX_DECIMALS} decimals; write 1/3 as a fraction",
                f"小数份额至多{MAX_DECIMALS}位小数；三分之一等请写作分数1/3",
            )
        share = Fraction(exact)
    else:
        raise _refuse(
            value, "a share is a fraction such as 1/3 or 0.5", "份额应为分数（如1/3）或小数（如0.5）"
        )
    if not 0 < share <= 1:
        raise _refuse(value, "a share is more than 0 and at most 1", "份额须大于0且不超过1")
    if share.denominator > MAX_DENOMINATOR:
        raise _refuse(
            value,
            f"a share's denominator is at most {MAX_DENOMINATOR}",
            f"份额的分母不得超过{MAX_DENOMINATOR}",
        )
    return share


def share_text(share: Fraction) -> str:
    """The stored and API form: "1/3", "1/2", "1" for the whole."""
    return str(share)


Share = Annotated[
    Fraction,
    BeforeValidator(parse_share),
    PlainSerializer(share_text, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _SHARE_PATTERN},
                {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            ],
            "description": "按份共有的份额：分数（如 1/3）或小数（如 0.5）",
            "examples": ["1/3", "0.5"],
        }
    ),
]

_DIGITS = "零一二三四五六七八九"


def _number_zh(n: int, leading: bool = True) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 105 → 一百零五, 10010 → 一万零一十 (for the parts of a share)."""
    if n < 0:
        raise ValueError(n)
    if n < 10:
        return _DIGITS[n]
    if n < 20 and leading:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        rest = "" if low == 0 else ("零" if low < 1000 else "") + _number_zh(low, leading=False)
        return _number_zh(high) + "万" + rest
    out, pending_zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            if pending_zero and out:
                out += "零"
            out += _DIGITS[digit] + unit
            pending_zero = False
        else:
            pending_zero = True
    return out


def share_zh(share: Fraction) -> str:
    """How a certificate prints a share: a whole percent as such (60%), any other share as a Chinese
    fraction (三分之一, 八分之三): exact, where 33.33% would not be."""
    percent = share * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    return f"{_number_zh(share.denominator)}分之{_number_zh(share.numerator)}"
