"""Case inputs as a bank counter would submit them against the demo register."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from gateway.domain.cases import (
    ContractFilingInput,
    MortgageRegistrationInput,
    MortgageReleaseInput,
    MortgageTerms,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
    UtilityAccount,
)
from gateway.domain.parties import CoOwnership, Owner
from gateway.seed import (
    CERT_LI_WANG,
    CERT_ZHANG,
    CHEN_JING,
    DEVELOPER,
    LI_NA,
    LIU_YANG,
    PRE_MORTGAGE_CONTRACT,
    PROOF_LI_WANG_ICBC,
    PROOF_SUN_DGB,
    UNITS,
    WANG_QIANG,
    ZHANG_WEI,
)


def terms(contract: str = "BOC-DK-2026-0001", amount: str = "600000.00") -> MortgageTerms:
    return MortgageTerms(
        amount=Decimal(amount),
        term_start=date(2026, 12, 1),
        term_end=date(2046, 12, 1),
        loan_contract_no=contract,
        mortgage_contract_no=contract.replace("DK", "DY"),
    )


def mortgage_registration(**kw: Any) -> MortgageRegistrationInput:
    base: dict[str, Any] = {
        "unit_code": UNITS.single_owner,
        "ownership_certificate_number": CERT_ZHANG,
        "mortgagors": [ZHANG_WEI],
        "mortgage": terms(),
    }
    return MortgageRegistrationInput(**{**base, **kw})


def mortgage_release(**kw: Any) -> MortgageReleaseInput:
    return MortgageReleaseInput(**{"unit_code": UNITS.mortgaged_to_dgb, "proof_number": PROOF_SUN_DGB, **kw})


def transfer(**kw: Any) -> TransferInput:
    base: dict[str, Any] = {
        "unit_code": UNITS.co_owned_mortgaged,
        "ownership_certificate_number": CERT_LI_WANG,
        "sellers": [LI_NA, WANG_QIANG],
        "buyers": [Owner(party=LIU_YANG)],
        "co_ownership": CoOwnership.SOLE,
        "price": Decimal("2350000.00"),
        "contract_no": "WQ-2026-112233",
        "contract_date": date(2026, 11, 20),
        "seller_acquired_on": date(2018, 5, 20),
        "seller_only_home": True,
        "release_proof_numbers": [PROOF_LI_WANG_ICBC],
        "new_mortgage": terms(),
        "utilities": [
            UtilityAccount(provider="dg-water", service="water", account_no="SW1020304"),
            UtilityAccount(provider="dg-power", service="power", account_no="DL5566778"),
        ],
    }
    return TransferInput(**{**base, **kw})


def conversion(**kw: Any) -> PresaleMortgageConversionInput:
    base: dict[str, Any] = {
        "unit_code": UNITS.presale,
        "buyers": [CHEN_JING],
        "pre_mortgage_contract_no": PRE_MORTGAGE_CONTRACT,
        "mortgage": terms("CCB-DK-2025-0606", "800000.00"),
    }
    return PresaleMortgageConversionInput(**{**base, **kw})


def new_home_transfer(**kw: Any) -> TransferInput:
    """陈静 takes her pre-sold flat from the developer; by default combined with CCB's conversion (转移+抵押 合并)."""
    base: dict[str, Any] = {
        "unit_code": UNITS.presale,
        "transfer_type": TransferType.NEW_HOME,
        "sellers": [DEVELOPER.as_party()],
        "buyers": [Owner(party=CHEN_JING)],
        "co_ownership": CoOwnership.SOLE,
        "price": Decimal("1500000.00"),
        "contract_no": "YS-2025-0088",
        "contract_date": date(2025, 6, 6),
        "new_mortgage": terms("CCB-DK-2025-0606", "800000.00"),
    }
    return TransferInput(**{**base, **kw})


def contract_filing(**kw: Any) -> ContractFilingInput:
    base: dict[str, Any] = {
        "unit_code": UNITS.for_sale,
        "contract_no": "WQ-XF-2026-0001",
        "developer": DEVELOPER,
        "buyers": [LIU_YANG],
        "price": Decimal("1980000.00"),
        "signed_on": date(2026, 11, 26),
    }
    return ContractFilingInput(**{**base, **kw})
