"""Electronic certificates (电子证照): numbers, GB/T 36904 identifiers, PDF and OFD rendering, SM2 signing, verification."""

from .content import (
    CertificateContent,
    CoOwnership,
    MortgageMethod,
    MortgageTerms,
    OwnershipCertificateContent,
    RegistrationProofContent,
    RightHolder,
)
from .identifier import ROOT_OID, LicenseIdentifier, check_character, identifier_for, serial_for
from .numbers import CertificateKind, CertificateNumber, NumberFormat, format_number, parse_number
from .render import render, render_pair
from .signing import SignedCertificate, issue, issue_async, sign_pdf
from .status import CertificateStatus
from .verify import VerifyResult, verify_detached, verify_file

__all__ = [
    "ROOT_OID",
    "CertificateContent",
    "CertificateKind",
    "CertificateNumber",
    "CertificateStatus",
    "CoOwnership",
    "LicenseIdentifier",
    "MortgageMethod",
    "MortgageTerms",
    "NumberFormat",
    "OwnershipCertificateContent",
    "RegistrationProofContent",
    "RightHolder",
    "SignedCertificate",
    "VerifyResult",
    "check_character",
    "format_number",
    "identifier_for",
    "issue",
    "issue_async",
    "parse_number",
    "render",
    "render_pair",
    "serial_for",
    "sign_pdf",
    "verify_detached",
    "verify_file",
]
