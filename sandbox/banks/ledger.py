"""A simulated bank's own state: loan contracts by number, settlements, and deliveries applied once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Problem(StrEnum):
    """Why a bank refuses; each wire format spells these with its own codes."""

    CONTRACT_NOT_FOUND = "contract_not_found"
    MORTGAGE_CONTRACT_MISMATCH = "mortgage_contract_mismatch"
    BORROWER_MISMATCH = "borrower_mismatch"
    MORTGAGOR_MISMATCH = "mortgagor_mismatch"
    AMOUNT_MISMATCH = "amount_mismatch"
    UNIT_MISMATCH = "unit_mismatch"
    LOAN_OUTSTANDING = "loan_outstanding"


@dataclass
class LoanContract:
    loan_contract_number: str
    mortgage_contract_number: str
    borrower_name: str
    borrower_id_number: str
    mortgagor_id_numbers: frozenset[str]
    amount: Decimal
    unit_code: str
    term_start: date
    term_end: date
    settled_on: date | None = None
    reference: str = ""


@dataclass
class Delivery:
    delivery_id: str
    kind: str  # "notification" or "loan_release"
    data: dict[str, Any]
    times_received: int = 1


@dataclass
class BankLedger:
    contracts: dict[str, LoanContract] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    effects_applied: int = 0  # deliveries applied (each id once)
    duplicates_ignored: int = 0

    def add_contract(
        self,
        loan_contract_number: str,
        mortgage_contract_number: str,
        *,
        borrower: tuple[str, str],
        mortgagor_id_numbers: Iterable[str],
        amount: Decimal,
        unit_code: str,
        term: tuple[date, date] = (date(2026, 1, 1), date(2056, 1, 1)),
        settled_on: date | None = None,
    ) -> LoanContract:
        contract = LoanContract(
            loan_contract_number,
            mortgage_contract_number,
            borrower[0],
            borrower[1],
            frozenset(mortgagor_id_numbers),
            amount,
            unit_code,
            term[0],
            term[1],
            settled_on,
            reference=f"SN{len(self.contracts) + 1:08d}",
        )
        self.contracts[loan_contract_number] = contract
        return contract

    def check_contract(
        self,
        loan_contract_number: str,
        mortgage_contract_number: str,
        borrower_id_number: str,
        mortgagor_id_numbers: Iterable[str],
        amount: Decimal,
        unit_code: str,
    ) -> tuple[LoanContract | None, Problem | None]:
        contract = self.contracts.get(loan_contract_number)
        if contract is None:
            return None, Problem.CONTRACT_NOT_FOUND
        checks = (
            (
                contract.mortgage_contract_number == mortgage_contract_number,
                Problem.MORTGAGE_CONTRACT_MISMATCH,
            ),
            (contract.borrower_id_number == borrower_id_number, Problem.BORROWER_MISMATCH),
            (contract.mortgagor_id_numbers == frozenset(mortgagor_id_numbers), Problem.MORTGAGOR_MISMATCH),
            (contract.amount == amount, Problem.AMOUNT_MISMATCH),
            (contract.unit_code == unit_code, Problem.UNIT_MISMATCH),
        )
        for ok, problem in checks:
            if not ok:
                return contract, problem
        return contract, None

    def check_settlement(
        self, loan_contract_number: str, mortgage_contract_number: str
    ) -> tuple[LoanContract | None, Problem | None]:
        contract = self.contracts.get(loan_contract_number)
        if contract is None:
            return None, Problem.CONTRACT_NOT_FOUND
        if contract.mortgage_contract_number != mortgage_contract_number:
            return contract, Problem.MORTGAGE_CONTRACT_MISMATCH
        if contract.settled_on is None:
            return contract, Problem.LOAN_OUTSTANDING
        return contract, None

    def receive(self, delivery_id: str, kind: str, data: dict[str, Any]) -> bool:
        """Apply a delivery once; True when it had been applied before (a duplicate)."""
        seen = self.deliveries.get(delivery_id)
        if seen is not None:
            seen.times_received += 1
            self.duplicates_ignored += 1
            return True
        self.deliveries[delivery_id] = Delivery(delivery_id, kind, data)
        self.effects_applied += 1
        return False

    def received(self, kind: str) -> list[Delivery]:
        return [d for d in self.deliveries.values() if d.kind == kind]
