"""A simulated provider's account book: accounts by number (address, holder, arrears), and the deliveries it
has applied, deduplicated on the delivery id, with a count of the effects actually made."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from gateway.ports.utilities import RefusalReason


@dataclass
class Account:
    account_no: str  # 户号
    address: str  # 用电/用水/用气地址
    holders: tuple[str, ...]  # names of the current 户主
    arrears: Decimal = Decimal("0.00")  # 欠费
    visit_required: bool = False  # e.g. a commercial meter or a pre-paid card: 需现场办理
    transfers: int = 0


class Result(StrEnum):
    DONE = "done"
    REJECTED = "rejected"
    PENDING = "pending"  # accepted, being processed (providers that answer later)


@dataclass
class Entry:
    """What the provider decided for one delivery id; repeats are answered from here."""

    result: Result
    reason: RefusalReason | None = None
    reference: str = ""


@dataclass
class AccountBook:
    prefix: str  # for the provider's own references, e.g. "SW" → SW00000001
    accounts: dict[str, Account] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)  # delivery id → accounts moved for it
    repeats: int = 0  # deliveries received again after the first (answered from `entries`)
    _serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def open(
        self,
        account_no: str,
        address: str,
        *holders: str,
        arrears: Decimal | str = "0.00",
        visit_required: bool = False,
    ) -> Account:
        account = Account(account_no, address, tuple(holders), Decimal(arrears), visit_required)
        self.accounts[account_no] = account
        return account

    @property
    def applied_effects(self) -> int:
        return sum(self.applied.values())

    def seen(self, delivery_id: str) -> Entry | None:
        entry = self.entries.get(delivery_id)
        if entry is not None:
            self.repeats += 1
        return entry

    def check(self, account_no: str, address: str) -> RefusalReason | None:
        """核验: the account exists at this address (and nothing stops a transfer)."""
        account = self.accounts.get(account_no)
        if account is None or account.address != address:
            return RefusalReason.ACCOUNT_MISMATCH
        if account.arrears > 0:
            return RefusalReason.ARREARS
        if account.visit_required:
            return RefusalReason.VISIT_REQUIRED
        return None

    def accept(self, delivery_id: str) -> Entry:
        """Take a delivery to decide later (its account already checked against the address)."""
        entry = Entry(Result.PENDING, reference=self._reference())
        self.entries[delivery_id] = entry
        return entry

    def apply(self, delivery_id: str, account_no: str, address: str, new_holders: tuple[str, ...]) -> Entry:
        """过户 once per delivery id: a repeat returns the first decision without a second effect."""
        earlier = self.entries.get(delivery_id)
        if earlier is not None and earlier.result is not Result.PENDING:
            self.repeats += 1
            return earlier
        reference = earlier.reference if earlier else self._reference()
        reason = self.check(account_no, address)
        if reason is not None:
            entry = Entry(Result.REJECTED, reason, reference)
        else:
            account = self.accounts[account_no]
            account.holders = new_holders
            account.transfers += 1
            self.applied[delivery_id] += 1
            entry = Entry(Result.DONE, reference=reference)
        self.entries[delivery_id] = entry
        return entry

    def _reference(self) -> str:
        return f"{self.prefix}{next(self._serials):08d}"
