"""A certificate's status (有效 / 已注销 / 已作废) as the register and the verification pages name it."""

from __future__ import annotations

from enum import StrEnum


class CertificateStatus(StrEnum):
    """Set when the entry a certificate proves is closed, or when the certificate is re-issued."""

    VALID = "valid"  # 有效
    CANCELLED = "cancelled"  # 已注销: the right ended (a mortgage released)
    VOID = "void"  # 已作废: replaced (a transfer's new certificate, a re-issue)

    @property
    def label_zh(self) -> str:
        return _LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _LABELS[self][1]

    @property
    def in_force(self) -> bool:
        return self is CertificateStatus.VALID


_LABELS = {
    CertificateStatus.VALID: ("有效", "valid"),
    CertificateStatus.CANCELLED: ("已注销", "cancelled"),
    CertificateStatus.VOID: ("已作废", "void"),
}
