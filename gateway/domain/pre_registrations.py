"""What a case does to the pre-registrations (预告登记, 预抵押) on its unit: realises them, or disposes against them.

民法典 第二百二十一条第一款: "预告登记后，未经预告登记的权利人同意，处分该不动产的，不发生物权效力。" A case that
realises a pre-registration (the transfer to its buyers, the mortgage to its bank on the buyers' flat)
extinguishes it at 登簿; any other disposal — a transfer to someone else, a mortgage — needs the
pre-registrant's written consent (不动产登记暂行条例实施细则 第八十五条, 预告登记后未经权利人书面同意不予办理).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from gateway.domain.cases import (
    CaseInput,
    MortgageRegistrationInput,
    PresaleMortgageConversionInput,
    TransferInput,
)
from gateway.domain.parties import Institution, Party, same_people
from gateway.domain.register import Entry, PreRegistrationFacts, PreRegistrationKind, RegisterView


@dataclass(frozen=True)
class _Mortgage:
    mortgagee: Institution
    mortgagors: list[Party]


def is_disposal(case_input: CaseInput) -> bool:
    """A transfer or a new mortgage: what a pre-registration protects against. (A release or a contract
    filing disposes of nothing.)"""
    return isinstance(case_input, TransferInput | MortgageRegistrationInput | PresaleMortgageConversionInput)


def owners_after(case_input: CaseInput, view: RegisterView) -> list[Party]:
    if isinstance(case_input, TransferInput):
        return [b.party for b in case_input.buyers]
    return view.owners


def _mortgages_opened(case_input: CaseInput, submitter: Institution) -> list[_Mortgage]:
    if isinstance(case_input, MortgageRegistrationInput):
        return [_Mortgage(submitter, case_input.mortgagors)]
    if isinstance(case_input, TransferInput) and case_input.new_mortgage:
        return [_Mortgage(submitter, [b.party for b in case_input.buyers])]
    if isinstance(case_input, PresaleMortgageConversionInput):
        return [_Mortgage(submitter, case_input.buyers)]
    return []


def _applicants(case_input: CaseInput) -> list[Party]:
    """The people who apply (besides the submitting bank): a pre-registrant among them consents by applying."""
    if isinstance(case_input, TransferInput):
        return [*case_input.sellers, *(b.party for b in case_input.buyers)]
    if isinstance(case_input, MortgageRegistrationInput):
        return list(case_input.mortgagors)
    if isinstance(case_input, PresaleMortgageConversionInput):
        return list(case_input.buyers)
    return []


def _applies(facts: PreRegistrationFacts, case_input: CaseInput, submitter: Institution) -> bool:
    if facts.pre_kind is PreRegistrationKind.MORTGAGE:
        return facts.mortgagee is not None and facts.mortgagee.credit_code == submitter.credit_code
    ids = {p.identity for p in _applicants(case_input)}
    return all(p.identity in ids for p in facts.buyers)


def _realises(case_input: CaseInput, entry: Entry, owners: list[Party], mortgages: list[_Mortgage]) -> bool:
    facts = entry.facts
    assert isinstance(facts, PreRegistrationFacts)
    if not owners or not same_people(facts.buyers, owners):
        return False  # a pre-registration is realised only once its buyers own the unit
    if facts.pre_kind is PreRegistrationKind.PURCHASE:
        return True
    if (
        isinstance(case_input, PresaleMortgageConversionInput)
        and facts.contract_no != case_input.pre_mortgage_contract_no
    ):
        return False  # the conversion names the 预抵押 it converts
    return any(
        facts.mortgagee is not None
        and m.mortgagee.credit_code == facts.mortgagee.credit_code
        and same_people(m.mortgagors, facts.buyers)
        for m in mortgages
    )


def realised_by(case_input: CaseInput, view: RegisterView, submitter: Institution) -> list[Entry]:
    """The pre-registrations this case realises, closed by it at 登簿: the purchase 预告登记 once its buyers
    own the unit (a new-home or second-hand transfer to them), and the 预抵押 by the mortgage its bank
    takes on the buyers' flat (按揭转抵押, alone or combined with the transfer)."""
    if not is_disposal(case_input):
        return []
    owners = owners_after(case_input, view)
    mortgages = _mortgages_opened(case_input, submitter)
    return [e for e in view.pre_registrations if _realises(case_input, e, owners, mortgages)]


def needing_consent(
    case_input: CaseInput, view: RegisterView, submitter: Institution, lapsed: Collection[str]
) -> list[Entry]:
    """The pre-registrations this disposal is against: in force (not lapsed), not realised by it, and whose
    holders do not apply themselves (a pre-registrant that applies consents by applying).

    A 预抵押 is not disposed against by the transfer to its own buyers that opens no other mortgage: the
    flat goes where the bank's claim expects it, and the 预抵押 stays open until the conversion.
    """
    if not is_disposal(case_input):
        return []
    realised = {e.id for e in realised_by(case_input, view, submitter)}
    owners = owners_after(case_input, view)
    opens_mortgage = bool(_mortgages_opened(case_input, submitter))
    against: list[Entry] = []
    for entry in view.pre_registrations:
        if entry.id in realised or entry.id in lapsed:
            continue
        facts = entry.facts
        assert isinstance(facts, PreRegistrationFacts)
        if _applies(facts, case_input, submitter):
            continue
        if (
            facts.pre_kind is PreRegistrationKind.MORTGAGE
            and isinstance(case_input, TransferInput)
            and same_people(facts.buyers, owners)
            and not opens_mortgage
        ):
            continue
        against.append(entry)
    return against
