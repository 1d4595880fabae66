"""What 登簿 changes on the register for each case kind: entries opened and entries closed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from gateway.domain.cases import (
    CaseInput,
    ContractFilingInput,
    MortgageRegistrationInput,
    MortgageReleaseInput,
    MortgageTerms,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
)
from gateway.domain.parties import CoOwnership, Institution, Party
from gateway.domain.pre_registrations import realised_by
from gateway.domain.register import (
    ContractFilingFacts,
    EntryFacts,
    MortgageFacts,
    OwnershipFacts,
    RegisterView,
)

CertificateKind = Literal["ownership", "proof"]  # 不动产权证书 / 不动产登记证明


@dataclass(frozen=True)
class NewEntry:
    facts: EntryFacts
    rank: int | None = None
    certificate: CertificateKind | None = None  # what 缮证 issues for this entry, if anything


@dataclass(frozen=True)
class RegisterChange:
    opens: list[NewEntry] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)  # entry ids


def mortgage_ranks_needed(case_input: CaseInput) -> bool:
    return bool(
        isinstance(case_input, MortgageRegistrationInput | PresaleMortgageConversionInput)
        or (isinstance(case_input, TransferInput) and case_input.new_mortgage)
    )


def next_mortgage_rank(view: RegisterView, reserved: Iterable[int], releasing: Iterable[str] = ()) -> int:
    """The acceptance order number of a new mortgage (实施细则 第67条): one after every open or reserved one.

    Mortgages this very case releases do not count, so a transfer that releases the seller's mortgage and
    grants the buyer's gives the new mortgage number 1. The number only orders acceptance: the 抵押顺位
    the register shows is the mortgage's place among the open mortgages (`RegisterView.mortgage_rank`),
    so a number reserved by a case that is later withdrawn leaves no hole in the ranks.
    """
    released = set(releasing)
    ranks = [e.rank or 0 for e in view.mortgages if e.certificate_number not in released]
    return max([0, *ranks, *reserved]) + 1


def _mortgage(mortgagee: Institution, mortgagors: list[Party], terms: MortgageTerms) -> MortgageFacts:
    return MortgageFacts(
        mortgagee=mortgagee,
        mortgagors=mortgagors,
        mortgage_kind=terms.mortgage_kind,
        amount=terms.amount,
        term_start=terms.term_start,
        term_end=terms.term_end,
        loan_contract_no=terms.loan_contract_no,
        mortgage_contract_no=terms.mortgage_contract_no,
    )


def ownership_after(case_input: TransferInput, view: RegisterView) -> OwnershipFacts:
    """Who owns the unit after a transfer. A co-owner's share transfer (民法典 §305) keeps every other
    co-owner with its share and gives the buyers theirs; a buyer who already holds a share holds the sum.
    Any other transfer gives the whole unit to the buyers."""
    if case_input.transfer_type is not TransferType.CO_OWNER_SHARE or view.ownership is None:
        return OwnershipFacts(owners=list(case_input.buyers), co_ownership=case_input.co_ownership)
    current = view.ownership.facts
    assert isinstance(current, OwnershipFacts)
    sellers = {p.identity for p in case_input.sellers}
    owners = [o for o in current.owners if o.party.identity not in sellers]
    for buyer in case_input.buyers:
        held = next((i for i, o in enumerate(owners) if o.party.identity == buyer.party.identity), None)
        if held is None:
            owners.append(buyer)
        else:
            total = (owners[held].share or Fraction(0)) + (buyer.share or Fraction(0))
            owners[held] = owners[held].model_copy(update={"share": total})
    return OwnershipFacts(owners=owners, co_ownership=CoOwnership.SHARES)


def registration_change(
    case_input: CaseInput, view: RegisterView, submitter: Institution, rank: int | None
) -> RegisterChange:
    """The entries 登簿 opens and closes. The rules have passed; this only describes the change."""
    # The pre-registrations the case realises are extinguished by it (民法典 §221; the purchase 预告登记 by
    # the transfer to its buyers, the 预抵押 by the mortgage that realises it).
    realised = [e.id for e in realised_by(case_input, view, submitter)]
    if isinstance(case_input, MortgageRegistrationInput):
        facts = _mortgage(submitter, case_input.mortgagors, case_input.mortgage)
        return RegisterChange(opens=[NewEntry(facts, rank=rank, certificate="proof")], closes=realised)

    if isinstance(case_input, MortgageReleaseInput):
        entry = view.mortgage_by_proof(case_input.proof_number)
        return RegisterChange(closes=[entry.id] if entry else [])

    if isinstance(case_input, TransferInput):
        closes = [view.ownership.id] if view.ownership else []
        closes += [e.id for e in view.mortgages if e.certificate_number in case_input.release_proof_numbers]
        buyers = [b.party for b in case_input.buyers]
        closes += realised
        opens = [NewEntry(ownership_after(case_input, view), certificate="ownership")]
        if case_input.new_mortgage:
            opens.append(
                NewEntry(
                    _mortgage(submitter, buyers, case_input.new_mortgage), rank=rank, certificate="proof"
                )
            )
        return RegisterChange(opens=opens, closes=closes)

    if isinstance(case_input, PresaleMortgageConversionInput):
        facts = _mortgage(submitter, case_input.buyers, case_input.mortgage)
        return RegisterChange(opens=[NewEntry(facts, rank=rank, certificate="proof")], closes=realised)

    assert isinstance(case_input, ContractFilingInput)
    filing = ContractFilingFacts(
        contract_no=case_input.contract_no,
        developer=case_input.developer,
        buyers=case_input.buyers,
        price=case_input.price,
        signed_on=case_input.signed_on,
    )
    return RegisterChange(opens=[NewEntry(filing)])
