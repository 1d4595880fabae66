"""Password rules of 等保 2.0 level 3 (GB/T 22239-2019 8.1.4.1 a: 口令具有复杂度要求并定期更换)."""

from __future__ import annotations

import secrets
import string

from gateway.errors import FieldReason, InputError

__all__ = ["MIN_PASSWORD_LENGTH", "check_password", "temporary_password"]

MIN_PASSWORD_LENGTH = 8
MIN_CLASSES = 3


def _classes(password: str) -> int:
    kinds = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c in string.digits for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(kinds)


def check_password(password: str, *, username: str = "", field: str = "password") -> None:
    """At least 8 characters from at least three of: lower case, upper case, digits, other characters;
    not the user name. Raises InputError naming `field`."""
    reasons: list[FieldReason] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        reasons.append(
            FieldReason(
                field,
                f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
                f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
            )
        )
    if _classes(password) < MIN_CLASSES:
        reasons.append(
            FieldReason(
                field,
                "密码须包含小写字母、大写字母、数字、其他符号中的至少三类",
                "the password needs three of: lower case, upper case, digits, other characters",
            )
        )
    if username and password.lower() == username.lower():
        reasons.append(FieldReason(field, "密码不得与用户名相同", "the password must not be the user name"))
    if reasons:
        raise InputError(
            "the password does not meet the rules: " + "; ".join(r.reason_en for r in reasons),
            "密码不符合要求：" + "；".join(r.reason_zh for r in reasons),
            reasons,
        )


def temporary_password() -> str:
    """An initial password an administrator hands over, meeting the rules above (upper and lower case, a
    digit and a sign; the user must change it at first sign-in)."""
    return f"Gw-{secrets.token_urlsafe(9)}-{secrets.randbelow(90) + 10}"
