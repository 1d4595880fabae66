"""Typed application materials (申请材料): the kinds of document a register rule reads."""

from __future__ import annotations

from enum import StrEnum


class MaterialKind(StrEnum):
    """What a material is, where it matters. Most materials are `other`: read by the examiner, not a rule.

    A rule that depends on a written statement passes only when a material of that kind is on the case;
    the examiner still reads the document itself.
    """

    OTHER = "other"
    # 其他按份共有人放弃优先购买权的书面声明 (民法典 §305, §306)
    CO_OWNER_PRE_EMPTION_WAIVER = "co_owner_pre_emption_waiver"

    @property
    def label_zh(self) -> str:
        return _LABEL_ZH[self]


_LABEL_ZH = {
    MaterialKind.OTHER: "其他材料",
    MaterialKind.CO_OWNER_PRE_EMPTION_WAIVER: "其他按份共有人放弃优先购买权的书面声明",
}
