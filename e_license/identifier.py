"""The GB/T 36904 e-licence identifier (证照标识) with its ISO 7064 MOD 37,36 check character."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gateway.errors import FieldReason, InputError
from gateway.settings import RegistrySettings

from .numbers import CertificateKind, CertificateNumber

ROOT_OID = "1.2.156.3005.2"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# GB 32100 credit codes use 31 characters: no I, O, Z, S, V.
_CREDIT_CODE = "[0-9A-HJ-NPQRTUWXY]{18}"
_TYPE_CODE_RE = re.compile(_CREDIT_CODE + r"\d{3}")
# Real identifiers carry either the issuer's credit code or a 6-digit administrative division code
# (an Anhui example, domain.md §3.2), so both are accepted.
_ISSUER_CODE_RE = re.compile(rf"{_CREDIT_CODE}|\d{{6}}")
_SERIAL_RE = re.compile(r"[0-9A-Z]{1,40}")
_MAX_VERSION = 999


def check_character(payload: str) -> str:
    """ISO 7064 MOD 37,36 (hybrid) over 类型代码+颁发机构代码+流水号+版本号, without dots and root."""
    product = 36
    for ch in payload.upper():
        position = _ALPHABET.find(ch)
        if position < 0:
            raise _refuse(f"character {ch!r} is not in 0-9A-Z", f"字符“{ch}”不在0-9A-Z之内")
        total = product + position
        remainder = total % 36 or 36
        product = (remainder * 2) % 37
    return _ALPHABET[(37 - product) % 36]


def _refuse(reason_en: str, reason_zh: str, field: str = "identifier") -> InputError:
    return InputError(
        f"invalid e-licence identifier: {reason_en}",
        f"证照标识无效：{reason_zh}",
        [FieldReason(field, reason_zh, reason_en)],
    )


@dataclass(frozen=True, order=True)
class LicenseIdentifier:
    """`1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>`; `str()` prints it."""

    type_code: str  # 证照类型代码: the defining ministry's credit code + 3-digit type number
    issuer_code: str  # 证照颁发机构代码: the registry's credit code
    serial: str  # 流水号
    version: int = 1  # 版本号, bumped on every re-issue or correction

    def __post_init__(self) -> None:
        if not _TYPE_CODE_RE.fullmatch(self.type_code):
            raise _refuse(
                f"type code {self.type_code!r} must be an 18-character credit code and 3 digits",
                f"证照类型代码“{self.type_code}”须为18位统一社会信用代码加3位数字",
                "type_code",
            )
        if not _ISSUER_CODE_RE.fullmatch(self.issuer_code):
            raise _refuse(
                f"issuer code {self.issuer_code!r} must be an 18-character credit code",
                f"颁发机构代码“{self.issuer_code}”须为18位统一社会信用代码",
                "issuer_code",
            )
        if not _SERIAL_RE.fullmatch(self.serial):
            raise _refuse(
                f"serial {self.serial!r} must be 1–40 characters of 0-9A-Z",
                f"流水号“{self.serial}”须为1至40位数字或大写字母",
                "serial",
            )
        if not 1 <= self.version <= _MAX_VERSION:
            raise _refuse(
                f"version {self.version} is outside 001–999",
                f"版本号{self.version}不在001–999之间",
                "version",
            )

    @property
    def payload(self) -> str:
        """The string the check character is computed over."""
        return f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}"

    @property
    def check(self) -> str:
        return check_character(self.payload)

    def __str__(self) -> str:
        return f"{ROOT_OID}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check}"

    def next_version(self) -> LicenseIdentifier:
        """The identifier of a re-issued certificate: same serial, version + 1, new check character.

        A re-issue also takes a new certificate number (一证一号), so derive it from the stored identifier,
        not with `identifier_for(new_number, ...)`, which would start a new serial at version 001.
        """
        if self.version >= _MAX_VERSION:
            raise _refuse("version 999 cannot be bumped", "版本号已达999，无法再换发", "version")
        return replace(self, version=self.version + 1)

    @classmethod
    def parse(cls, text: str) -> LicenseIdentifier:
        """Parse and validate, naming the first wrong part; a wrong check character is refused."""
        cleaned = (text or "").strip().upper()
        if not cleaned:
            raise _refuse("it is empty", "证照标识为空")
        if not cleaned.startswith(ROOT_OID + "."):
            raise _refuse(
                f"it must start with the e-licence root {ROOT_OID}", f"须以电子证照根标识{ROOT_OID}开头"
            )
        parts = cleaned[len(ROOT_OID) + 1 :].split(".")
        if len(parts) != 5:
            raise _refuse(
                f"after the root it needs 5 parts (type, issuer, serial, version, check), not {len(parts)}",
                f"根标识之后须有5段（类型代码、颁发机构代码、流水号、版本号、校验位），实为{len(parts)}段",
            )
        type_code, issuer_code, serial, version, check = parts
        if not re.fullmatch(r"\d{3}", version):
            raise _refuse(f"version {version!r} must be 3 digits", f"版本号“{version}”须为3位数字", "version")
        identifier = cls(type_code, issuer_code, serial, int(version))
        if len(check) != 1:
            raise _refuse(
                f"the check character must be one character, not {check!r}",
                f"校验位须为1位字符，实为“{check}”",
            )
        if check != identifier.check:
            raise _refuse(
                f"check character {check} is wrong (expected {identifier.check}): a character was mistyped",
                f"校验位{check}不正确（应为{identifier.check}），标识中有字符录入错误",
            )
        return identifier


def serial_for(number: CertificateNumber) -> str:
    """The serial derived from a number: year + 7-digit sequence (the form Hubei's e-licences use).

    The type code already distinguishes 不动产权证书 from 不动产登记证明, so both kinds may share a serial.
    """
    return f"{number.year}{number.seq:07d}"


def identifier_for(
    number: CertificateNumber, registry: RegistrySettings, version: int = 1
) -> LicenseIdentifier:
    """The identifier of a certificate, reproducible from its number and the registry's settings."""
    type_code = (
        registry.license_type_ownership
        if number.kind is CertificateKind.OWNERSHIP
        else registry.license_type_proof
    )
    return LicenseIdentifier(type_code, registry.credit_code, serial_for(number), version)
