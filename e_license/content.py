"""What a certificate says: typed content of 不动产权证书 and 不动产登记证明, in the official row order."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.domain.register import LandUseTerm
from gateway.domain.shares import Share, share_text, share_zh

from .identifier import LicenseIdentifier
from .numbers import DEFAULT_NUMBER_PATTERN, CertificateKind, CertificateNumber, NumberFormat

_UNIT_CODE_RE = re.compile(r"[0-9A-Z]{28}")


def _normalise_unit_code(value: str) -> str:
    # Full validation (GB/T 37346 structure) belongs to gateway.domain; here only what printing needs.
    code = re.sub(r"\s+", "", value).upper()
    if not _UNIT_CODE_RE.fullmatch(code):
        raise ValueError(
            f"不动产单元号须为28位数字或大写字母 / unit code must be 28 characters, got {value!r}"
        )
    return code


def _positive_money(value: Decimal) -> Decimal:
    if value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(
            f"金额须为正数且至多两位小数 / amount must be positive with at most 2 decimals: {value}"
        )
    return value


def _positive_area(value: Decimal) -> Decimal:
    if value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(
            f"面积须为正数且至多两位小数 / area must be positive with at most 2 decimals: {value}"
        )
    return value


UnitCodeText = Annotated[str, AfterValidator(_normalise_unit_code)]
Money = Annotated[Decimal, AfterValidator(_positive_money)]  # 元
Area = Annotated[Decimal, AfterValidator(_positive_area)]  # square metres
Lines = tuple[str, ...]


def unit_code_groups(code: str) -> str:
    """The four printed groups: 行政区划 / 地籍区+地籍子区 / 宗地号 / 定着物编码 (domain.md §2.1)."""
    return f"{code[:6]} {code[6:12]} {code[12:19]} {code[19:]}"


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def money_text(amount: Decimal) -> str:
    """1234567.5 → 1,234,567.50元: what registries print on a proof."""
    return f"{amount:,.2f}元"


def area_text(area: Decimal) -> str:
    return f"{area:.2f}㎡"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CoOwnership(StrEnum):
    """共有情况."""

    SOLE = "单独所有"
    JOINT = "共同共有"
    BY_SHARE = "按份共有"


class RightHolder(_Frozen):
    """One 权利人; only the name is printed (ID numbers stay in the register, not on the page)."""

    name: str = Field(min_length=1)
    share: Share | None = None  # 按份共有 only: an exact fraction of the whole (1/3), printed 三分之一 or 60%


class CertificateCommon(_Frozen):
    """What both documents carry besides their rows."""

    number: CertificateNumber
    number_pattern: str = DEFAULT_NUMBER_PATTERN  # the registry's pattern, so the page prints its style
    identifier: LicenseIdentifier
    issuer_name: str = Field(min_length=1)  # 登记机构
    issue_date: date
    verification_url: str = Field(pattern=r"^https?://\S+$")  # what the QR code points at
    remarks: Lines = ()  # 附记
    # The registry's seal (PNG or SVG bytes), drawn over 登记机构（章）; None prints the line alone.
    seal: bytes | None = None
    # 附图页: the unit's plan (PNG or JPEG bytes) on a second page; None: no second page.
    plan: bytes | None = None

    @property
    def number_text(self) -> str:
        return NumberFormat(self.number_pattern).format(self.number)

    @property
    def kind(self) -> CertificateKind:
        return self.number.kind

    def _check_kind(self, expected: CertificateKind) -> None:
        if self.number.kind is not expected:
            raise ValueError(
                f"证号种类与证书不符（应为{expected.name_zh}）/ the number is not a {expected.value} number"
            )


class OwnershipCertificateContent(CertificateCommon):
    """不动产权证书 (单一版): the ten rows of the official sample, then 附记."""

    document: Literal["ownership"] = "ownership"
    holders: tuple[RightHolder, ...] = Field(min_length=1)  # 权利人, every co-owner
    co_ownership: CoOwnership  # 共有情况
    location: str = Field(min_length=1)  # 坐落
    unit_code: UnitCodeText  # 不动产单元号
    right_type: str = Field(min_length=1)  # 权利类型, e.g. 国有建设用地使用权/房屋所有权
    right_nature: str = Field(min_length=1)  # 权利性质, e.g. 出让/市场化商品房
    usage: str = Field(min_length=1)  # 用途, e.g. 城镇住宅用地/住宅
    land_area: Area | None = None  # 共有宗地面积
    building_area: Area | None = None  # 房屋建筑面积
    term_start: date | None = None  # 使用期限 (land use right)
    term_end: date | None = None
    land_terms: tuple[LandUseTerm, ...] = ()  # 使用期限 per land use (printed instead of the single term)
    other_conditions: Lines = ()  # 权利其他状况

    @model_validator(mode="after")
    def _consistent(self) -> OwnershipCertificateContent:
        self._check_kind(CertificateKind.OWNERSHIP)
        count = len(self.holders)
        shares = [h.share for h in self.holders]
        if self.co_ownership is CoOwnership.SOLE and count != 1:
            raise ValueError(
                f"单独所有只能有一个权利人，实有{count}个 / sole ownership needs exactly one holder"
            )
        if self.co_ownership is not CoOwnership.SOLE and count < 2:
            raise ValueError("共有须有两个以上权利人 / co-ownership needs at least two holders")
        if self.co_ownership is CoOwnership.BY_SHARE:
            if any(share is None for share in shares):
                raise ValueError("按份共有须写明每人份额 / ownership by shares needs every holder's share")
            total = sum((share for share in shares if share is not None), Fraction(0))
            if total != 1:
                raise ValueError(
                    f"份额合计须为1，实为{share_text(total)} / shares must add up to 1, not {share_text(total)}"
                )
        elif any(share is not None for share in shares):
            raise ValueError("只有按份共有才写份额 / shares are only given for ownership by shares")
        if self.land_area is None and self.building_area is None:
            raise ValueError("面积至少填写一项 / give the land area, the building area or both")
        if (self.term_start is None) != (self.term_end is None):
            raise ValueError("使用期限须同时有起止日期 / the term needs both its start and its end")
        if self.term_start and self.term_end and self.term_end <= self.term_start:
            raise ValueError("使用期限止日须晚于起日 / the term must end after it starts")
        return self

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) in the printed order; 附记 is drawn apart from the table rows."""
        return [
            ("权利人", "、".join(h.name for h in self.holders)),
            ("共有情况", self.co_ownership_text),
            ("坐落", self.location),
            ("不动产单元号", unit_code_groups(self.unit_code)),
            ("权利类型", self.right_type),
            ("权利性质", self.right_nature),
            ("用途", self.usage),
            ("面积", self.area_text),
            ("使用期限", self.term_text),
            ("权利其他状况", "\n".join(self.other_conditions)),
        ]

    @property
    def co_ownership_text(self) -> str:
        if self.co_ownership is not CoOwnership.BY_SHARE:
            return self.co_ownership.value
        shares = "，".join(f"{h.name}占{share_zh(h.share)}" for h in self.holders if h.share is not None)
        return f"{self.co_ownership.value}：{shares}"

    @property
    def area_text(self) -> str:
        parts = []
        if self.land_area is not None:
            parts.append(f"共有宗地面积{area_text(self.land_area)}")
        if self.building_area is not None:
            parts.append(f"房屋建筑面积{area_text(self.building_area)}")
        return "/".join(parts)

    @property
    def term_text(self) -> str:
        if self.land_terms:
            return "\n".join(
                f"{t.use}：{chinese_date(t.start)}起{chinese_date(t.end)}止" for t in self.land_terms
            )
        if self.term_start is None or self.term_end is None:
            return ""
        return f"{chinese_date(self.term_start)}起{chinese_date(self.term_end)}止"


