"""Named register rules: each yields pass or fail with a reason in Chinese and English.

All rules of a case run at 受理 and again at 登簿, because the register may have changed in between;
a case cannot reach 登簿 with a failing rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from gateway.domain.cases import (
    CaseInput,
    ContractFilingInput,
    MortgageRegistrationInput,
    MortgageReleaseInput,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
)
from gateway.domain.identifiers import mask_name
from gateway.domain.materials import MaterialKind
from gateway.domain.parties import CoOwnership, Institution, Party, same_people
from gateway.domain.pre_registrations import needing_consent
from gateway.domain.register import (
    Entry,
    MortgageFacts,
    OwnershipFacts,
    PreRegistrationFacts,
    PreRegistrationKind,
    RegisterView,
)
from gateway.domain.shares import share_zh


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
    materials: frozenset[MaterialKind] = frozenset()  # the kinds of material on the case
    # Objections and pre-registrations whose time has run out (gateway.domain.lapses): no longer blocking.
    lapsed: frozenset[str] = field(default_factory=frozenset)
    # Proof numbers of mortgages a transfer keeps whose mortgagee of record has, as the case records,
    # consented itself or received the registry's notice (民法典 第四百零六条); read at 登簿.
    mortgagees_answered: frozenset[str] = frozenset()


def _ok(name: str) -> RuleResult:
    return RuleResult(name, True)


def _fail(name: str, zh: str, en: str) -> RuleResult:
    return RuleResult(name, False, zh, en)


def _passed_on(name: str, zh: str, en: str) -> RuleResult:
    """Passed because of a written statement on the case: the reason records which, for the examiner."""
    return RuleResult(name, True, zh, en)


# --- rules shared by several kinds -------------------------------------------------------------


def unit_not_seized(view: RegisterView) -> RuleResult:
    if view.seizures:
        return _fail(
            "unit_not_seized",
            "该不动产已被查封，不能办理此业务",
            "the unit is seized; this case cannot proceed",
        )
    return _ok("unit_not_seized")


def no_objection(view: RegisterView, ctx: RuleContext) -> RuleResult:
    """An objection in force stops a registration unless the applicant takes the risk in writing.

    不动产登记暂行条例实施细则 第八十四条: "异议登记期间，不动产登记簿上记载的权利人以及第三人因处分权利申请登记的，
    不动产登记机构应当书面告知申请人该权利已经存在异议登记的有关事项。申请人申请继续办理的，应当予以办理，但申请人
    应当提供知悉异议登记存在并自担风险的书面承诺。" An objection that lapsed (民法典 §220: no suit within 15 days)
    no longer counts.
    """
    name = "no_objection"
    if not [e for e in view.objections if e.id not in ctx.lapsed]:
        return _ok(name)
    if MaterialKind.OBJECTION_RISK_STATEMENT in ctx.materials:
        return _passed_on(
            name,
            "该不动产存在异议登记；申请人已提交知悉异议、自担风险的书面承诺（实施细则第八十四条）",
            "an objection is recorded; the applicant's written statement that it knows of it and bears "
            "the risk is on the case (实施细则 art. 84)",
        )
    return _fail(
        name,
        "该不动产存在异议登记；申请人继续办理须提交知悉异议、自担风险的书面承诺（实施细则第八十四条）",
        "an objection (异议登记) is recorded on the unit; to proceed the applicant must submit a written "
        "statement that it knows of the objection and bears the risk (实施细则 art. 84)",
    )


def _pre_registrant(entry: Entry) -> str:
    facts = entry.facts
    assert isinstance(facts, PreRegistrationFacts)
    if facts.pre_kind is PreRegistrationKind.MORTGAGE and facts.mortgagee is not None:
        return f"预抵押（{facts.mortgagee.name}）"
    return f"预告登记（{'、'.join(mask_name(p.name) for p in facts.buyers)}）"


def pre_registrations_consented(inp: CaseInput, view: RegisterView, ctx: RuleContext) -> RuleResult:
    """A disposal against a pre-registration in force needs the pre-registrant's written consent.

    民法典 第二百二十一条第一款: "预告登记后，未经预告登记的权利人同意，处分该不动产的，不发生物权效力。"
    不动产登记暂行条例实施细则 第八十五条第二款: "预告登记生效期间，未经预告登记的权利人书面同意，处分该不动产权利申请
    登记的，不动产登记机构应当不予办理。" The transfer to the pre-registered buyers and the mortgage that
    realises a 预抵押 are not against it (gateway.domain.pre_registrations).
    """
    name = "pre_registrations_consented"
    against = needing_consent(inp, view, ctx.submitter, ctx.lapsed)
    if not against:
        return _ok(name)
    holders = "、".join(_pre_registrant(e) for e in against)
    if MaterialKind.PRE_REGISTRANT_CONSENT in ctx.materials:
        return _passed_on(
            name,
            f"预告登记权利人的书面同意已提交：{holders}（民法典第二百二十一条）",
            f"the pre-registrants' written consent is on the case: {holders} (民法典 art. 221)",
        )
    return _fail(
        name,
        f"该不动产存在{holders}，未经预告登记权利人书面同意不能办理（民法典第二百二十一条、实施细则第八十五条）",
        f"the unit carries a pre-registration in force ({holders}); without the pre-registrant's written "
        "consent it is neither transferred nor mortgaged (民法典 art. 221, 实施细则 art. 85)",
    )


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
        no_objection(view, ctx),
        certificate_is_current(inp.ownership_certificate_number, view),
        parties_are_owners("mortgagors_are_owners", inp.mortgagors, view, "抵押人", "mortgagors"),
        pre_registrations_consented(inp, view, ctx),
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
    results = [unit_first_registered(view), unit_not_seized(view), no_objection(view, ctx)]
    if inp.transfer_type is TransferType.SECOND_HAND:
        results.append(certificate_is_current(inp.ownership_certificate_number, view))
        results.append(parties_are_owners("sellers_are_owners", inp.sellers, view, "出卖人", "sellers"))
    elif inp.transfer_type is TransferType.CO_OWNER_SHARE:
        results.append(certificate_is_current(inp.ownership_certificate_number, view))
        results += _co_owner_share(inp, view, ctx)
    else:
        results.append(
            parties_are_owners("seller_is_developer", inp.sellers, view, "出卖人（开发企业）", "developer")
        )
        results.append(_buyers_hold_purchase_pre_registration([b.party for b in inp.buyers], view))
    results.append(_mortgages_released_or_consented(inp, view, ctx))
    results.append(pre_registrations_consented(inp, view, ctx))
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


def _co_owner_share(inp: TransferInput, view: RegisterView, ctx: RuleContext) -> list[RuleResult]:
    """A co-owner transfers its own share (民法典 第三百零五条: "按份共有人可以转让其享有的共有的不动产或者
    动产份额。其他共有人在同等条件下享有优先购买的权利。").

    - `ownership_by_shares`: only a 按份共有 owner has a share of its own to transfer (第二百九十八条); a
      共同共有 owner disposes only with all the others (第三百零一条).
    - `sellers_are_co_owners`: the sellers are some, not all, of the owners of record.
    - `share_transferred_whole`: the buyers take exactly the sellers' recorded shares (a part of a share is
      not modelled).
    - `co_owners_waived_pre_emption`: the other co-owners, told the terms (第三百零六条: "应当将转让条件及时
      通知其他共有人。其他共有人应当在合理期限内行使优先购买权。"), waived in writing: a material of kind
      `co_owner_pre_emption_waiver`. A co-owner who is itself a buyer exercises the right and needs none.
    """
    entry = view.ownership
    if entry is None or not isinstance(entry.facts, OwnershipFacts):
        return [
            _fail("ownership_by_shares", "该不动产没有现行所有权登记", "the unit has no current ownership")
        ]
    facts = entry.facts
    if facts.co_ownership is not CoOwnership.SHARES:
        return [
            _fail(
                "ownership_by_shares",
                f"该不动产为{facts.co_ownership.label_zh}，没有可单独转让的共有份额（民法典第二百九十八条）",
                "the unit is not owned in shares: no co-owner has a share of its own to transfer (民法典 §298)",
            )
        ]
    results = [_ok("ownership_by_shares")]
    recorded = {o.party.identity: o for o in facts.owners}
    sellers = {p.identity for p in inp.sellers}
    if not sellers <= set(recorded) or sellers == set(recorded):
        results.append(
            _fail(
                "sellers_are_co_owners",
                "转让人须为部分现登记按份共有人（全部共有人出卖的，按二手房转移办理）",
                "the sellers must be some of the co-owners of record (all of them selling is a second-hand transfer)",
            )
        )
        return results
    results.append(_ok("sellers_are_co_owners"))
    sold = sum((recorded[i].share or Fraction(0) for i in sellers), Fraction(0))
    bought = sum((b.share or Fraction(0) for b in inp.buyers), Fraction(0))
    results.append(
        _ok("share_transferred_whole")
        if sold == bought
        else _fail(
            "share_transferred_whole",
            f"受让份额合计{share_zh(bought)}与转让人登记份额{share_zh(sold)}不符",
            f"the buyers take {bought} but the sellers hold {sold} on the register",
        )
    )
    buyers = {b.party.identity for b in inp.buyers}
    others = [o.party for o in facts.owners if o.party.identity not in sellers | buyers]
    name = "co_owners_waived_pre_emption"
    if not others or MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER in ctx.materials:
        results.append(_ok(name))
    else:
        names = "、".join(mask_name(p.name) for p in others)
        results.append(
            _fail(
                name,
                f"其他按份共有人（{names}）在同等条件下享有优先购买权，须提交其放弃优先购买权的书面声明"
                "（民法典第三百零五条、第三百零六条）",
                "the other co-owners have a right of pre-emption on equal terms: their written waiver is "
                "required (民法典 §305, §306)",
            )
        )
    return results


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
    """按揭转抵押: the 预抵押 becomes a mortgage on the buyers' own flat, so the buyers must own it first.

    A mortgage is granted on property its mortgagor may dispose of (民法典 第三百九十五条: "债务人或者第三人有权处分的
    下列财产可以抵押"), and 实施细则 第八十五条第三款 registers the right a 预告登记 protects only "自能够进行相应的不动产
    登记之日起" — for a 预抵押, once the buyers' ownership is registered: together with the new-home transfer in
    one case (转移 + 抵押 合并, a transfer with `new_mortgage`) or after it. Before that the case is refused and
    both pre-registrations stay open.
    """
    results = [unit_first_registered(view), unit_not_seized(view), no_objection(view, ctx)]
    buyers_own = bool(view.owners) and same_people(inp.buyers, view.owners)
    results.append(
        _ok("buyers_are_owners")
        if buyers_own
        else _fail(
            "buyers_are_owners",
            "买受人尚未取得该房屋所有权：按揭转抵押须与新建商品房转移登记合并申请，或在转移登记完成后申请",
            "the buyers do not own the flat yet: apply for the conversion together with the new-home "
            "transfer (转移+抵押 合并) or after it",
        )
    )
    matching = [
        e
        for e in view.pre_registrations
        if isinstance(e.facts, PreRegistrationFacts)
        and e.facts.pre_kind is PreRegistrationKind.MORTGAGE
        and e.facts.mortgagee is not None
        and e.facts.mortgagee.credit_code == ctx.submitter.credit_code
        and e.facts.contract_no == inp.pre_mortgage_contract_no
        and same_people(e.facts.buyers, inp.buyers)
    ]
    # §221 asks whether registration was applied for in time: judged at 受理, not again at 登簿.
    if any(ctx.at_registration or e.id not in ctx.lapsed for e in matching):
        results.append(_ok("pre_mortgage_matches"))
    elif matching:
        # 民法典 §221: 自能够进行不动产登记之日起九十日内未申请登记的，预告登记失效 — nothing left to convert.
        results.append(
            _fail(
                "pre_mortgage_matches",
                "该预抵押登记已失效（能够进行不动产登记之日起九十日内未申请登记，民法典第二百二十一条）",
                "the 预抵押 lapsed: no registration was applied for within 90 days of it being possible "
                "(民法典 art. 221)",
            )
        )
    else:
        results.append(
            _fail(
                "pre_mortgage_matches",
                "登记簿中没有与本行、本合同、本借款人相符的预抵押登记",
                "no 预抵押 on the register matches this bank, contract and borrowers",
            )
        )
    results.append(pre_registrations_consented(inp, view, ctx))
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
