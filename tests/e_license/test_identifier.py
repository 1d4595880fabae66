"""GB/T 36904 identifiers: the check character against real identifiers, parsing, versions."""

from __future__ import annotations

import pytest

from e_license.identifier import ROOT_OID, LicenseIdentifier, check_character, identifier_for
from e_license.numbers import CertificateKind, CertificateNumber
from gateway.errors import InputError
from gateway.settings import RegistrySettings

# Real identifiers (domain.md §3.2): Hunan (住建部 type 011), Zhejiang (type 009, version 002), and an
# Anhui one whose issuer part is a 6-digit administrative division code.
REAL = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
]
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize("text", REAL)
def test_real_identifiers_validate_and_print_back_unchanged(text: str) -> None:
    identifier = LicenseIdentifier.parse(text)
    assert str(identifier) == text
    assert identifier.check == text[-1]


def test_check_character_of_the_real_examples() -> None:
    assert check_character("11100000000013338W01111430000006122244L20230000403001") == "U"
    assert check_character("11100000000013338W00911330105002500287C2025052201002") == "0"


def test_every_single_mistyped_character_is_caught() -> None:
    """MOD 37,36 catches every single substitution: try them all on a real identifier's payload."""
    text = REAL[0]
    head = len(ROOT_OID) + 1
    for position in range(head, len(text) - 2):
        if text[position] == ".":
            continue
        for replacement in _ALPHABET:
            if replacement == text[position]:
                continue
            typo = text[:position] + replacement + text[position + 1 :]
            try:
                LicenseIdentifier.parse(typo)
            except InputError:
                continue
            pytest.fail(f"{typo} was accepted")


def test_swapped_neighbours_are_caught() -> None:
    text = REAL[1]
    for position in range(len(ROOT_OID) + 1, len(text) - 3):
        a, b = text[position], text[position + 1]
        if a == b or "." in (a, b):
            continue
        with pytest.raises(InputError):
            LicenseIdentifier.parse(text[:position] + b + a + text[position + 2 :])


def test_a_wrong_check_character_names_the_right_one() -> None:
    with pytest.raises(InputError) as caught:
        LicenseIdentifier.parse(REAL[0][:-1] + "V")
    assert "校验位V不正确（应为U）" in caught.value.message_zh


@pytest.mark.parametrize(
    ("text", "reason_zh"),
    [
        ("", "证照标识为空"),
        ("1.2.156.3003.2.11100000000013338W011.11430000006122244L.20230000403.001.U", "须以电子证照根标识"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.U", "实为4段"),
        ("1.2.156.3005.2.11100000000013338W01.11430000006122244L.20230000403.001.U", "证照类型代码"),
        ("1.2.156.3005.2.11100000000013338W011.1143000000612224.20230000403.001.U", "颁发机构代码"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.2023-0403.001.U", "流水号"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.1.U", "版本号“1”须为3位数字"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.000.U", "版本号0不在001"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.UU", "校验位须为1位"),
    ],
)
def test_each_malformed_part_is_named(text: str, reason_zh: str) -> None:
    with pytest.raises(InputError) as caught:
        LicenseIdentifier.parse(text)
    assert reason_zh in caught.value.message_zh


def test_lower_case_and_spaces_are_tolerated() -> None:
    assert str(LicenseIdentifier.parse(f"  {REAL[0].lower()} ")) == REAL[0]


def test_our_identifiers_are_reproducible_from_number_and_registry() -> None:
    registry = RegistrySettings()
    number = CertificateNumber.for_registry(registry, CertificateKind.PROOF, 2026, 42)
    first, again = identifier_for(number, registry), identifier_for(number, registry)
    assert str(first) == str(again)
    assert str(first).startswith(
        f"{ROOT_OID}.{registry.license_type_proof}.{registry.credit_code}.20260000042.001."
    )
    assert LicenseIdentifier.parse(str(first)) == first
    ownership = identifier_for(
        CertificateNumber.for_registry(registry, CertificateKind.OWNERSHIP, 2026, 42), registry
    )
    assert ownership.type_code == registry.license_type_ownership
    assert str(ownership) != str(first)


def test_a_reissue_bumps_the_version_and_the_check_character_follows() -> None:
    original = LicenseIdentifier.parse(REAL[1])
    reissued = original.next_version()
    assert (reissued.serial, reissued.version) == (original.serial, 3)
    assert str(reissued).endswith(".003." + check_character(reissued.payload))
    assert LicenseIdentifier.parse(str(reissued)) == reissued
    with pytest.raises(InputError, match="999"):
        LicenseIdentifier(original.type_code, original.issuer_code, original.serial, 999).next_version()