class MortgageMethod(StrEnum):
    """抵押方式."""

    GENERAL = "一般抵押"
    MAXIMUM = "最高额抵押"


class MortgageTerms(_Frozen):
    """The 其他 row of a mortgage proof: method, secured amount, term, rank."""

    method: MortgageMethod
    amount: Money  # 被担保主债权数额 (一般) or 最高债权额 (最高额), in 元
    term_start: date  # 债务履行期限 (一般) or 债权确定期间 (最高额)
    term_end: date
    rank: int = Field(ge=1)  # 抵押顺位: order of acceptance (实施细则 第67条)
    original_certificate: str | None = None  # 原不动产权证号

    @model_validator(mode="after")
    def _term_order(self) -> MortgageTerms:
        if self.term_end <= self.term_start:
            raise ValueError("期限止日须晚于起日 / the term must end after it starts")
        return self

    def lines(self) -> list[str]:
        amount_label = "被担保主债权数额" if self.method is MortgageMethod.GENERAL else "最高债权额"
        term_label = "债务履行期限" if self.method is MortgageMethod.GENERAL else "债权确定期间"
        lines = [
            f"抵押方式：{self.method.value}",
            f"{amount_label}：{money_text(self.amount)}",
            f"{term_label}：{chinese_date(self.term_start)}起{chinese_date(self.term_end)}止",
            f"抵押顺位：{self.rank}",
        ]
        if self.original_certificate:
            lines.append(f"原不动产权证号：{self.original_certificate}")
        return lines


class RegistrationProofContent(CertificateCommon):
    """不动产登记证明: 证明权利或事项, 权利人（申请人）, 义务人, 坐落, 不动产单元号, 其他, then 附记."""

    document: Literal["proof"] = "proof"
    right_or_matter: str = Field(min_length=1)  # 证明权利或事项, e.g. 抵押权 / 预告登记
    right_holders: tuple[str, ...] = Field(min_length=1)  # 权利人（申请人）: for a mortgage, the bank
    obligors: tuple[str, ...] = ()  # 义务人: for a mortgage, the owner(s)
    location: str = Field(min_length=1)
    unit_code: UnitCodeText
    mortgage: MortgageTerms | None = None
    other_lines: Lines = ()  # 其他, after the mortgage terms

    @model_validator(mode="after")
    def _consistent(self) -> RegistrationProofContent:
        self._check_kind(CertificateKind.PROOF)
        if self.right_or_matter == "抵押权" and self.mortgage is None:
            raise ValueError(
                "抵押权证明须有抵押方式、债权数额、期限与顺位 / a mortgage proof needs its terms"
            )
        return self

    def rows(self) -> list[tuple[str, str]]:
        other = [*(self.mortgage.lines() if self.mortgage else []), *self.other_lines]
        return [
            ("证明权利或事项", self.right_or_matter),
            ("权利人（申请人）", "、".join(self.right_holders)),
            ("义务人", "、".join(self.obligors)),
            ("坐落", self.location),
            ("不动产单元号", unit_code_groups(self.unit_code)),
            ("其他", "\n".join(other)),
        ]


CertificateContent = OwnershipCertificateContent | RegistrationProofContent
