"""Parties to a case (权利人, 义务人, 抵押人, 抵押权人): who they are and how they are compared."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gateway.domain.identifiers import (
    CreditCode,
    mask_id_number,
    mask_name,
    validate_credit_code,
    validate_resident_id,
)
from gateway.domain.shares import Share
from gateway.errors import InputError


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"  # 居民身份证 (GB 11643)
    CREDIT_CODE = "credit_code"  # 统一社会信用代码 (GB 32100)
    PASSPORT = "passport"  # 护照 and other documents: not check-digit validated


class Party(BaseModel):
    """A person or organisation named in the register. Two parties are the same if their IDs are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    id_type: IdType = IdType.RESIDENT_ID
    id_number: str = Field(min_length=5, max_length=32)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9-]{5,20}$")

    @field_validator("id_number")
    @classmethod
    def _check_id(cls, value: str, info: ValidationInfo) -> str:
        # Normalised (upper-case X, no spaces) so that equality of IDs is equality of strings.
        id_type = info.data.get("id_type", IdType.RESIDENT_ID)
        try:
            if id_type is IdType.RESIDENT_ID:
                return validate_resident_id(value)
            if id_type is IdType.CREDIT_CODE:
                return validate_credit_code(value)
        except InputError as exc:
            reason = exc.errors[0]
            raise PydanticCustomError(
                str(id_type),
                "{reason_en} / {reason_zh}",
                {"reason_en": reason.reason_en, "reason_zh": reason.reason_zh},
            ) from None
        return value.strip().upper()

    @property
    def identity(self) -> tuple[str, str]:
        return (self.id_type.value, self.id_number)

    def masked(self) -> dict[str, str]:
        """What a log line or a public page may show."""
        return {"name": mask_name(self.name), "id_number": mask_id_number(self.id_number)}


class Owner(BaseModel):
    """An owner with its share (按份共有), an exact fraction; share is None for 单独所有 and 共同共有."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    party: Party
    share: Share | None = None


class CoOwnership(StrEnum):
    SOLE = "sole"  # 单独所有
    JOINT = "joint"  # 共同共有
    SHARES = "shares"  # 按份共有

    @property
    def label_zh(self) -> str:
        return {"sole": "单独所有", "joint": "共同共有", "shares": "按份共有"}[self.value]


def same_people(a: list[Party], b: list[Party]) -> bool:
    """True when both lists name exactly the same parties (order and names aside: IDs decide)."""
    return {p.identity for p in a} == {p.identity for p in b}


class Institution(BaseModel):
    """A bank or developer as named in the register: participant code (if any) and credit code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=2, max_length=40)  # participant code, e.g. icbc-dg
    name: str = Field(min_length=1, max_length=100)
    credit_code: CreditCode

    def as_party(self) -> Party:
        return Party(name=self.name, id_type=IdType.CREDIT_CODE, id_number=self.credit_code)
