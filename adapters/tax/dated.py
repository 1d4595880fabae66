"""What every dated tax table shares: rounding to the fen, the row in force on a date, full years held."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, TypeVar

from gateway.errors import InputError

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(amount: Decimal) -> Decimal:
    """Round half-up to the fen (0.01 yuan), the unit every tax amount is stated in."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


class DatedRule(Protocol):
    @property
    def effective_from(self) -> date: ...

    @property
    def effective_until(self) -> date | None: ...


R = TypeVar("R", bound=DatedRule)


def rule_in_force(table: Sequence[R], on: date, what: str) -> R:
    """The one row of a dated table in force on `on`; InputError when the tables do not reach that date."""
    found = find_in_force(table, on)
    if found is None:
        raise InputError(
            f"no {what} rule in force on {on.isoformat()}",
            f"{on.isoformat()} 无适用的{what}规则",
        )
    return found


def find_in_force(table: Sequence[R], on: date) -> R | None:
    """The row in force on `on`, or None (for tables of reliefs, where no row means no relief)."""
    for rule in table:
        if rule.effective_from <= on and (rule.effective_until is None or on < rule.effective_until):
            return rule
    return None


def anniversary(start: date, years: int) -> date:
    """The day `years` full years after `start` (29 February → 28 February in a common year)."""
    year = start.year + years
    day = min(start.day, calendar.monthrange(year, start.month)[1])
    return start.replace(year=year, day=day)


def held_full_years(acquired_on: date, on: date, years: int) -> bool:
    """True when `years` full years have passed on `on`; the anniversary day itself counts."""
    return on >= anniversary(acquired_on, years)
