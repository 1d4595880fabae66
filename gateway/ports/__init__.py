"""Ports: the typed interfaces the core calls to reach outside parties (banks, tax bureau)."""

from gateway.ports.banks import (
    BankCoreSystem,
    CaseEvent,
    CaseNotification,
    ContractCheck,
    ContractConfirmation,
    IssuedCertificate,
    LoanReleaseNotice,
    SettlementCheck,
    SettlementConfirmation,
)
from gateway.ports.common import DeliveryReceipt, Money, Person, PortModel, PositiveMoney
from gateway.ports.tax import (
    HomeCount,
    Payer,
    TaxAssessment,
    TaxBureau,
    TaxClearance,
    TaxKind,
    TaxLine,
    TaxPayment,
    TaxPaymentCleared,
    TransferAssessmentRequest,
)

__all__ = [
    "BankCoreSystem",
    "CaseEvent",
    "CaseNotification",
    "ContractCheck",
    "ContractConfirmation",
    "DeliveryReceipt",
    "HomeCount",
    "IssuedCertificate",
    "LoanReleaseNotice",
    "Money",
    "Payer",
    "Person",
    "PortModel",
    "PositiveMoney",
    "SettlementCheck",
    "SettlementConfirmation",
    "TaxAssessment",
    "TaxBureau",
    "TaxClearance",
    "TaxKind",
    "TaxLine",
    "TaxPayment",
    "TaxPaymentCleared",
    "TransferAssessmentRequest",
]
