"""Certificate numbers (证号) such as 粤（2026）东莞市不动产权第0000001号: format and parse per registry pattern."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from gateway.errors import ConfigError, FieldReason, InputError
from gateway.settings import RegistrySettings

DEFAULT_NUMBER_PATTERN: str = RegistrySettings().number_pattern
# Unified real-estate registration (不动产统一登记) began in 2015; no number in this form is older.
FIRST_YEAR = 2015
_FIELDS = frozenset({"province", "year", "area", "kind", "seq"})
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_WHITESPACE = re.compile(r"\s+")


class CertificateKind(StrEnum):
    """The two documents a registry issues (domain.md §1.1)."""

    OWNERSHIP = "ownership"  # 不动产权证书: ownership-type rights
    PROOF = "proof"  # 不动产登记证明: mortgage, easement, pre-registration, objection

    @property
    def number_word(self) -> str:
        """The word in the number: 不动产**权**第… / 不动产**证明**第…."""
        return "权" if self is CertificateKind.OWNERSHIP else "证明"

    @property
    def name_zh(self) -> str:
        """证照名称 as shown on verification pages."""
        return "不动产权证书" if self is CertificateKind.OWNERSHIP else "不动产登记证明"

    @property
    def title_zh(self) -> str:
        """The title printed at the top of the certificate."""
        return "中华人民共和国不动产权证书" if self is CertificateKind.OWNERSHIP else "不动产登记证明"

    @classmethod
    def from_number_word(cls, word: str) -> CertificateKind:
        return cls.OWNERSHIP if word == "权" else cls.PROOF


def _refuse(reason_en: str, reason_zh: str, field: str = "number") -> InputError:
    return InputError(
        f"invalid certificate number: {reason_en}",
        f"不动产权证书/证明号无效：{reason_zh}",
        [FieldReason(field, reason_zh, reason_en)],
    )


@dataclass(frozen=True, order=True)
class CertificateNumber:
    """One certificate number; `str()` prints it with the default pattern and full-width brackets."""

    province: str  # 省级简称, e.g. 粤
    year: int  # 登记年度
    area: str  # 市县名称, e.g. 东莞市
    kind: CertificateKind
    seq: int  # per registry, year and kind; never reused (一证一号)

    def __post_init__(self) -> None:
        if not self.province or _WHITESPACE.search(self.province):
            raise _refuse("the province abbreviation is empty", "省级简称为空", "province")
        if not self.area or _WHITESPACE.search(self.area):
            raise _refuse("the city/county name is empty", "市县名称为空", "area")
        if not FIRST_YEAR <= self.year <= 9999:
            raise _refuse(
                f"year {self.year} is outside {FIRST_YEAR}–9999",
                f"登记年度{self.year}不在{FIRST_YEAR}–9999之间",
                "year",
            )
        if self.seq < 1:
            raise _refuse(
                f"sequence number {self.seq} must be at least 1", f"顺序号{self.seq}须不小于1", "seq"
            )
        object.__setattr__(self, "kind", CertificateKind(self.kind))

    @classmethod
    def for_registry(
        cls, registry: RegistrySettings, kind: CertificateKind, year: int, seq: int
    ) -> CertificateNumber:
        return cls(registry.province_abbr, year, registry.area_name, kind, seq)

    def format(self, pattern: str = DEFAULT_NUMBER_PATTERN) -> str:
        return NumberFormat(pattern).format(self)

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class _Compiled:
    regex: re.Pattern[str]
    seq_width: int | None  # None: any number of digits


@lru_cache(maxsize=32)
def _compile(pattern: str) -> _Compiled:
    """Turn a `str.format` pattern into an anchored regex that accepts either bracket width."""
    parts: list[str] = []
    seen: list[str] = []
    seq_width: int | None = None
    try:
        pieces = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ConfigError(f"number_pattern {pattern!r} is not a format string: {exc}") from exc
    for literal, field, spec, _conversion in pieces:
        for ch in literal:
            if ch in "（(":
                parts.append("[（(]")
            elif ch in "）)":
                parts.append("[）)]")
            else:
                parts.append(re.escape(ch))
        if field is None:
            continue
        if field not in _FIELDS or field in seen:
            raise ConfigError(f"number_pattern {pattern!r}: unknown or repeated field {{{field}}}")
        seen.append(field)
        if field == "province":
            parts.append(r"(?P<province>\S+?)")
        elif field == "year":
            parts.append(r"(?P<year>\d{4})")
        elif field == "area":
            parts.append(r"(?P<area>\S+?)")
        elif field == "kind":
            parts.append("(?P<kind>权|证明)")
        else:
            width = re.fullmatch(r"0?(\d+)d", spec or "")
            seq_width = int(width.group(1)) if width else None
            parts.append(rf"(?P<seq>\d{{{seq_width}}})" if seq_width else r"(?P<seq>\d+)")
    if set(seen) != _FIELDS:
        missing = ", ".join(sorted(_FIELDS - set(seen)))
        raise ConfigError(f"number_pattern {pattern!r} lacks the fields: {missing}")
    return _Compiled(re.compile("^" + "".join(parts) + "$"), seq_width)


@dataclass(frozen=True)
class NumberFormat:
    """A registry's number pattern (`RegistrySettings.number_pattern`), e.g. Shanghai's 沪(2022)宝字不动产权第011468号."""

    pattern: str = DEFAULT_NUMBER_PATTERN

    def __post_init__(self) -> None:
        _compile(self.pattern)  # a bad pattern is a start-up error, not a surprise at 缮证

    @classmethod
    def for_registry(cls, registry: RegistrySettings) -> NumberFormat:
        return cls(registry.number_pattern)

    def format(self, number: CertificateNumber) -> str:
        width = _compile(self.pattern).seq_width
        if width is not None and len(str(number.seq)) > width:
            raise _refuse(
                f"sequence number {number.seq} has more than {width} digits",
                f"顺序号{number.seq}超过{width}位",
                "seq",
            )
        return self.pattern.format(
            province=number.province,
            year=number.year,
            area=number.area,
            kind=number.kind.number_word,
            seq=number.seq,
        )

    def parse(self, text: str) -> CertificateNumber:
        """Parse a number typed or scanned anywhere: full- or half-width brackets, stray spaces."""
        compiled = _compile(self.pattern)
        cleaned = _WHITESPACE.sub("", text or "").translate(_FULL_WIDTH_DIGITS)
        match = compiled.regex.match(cleaned)
        if match is None:
            raise self._diagnose(cleaned, compiled.seq_width)
        return CertificateNumber(
            province=match["province"],
            year=int(match["year"]),
            area=match["area"],
            kind=CertificateKind.from_number_word(match["kind"]),
            seq=int(match["seq"]),
        )

    def _diagnose(self, cleaned: str, seq_width: int | None) -> InputError:
        """Name the first thing wrong, so a clerk sees what to fix instead of 'no match'."""
        if not cleaned:
            return _refuse("it is empty", "证号为空")
        if not cleaned.endswith("号"):
            return _refuse("it must end with 号", "证号须以“号”结尾")
        if not re.search(r"[（(]\d{4}[）)]", cleaned):
            return _refuse(
                "the year must be four digits in brackets, e.g. （2026）",
                "登记年度须为括号内的四位数字，如（2026）",
            )
        if not re.search("不动产(权|证明)第", cleaned):
            return _refuse(
                "it must contain 不动产权第 or 不动产证明第", "证号须含“不动产权第”或“不动产证明第”"
            )
        seq = re.search(r"第(\d*)号$", cleaned)
        if seq is None or not seq.group(1):
            return _refuse(
                "the sequence number between 第 and 号 must be digits", "“第”与“号”之间须为数字顺序号"
            )
        if seq_width is not None and len(seq.group(1)) != seq_width:
            return _refuse(
                f"the sequence number must have {seq_width} digits, not {len(seq.group(1))}",
                f"顺序号须为{seq_width}位数字，实为{len(seq.group(1))}位",
            )
        return _refuse(
            f"it does not follow this registry's pattern {self.pattern}",
            f"不符合本登记机构的证号格式：{self.pattern}",
        )


def format_number(number: CertificateNumber, pattern: str = DEFAULT_NUMBER_PATTERN) -> str:
    return NumberFormat(pattern).format(number)


def parse_number(text: str, pattern: str = DEFAULT_NUMBER_PATTERN) -> CertificateNumber:
    return NumberFormat(pattern).parse(text)
