"""Roles (岗位) of the people who sign in, and the realm each belongs to.

Three kinds of people sign in: the registry's staff (the back office), bank staff (银行端, the counter
portal) and utility providers' staff (the provider portal). Each user belongs to exactly one realm, decided
by their roles; bank and provider users also belong to one institution. What each role may do is decided
per route with `require_role`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Realm", "Role"]


class Realm(StrEnum):
    REGISTRY = "registry"  # 不动产登记中心: the back office
    BANK = "bank"  # 银行端: a bank's counter portal, one bank per user
    PROVIDER = "provider"  # 水电气网: a utility provider's portal, one provider per user


class Role(StrEnum):
    EXAMINER = "examiner"  # 初审
    SENIOR_EXAMINER = "senior_examiner"  # 复审 / 核定
    REGISTRAR = "registrar"  # 登簿
    SUPERVISOR = "supervisor"  # 科长: reassignment, dead-letter replay
    ADMIN = "admin"  # users, configuration, dead-letter replay
    BANK_CLERK = "bank_clerk"  # 柜员: the branch's cases
    BRANCH_SUPERVISOR = "branch_supervisor"  # 网点主管: every case of the branch
    BANK_ADMIN = "bank_admin"  # 银行管理员: every case of the bank, the bank's users
    PROVIDER_STAFF = "provider_staff"  # 联动单位经办人: the provider's transfer jobs

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]

    @property
    def realm(self) -> Realm:
        return _REALMS.get(self, Realm.REGISTRY)

    @property
    def needs_branch(self) -> bool:
        """A clerk and a branch supervisor work at one branch (网点); a bank administrator at none."""
        return self in (Role.BANK_CLERK, Role.BRANCH_SUPERVISOR)


_LABELS_ZH = {
    Role.EXAMINER: "初审人员",
    Role.SENIOR_EXAMINER: "复审人员",
    Role.REGISTRAR: "登簿人员",
    Role.SUPERVISOR: "业务主管",
    Role.ADMIN: "系统管理员",
    Role.BANK_CLERK: "银行柜员",
    Role.BRANCH_SUPERVISOR: "网点主管",
    Role.BANK_ADMIN: "银行管理员",
    Role.PROVIDER_STAFF: "联动单位经办人",
}
_REALMS = {
    Role.BANK_CLERK: Realm.BANK,
    Role.BRANCH_SUPERVISOR: Realm.BANK,
    Role.BANK_ADMIN: Realm.BANK,
    Role.PROVIDER_STAFF: Realm.PROVIDER,
}
