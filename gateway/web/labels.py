"""What the pages call each code: English message ids, translated through the catalogues (zh_CN default).

`N_` marks a string for extraction (`pybabel extract -k N_`) without translating it at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.web.i18n import gettext as _

__all__ = ["LABELS", "label_functions"]


def N_(message: str) -> str:
    return message


LABELS: dict[str, dict[str, str]] = {
    "role": {
        "examiner": N_("First examiner"),
        "senior_examiner": N_("Senior examiner"),
        "registrar": N_("Registrar"),
        "supervisor": N_("Supervisor"),
        "admin": N_("Administrator"),
        "bank_clerk": N_("Bank clerk"),
        "branch_supervisor": N_("Branch supervisor"),
        "bank_admin": N_("Bank administrator"),
        "provider_staff": N_("Provider staff"),
    },
    "kind": {
        "mortgage_registration": N_("Mortgage registration"),
        "mortgage_release": N_("Mortgage release"),
        "transfer": N_("Transfer"),
        "presale_mortgage_conversion": N_("Pre-sale mortgage conversion"),
        "contract_filing": N_("Sales contract filing"),
    },
    "state": {
        "received": N_("Accepted"),
        "under_review": N_("Under review"),
        "need_more_material": N_("Awaiting correction"),
        "approved": N_("Approved"),
        "suspended": N_("Suspended"),
        "registered": N_("Registered"),
        "certified": N_("Certified"),
        "completed": N_("Completed"),
        "rejected": N_("Refused"),
        "withdrawn": N_("Withdrawn"),
    },
    "stage": {
        "received": N_("Checking rules"),
        "first_review": N_("First review"),
        "second_review": N_("Second review"),
        "waiting_parties": N_("Waiting for tax or bank"),
        "correction": N_("Correction by the bank"),
        "register": N_("Registration"),
        "suspended": N_("Suspended"),
        "certify": N_("Certificate"),
        "closed": N_("Closed"),
    },
    "track": {"review": N_("Registry review"), "tax": N_("Tax"), "bank": N_("Bank")},
    "track_status": {
        "pending": N_("Pending"),
        "first_reviewed": N_("First review done"),
        "assessed": N_("Assessed"),
        "passed": N_("Passed"),
        "failed": N_("Failed"),
    },
    "rule": {
        "unit_not_seized": N_("The unit is not seized"),
        "no_objection": N_("No objection is recorded on the unit"),
        "unit_first_registered": N_("The unit's first registration is done"),
        "ownership_certificate_current": N_("The ownership certificate is the current one"),
        "mortgagors_are_owners": N_("The mortgagors are all the owners of record"),
        "sellers_are_owners": N_("The sellers are all the owners of record"),
        "seller_is_developer": N_("The seller is the developer of record"),
        "mortgage_of_record": N_("The mortgage is on the register"),
        "releaser_is_mortgagee": N_("Only the mortgagee of record releases"),
        "mortgages_released_or_consented": N_("Mortgages released or the mortgagee consents"),
        "buyers_hold_pre_registration": N_("The buyers hold the pre-registration"),
        "buyers_are_owners_or_pre_registered": N_("The buyers own the unit or hold its pre-registration"),
        "pre_mortgage_matches": N_("The pre-registered mortgage matches"),
        "tax_cleared": N_("The tax is paid"),
        "unit_for_sale": N_("The unit is for sale"),
        "not_already_filed": N_("No sales contract is filed yet"),
    },
    "party": {
        "mortgagors": N_("Mortgagor"),
        "sellers": N_("Seller"),
        "buyers": N_("Buyer"),
        "borrowers": N_("Borrower"),
        "applicant": N_("Applicant"),
        "developer": N_("Developer"),
    },
    "field": {
        "unit_code": N_("Unit code"),
        "ownership_certificate_number": N_("Certificate of title number"),
        "proof_number": N_("Registration proof number"),
        "mortgage": N_("Mortgage"),
        "new_mortgage": N_("New mortgage"),
        "mortgage_kind": N_("Kind of mortgage"),
        "amount": N_("Amount (yuan)"),
        "term_start": N_("Term from"),
        "term_end": N_("Term until"),
        "loan_contract_no": N_("Loan contract number"),
        "mortgage_contract_no": N_("Mortgage contract number"),
        "transfer_type": N_("Kind of transfer"),
        "co_ownership": N_("Co-ownership"),
        "price": N_("Price (yuan)"),
        "contract_no": N_("Contract number"),
        "contract_date": N_("Contract date"),
        "release_proof_numbers": N_("Mortgages released with it"),
        "mortgagee_consent": N_("Mortgagee's consent"),
        "utilities": N_("Utility accounts"),
        "pre_mortgage_contract_no": N_("Pre-registered mortgage contract"),
    },
    "utility_status": {
        "pending": N_("Waiting for the provider"),
        "delivered": N_("Seen by the provider"),
        "accepted": N_("Accepted by the provider"),
        "done": N_("Transferred"),
        "rejected": N_("Refused by the provider"),
        "dead": N_("Delivery given up"),
    },
    "material": {
        "other": N_("Other material"),
        "pre_registrant_consent": N_("Written consent of the pre-registration holder"),
        "objection_risk_statement": N_("Statement accepting the objection's risk"),
        "co_owner_pre_emption_waiver": N_("Other co-owners' waiver of pre-emption"),
        "application_form": N_("Application form"),
        "identity_document": N_("Applicants' identity documents"),
        "ownership_certificate": N_("Certificate of title"),
        "registration_proof": N_("Registration proof"),
        "sale_contract": N_("Sales contract"),
        "loan_contract": N_("Loan contract"),
        "mortgage_contract": N_("Mortgage contract"),
        "discharge_proof": N_("Proof the loan is repaid"),
        "tax_receipt": N_("Tax receipt"),
    },
    "entry": {
        "ownership": N_("Ownership"),
        "mortgage": N_("Mortgage"),
        "pre_registration": N_("Pre-registration"),
        "seizure": N_("Seizure"),
        "objection": N_("Objection"),
        "contract_filing": N_("Contract filing"),
    },
}


def _labeller(group: str) -> Callable[[Any], str]:
    table = LABELS[group]

    def label(code: Any) -> str:
        key = str(getattr(code, "value", code))
        found = table.get(key)
        return _(found) if found else key  # a code the pages do not know yet shows as itself

    return label


def label_functions() -> dict[str, Callable[[Any], str]]:
    """Template globals: role_label, kind_label, state_label, stage_label, track_label, ..."""
    return {f"{group}_label": _labeller(group) for group in LABELS}
