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

    @property
    def label_zh(self) -> str:
        return _LABEL_ZH[self]

    @property
    def is_statement(self) -> bool:
        """A written consent or declaration a rule relies on (someone must read it)."""
        return self is not MaterialKind.OTHER


_LABEL_ZH = {
    MaterialKind.OTHER: "其他材料",
    MaterialKind.PRE_REGISTRANT_CONSENT: "预告登记权利人书面同意",
    MaterialKind.OBJECTION_RISK_STATEMENT: "知悉异议、自担风险的书面声明",
    MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER: "其他按份共有人放弃优先购买权的书面声明",
}
