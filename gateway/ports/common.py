"""Value types shared by the ports to outside parties: money, people, delivery receipts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Money is yuan with two decimals (fen); a party answering with more decimals is refused, not rounded.
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class PortModel(BaseModel):
    """Base of every port DTO: immutable, and unknown fields are an error rather than silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(PortModel):
    """A natural or legal person as a party's system identifies them (name and ID number)."""

    name: NonEmpty
    # Resident ID or credit code; kept out of repr() so it never reaches a log line by accident.
    id_number: NonEmpty = Field(repr=False)


class DeliveryReceipt(PortModel):
    """A party's acknowledgement of a delivery; `duplicate` says it had already applied this delivery id."""

    delivery_id: NonEmpty
    duplicate: bool
    party_reference: str = ""
