"""Back-office roles (岗位) and what each may do is decided per route with `require_role`."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    EXAMINER = "examiner"  # 初审
    SENIOR_EXAMINER = "senior_examiner"  # 复审 / 核定
    REGISTRAR = "registrar"  # 登簿
    SUPERVISOR = "supervisor"  # 科长: reassignment, dead-letter replay
    ADMIN = "admin"  # users, configuration, dead-letter replay

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]


_LABELS_ZH = {
    Role.EXAMINER: "初审人员",
    Role.SENIOR_EXAMINER: "复审人员",
    Role.REGISTRAR: "登簿人员",
    Role.SUPERVISOR: "业务主管",
    Role.ADMIN: "系统管理员",
}
