"""Typed application materials (申请材料): the kinds of document a register rule reads."""

from __future__ import annotations

from enum import StrEnum


class MaterialKind(StrEnum):
    """What a material is, where it matters. Most materials are `other`: read by the examiner, not a rule.

    A rule that depends on a written statement passes only when a material of that kind is on the case;
    the examiner still reads the document itself (a case relying on one is never decided by rules alone).
    """

    OTHER = "other"
    PRE_REGISTRANT_CONSENT = "pre_registrant_consent"  # 预告登记权利人书面同意 (民法典 §221)
    OBJECTION_RISK_STATEMENT = "objection_risk_statement"  # 知悉异议、自担风险 声明 (实施细则 第84条)
    # 其他按份共有人放弃优先购买权的书面声明 (民法典 §305, §306)
    CO_OWNER_PRE_EMPTION_WAIVER = "co_owner_pre_emption_waiver"
    # The application's documents (申请材料目录): a case lacks none of those its kind requires at the counter.
    APPLICATION_FORM = "application_form"  # 不动产登记申请书
    IDENTITY_DOCUMENT = "identity_document"  # 申请人身份证明
    OWNERSHIP_CERTIFICATE = "ownership_certificate"  # 不动产权证书
    REGISTRATION_PROOF = "registration_proof"  # 不动产登记证明 (of the mortgage or 预抵押)
    SALE_CONTRACT = "sale_contract"  # 买卖合同
    LOAN_CONTRACT = "loan_contract"  # 主债权合同（借款合同）
    MORTGAGE_CONTRACT = "mortgage_contract"  # 抵押合同
    DISCHARGE_PROOF = "discharge_proof"  # 抵押权消灭的证明（贷款结清证明）
    TAX_RECEIPT = "tax_receipt"  # 完税凭证

    @property
    def label_zh(self) -> str:
        return _LABEL_ZH[self]

    @property
    def label_en(self) -> str:
        return self.value.replace("_", " ")

    @property
    def is_statement(self) -> bool:
        """A written consent or declaration a rule relies on (someone must read it)."""
        return self in _STATEMENTS


_LABEL_ZH = {
    MaterialKind.OTHER: "其他材料",
    MaterialKind.PRE_REGISTRANT_CONSENT: "预告登记权利人书面同意",
    MaterialKind.OBJECTION_RISK_STATEMENT: "知悉异议、自担风险的书面声明",
    MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER: "其他按份共有人放弃优先购买权的书面声明",
    MaterialKind.APPLICATION_FORM: "不动产登记申请书",
    MaterialKind.IDENTITY_DOCUMENT: "申请人身份证明",
    MaterialKind.OWNERSHIP_CERTIFICATE: "不动产权证书",
    MaterialKind.REGISTRATION_PROOF: "不动产登记证明",
    MaterialKind.SALE_CONTRACT: "买卖合同",
    MaterialKind.LOAN_CONTRACT: "主债权合同（借款合同）",
    MaterialKind.MORTGAGE_CONTRACT: "抵押合同",
    MaterialKind.DISCHARGE_PROOF: "抵押权消灭的证明（贷款结清证明）",
    MaterialKind.TAX_RECEIPT: "完税凭证",
}
_STATEMENTS = frozenset(
    {
        MaterialKind.PRE_REGISTRANT_CONSENT,
        MaterialKind.OBJECTION_RISK_STATEMENT,
        MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER,
    }
)
