"""Named register rules: each yields pass or fail with a reason in Chinese and English.

All rules of a case run at 受理 and again at 登簿, because the register may have changed in between;
a case cannot reach 登簿 with a failing rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.domain.cases import (
    CaseInput,
    ContractFilingInput,
    MortgageRegistrationInput,
    MortgageReleaseInput,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
)
from gateway.domain.parties import Institution, Party, same_people
from gateway.domain.register import MortgageFacts, PreRegistrationFacts, PreRegistrationKind, RegisterView


@dataclass(frozen=True)
class RuleResult:
    name: str
    passed: bool
    reason_zh: str = ""
    reason_en: str = ""


@dataclass(frozen=True)
class RuleContext:
    submitter: Institution  # the participant that submitted the case
    at_registration: bool = False  # False at 受理, True at 登簿
    tax_cleared: bool = False  # the tax bureau has confirmed payment (契税法 第11条)
    # Proof numbers of mortgages a transfer keeps whose mortgagee of record has, as the case records,
    # consented itself or received the registry's notice (民法典 第四百零六条); read at 登簿.
    mortgagees_answered: frozenset[str] = frozenset()


def _ok(name: str) -> RuleResult:
    return RuleResult(name, True)


def _fail(name: str, zh: str, en: str) -> RuleResult:
    return RuleResult(name, False, zh, en)


# --- rules shared by several kinds -------------------------------------------------------------


def unit_not_seized(view: RegisterView) -> RuleResult:
    if view.seizures:
        return _fail(
            "unit_not_seized",
            "该不动产已被查封，不能办理此业务",
            "the unit is seized; this case cannot proceed",
        )
    return _ok("unit_not_seized")


def no_objection(view: RegisterView) -> RuleResult:
    if view.objections:
        return _fail(
            "no_objection", "该不动产存在异议登记", "an objection (异议登记) is recorded on the unit"
        )
    return _ok("no_objection")


def unit_first_registered(view: RegisterView) -> RuleResult:
    if not view.unit.first_registered:
        return _fail(
            "unit_first_registered",
            "该不动产尚未完成首次登记",
            "the unit's first registration (首次登记) is not done",
        )
    return _ok("unit_first_registered")


def certificate_is_current(number: str | None, view: RegisterView) -> RuleResult:
    name = "ownership_certificate_current"
    current = view.ownership
    if current is None or current.certificate_number != number:
        return _fail(
            name, "不动产权证书号与登记簿记载不符", "the ownership certificate number is not the current one"
        )
    return _ok(name)


def parties_are_owners(
    name: str, parties: list[Party], view: RegisterView, role_zh: str, role_en: str
) -> RuleResult:
    if not view.owners:
        return _fail(name, "该不动产没有现行所有权登记", "the unit has no current ownership")
    if not same_people(parties, view.owners):
        return _fail(
            name,
            f"{role_zh}须为全部现登记权利人（含全部共有人）",
            f"the {role_en} must be exactly the current owners, every co-owner included",
        )
    return _ok(name)


# --- per kind ----------------------------------------------------------------------------------


def _mortgage_registration(
    inp: MortgageRegistrationInput, view: RegisterView, ctx: RuleContext
) -> list[RuleResult]:
    return [
        unit_first_registered(view),
        unit_not_seized(view),
        no_objection(view),
        certificate_is_current(inp.ownership_certificate_number, view),
        parties_are_owners("mortgagors_are_owners", inp.mortgagors, view, "抵押人", "mortgagors"),
    ]


def _mortgage_release(inp: MortgageReleaseInput, view: RegisterView, ctx: RuleContext) -> list[RuleResult]:
    entry = view.mortgage_by_proof(inp.proof_number)
    if entry is None:
        return [
            _fail(
                "mortgage_of_record",
                "登记簿中没有该不动产登记证明号对应的现行抵押权",
                "no current mortgage with this proof number is recorded on the unit",
            )
        ]
    assert isinstance(entry.facts, MortgageFacts)
    mortgagee = entry.facts.mortgagee
    if mortgagee.credit_code != ctx.submitter.credit_code:
        return [
            _ok("mortgage_of_record"),
            _fail(
                "releaser_is_mortgagee",
                "只有登记簿记载的抵押权人可以申请注销该抵押权",
                "only the mortgagee of record may release this mortgage",
            ),
        ]
    return [_ok("mortgage_of_record"), _ok("releaser_is_mortgagee")]


def _transfer(inp: TransferInput, view: RegisterView, ctx: RuleContext) -> list[RuleResult]:
    results = [unit_first_registered(view), unit_not_seized(view), no_objection(view)]
    if inp.transfer_type is TransferType.SECOND_HAND:
        results.append(certificate_is_current(inp.ownership_certificate_number, view))
        results.append(parties_are_owners("sellers_are_owners", inp.sellers, view, "出卖人", "sellers"))
    else:
        results.append(
            parties_are_owners("seller_is_developer", inp.sellers, view, "出卖人（开发企业）", "developer")
        )
        results.append(_buyers_hold_purchase_pre_registration([b.party for b in inp.buyers], view))
    results.append(_mortgages_released_or_consented(inp, view, ctx))
    if ctx.at_registration:
        results.append(
            _ok("tax_cleared")
            if ctx.tax_cleared
            else _fail(
                "tax_cleared",
                "契税等税费尚未完税，不能登簿（契税法第十一条）",
                "taxes are not cleared (契税法 art. 11)",
            )
        )
    return results


def _mortgages_released_or_consented(inp: TransferInput, view: RegisterView, ctx: RuleContext) -> RuleResult:
    """带押过户. 民法典 第四百零六条: "抵押期间，抵押人可以转让抵押财产。当事人另有约定的，按照其约定。抵押财产转让的，
    抵押权不受影响。抵押人转让抵押财产的，应当及时通知抵押权人。"

    Each mortgage on the unit is either released in this case (转移+注销) or kept: it follows the unit to the
    buyer. A kept mortgage's mortgagee of record must then itself consent (where the parties agreed the
    transfer needs it: `mortgagee_consent`) or be told by the registry. At 受理 that is still to come (the
    bank track waits for it); at 登簿 the case must record it for every mortgage then on the register, so a
    mortgage registered after 受理 cannot be carried over untold.
    """
    name = "mortgages_released_or_consented"
    known = {e.certificate_number for e in view.mortgages}
    unknown = [p for p in inp.release_proof_numbers if p not in known]
    if unknown:
        return _fail(
            name, "申请注销的抵押权不在登记簿上", f"mortgages to release are not on the register: {unknown}"
        )
    kept = sorted(str(n) for n in known - set(inp.release_proof_numbers))
    untold = [n for n in kept if n not in ctx.mortgagees_answered]
    if ctx.at_registration and untold:
        numbers = "、".join(untold)
        return _fail(
            name,
            f"带押过户：抵押权人尚未同意转让，也未收到转让通知（民法典第四百零六条）：{numbers}",
            "a kept mortgage's mortgagee of record has neither consented nor been notified of the transfer "
            f"(民法典 art. 406): {', '.join(untold)}",
        )
    return _ok(name)


def _buyers_hold_purchase_pre_registration(buyers: list[Party], view: RegisterView) -> RuleResult:
    name = "buyers_hold_pre_registration"
    for entry in view.pre_registrations:
        facts = entry.facts
        if (
            isinstance(facts, PreRegistrationFacts)
            and facts.pre_kind is PreRegistrationKind.PURCHASE
            and same_people(facts.buyers, buyers)
        ):
            return _ok(name)
    return _fail(
        name,
        "买受人没有该房屋的预告登记",
        "the buyers hold no purchase pre-registration (预告登记) on the unit",
    )


def _conversion(
    inp: PresaleMortgageConversionInput, view: RegisterView, ctx: RuleContext
) -> list[RuleResult]:
    results = [unit_first_registered(view), unit_not_seized(view)]
    buyers_own = bool(view.owners) and same_people(inp.buyers, view.owners)
    results.append(
        _ok("buyers_are_owners_or_pre_registered")
        if buyers_own or _buyers_hold_purchase_pre_registration(inp.buyers, view).passed
        else _fail(
            "buyers_are_owners_or_pre_registered",
            "借款人既不是现登记权利人，也没有预告登记",
            "the buyers neither own the unit nor hold its purchase pre-registration",
        )
    )
    match = any(
        isinstance(e.facts, PreRegistrationFacts)
        and e.facts.pre_kind is PreRegistrationKind.MORTGAGE
        and e.facts.mortgagee is not None
        and e.facts.mortgagee.credit_code == ctx.submitter.credit_code
        and e.facts.contract_no == inp.pre_mortgage_contract_no
        and same_people(e.facts.buyers, inp.buyers)
        for e in view.pre_registrations
    )
    results.append(
        _ok("pre_mortgage_matches")
        if match
        else _fail(
            "pre_mortgage_matches",
            "登记簿中没有与本行、本合同、本借款人相符的预抵押登记",
            "no 预抵押 on the register matches this bank, contract and borrowers",
        )
    )
    return results


def _contract_filing(inp: ContractFilingInput, view: RegisterView, ctx: RuleContext) -> list[RuleResult]:
    unit = view.unit
    for_sale = (
        unit.for_sale
        and unit.developer is not None
        and unit.developer.credit_code == inp.developer.credit_code
    )
    return [
        unit_not_seized(view),
        _ok("unit_for_sale")
        if for_sale
        else _fail(
            "unit_for_sale", "该房屋不是此开发企业的可售房源", "the unit is not for sale by this developer"
        ),
        _ok("not_already_filed")
        if not view.filings
        else _fail(
            "not_already_filed", "该房屋已办理合同备案", "a sales contract is already filed for this unit"
        ),
    ]


_RULES: dict[type, Callable[..., list[RuleResult]]] = {
    MortgageRegistrationInput: _mortgage_registration,
    MortgageReleaseInput: _mortgage_release,
    TransferInput: _transfer,
    PresaleMortgageConversionInput: _conversion,
    ContractFilingInput: _contract_filing,
}


def check(case_input: CaseInput, view: RegisterView, ctx: RuleContext) -> list[RuleResult]:
    """Every rule of the case's kind, in a stable order."""
    return _RULES[type(case_input)](case_input, view, ctx)


def failures(results: Iterable[RuleResult]) -> list[tuple[str, str, str]]:
    """(name, zh, en) of each failed rule, as `RuleViolation` takes them."""
    return [(r.name, r.reason_zh, r.reason_en) for r in results if not r.passed]
