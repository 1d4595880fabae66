"""Which documents each case kind needs at the counter (申请材料目录, 不动产登记规程 TD/T 1095): a case
missing one is refused at 受理 with the whole list (一次性告知), before any rule is read."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.domain.cases import CaseInput, CaseKind, TransferInput, TransferType
from gateway.domain.materials import MaterialKind
from gateway.errors import FieldReason, InputError

__all__ = ["check_required", "missing_materials", "optional_for", "required_for", "required_materials"]

M = MaterialKind
_BASE = (M.APPLICATION_FORM, M.IDENTITY_DOCUMENT)
_LOAN = (M.LOAN_CONTRACT, M.MORTGAGE_CONTRACT)


def required_for(kind: CaseKind, *, new_home: bool = False, new_mortgage: bool = False) -> list[MaterialKind]:
    """The kinds of document a case of `kind` cannot be received without (a transfer: of a new home, with
    the buyer's new mortgage)."""
    if kind is CaseKind.MORTGAGE_REGISTRATION:
        return [*_BASE, M.OWNERSHIP_CERTIFICATE, *_LOAN]
    if kind is CaseKind.MORTGAGE_RELEASE:
        return [*_BASE, M.REGISTRATION_PROOF, M.DISCHARGE_PROOF]
    if kind is CaseKind.TRANSFER:
        # A new home has no certificate yet (the developer's 首次登记 stands for it).
        held = [] if new_home else [M.OWNERSHIP_CERTIFICATE]
        return [*_BASE, *held, M.SALE_CONTRACT, *(_LOAN if new_mortgage else ())]
    if kind is CaseKind.PRESALE_MORTGAGE_CONVERSION:
        return [*_BASE, M.REGISTRATION_PROOF, *_LOAN]
    return [*_BASE, M.SALE_CONTRACT]


def required_materials(case_input: CaseInput) -> list[MaterialKind]:
    if isinstance(case_input, TransferInput):
        return required_for(
            case_input.kind,
            new_home=case_input.transfer_type is TransferType.NEW_HOME,
            new_mortgage=case_input.new_mortgage is not None,
        )
    return required_for(case_input.kind)


def optional_for(kind: CaseKind) -> list[MaterialKind]:
    """What the counter may add: a tax receipt for a transfer (the tax bureau's clearance reaches the case
    by itself), the statements some rules read, anything else."""
    statements = [M.OBJECTION_RISK_STATEMENT, M.PRE_REGISTRANT_CONSENT]
    if kind is CaseKind.TRANSFER:
        statements = [M.TAX_RECEIPT, *statements, M.CO_OWNER_PRE_EMPTION_WAIVER]
    return [*statements, M.OTHER]


def missing_materials(case_input: CaseInput, given: Iterable[MaterialKind]) -> list[MaterialKind]:
    have = set(given)
    return [kind for kind in required_materials(case_input) if kind not in have]


def check_required(case_input: CaseInput, given: Iterable[MaterialKind]) -> None:
    """InputError naming every missing document (field `materials.<kind>`), or nothing."""
    missing = missing_materials(case_input, given)
    if missing:
        listed = "、".join(k.label_zh for k in missing)
        raise InputError(
            f"required materials are missing: {', '.join(k.value for k in missing)}",
            f"缺少必需的申请材料：{listed}",
            [
                FieldReason(
                    f"materials.{k.value}", f"缺少必需材料：{k.label_zh}", f"missing: the {k.label_en}"
                )
                for k in missing
            ],
        )
