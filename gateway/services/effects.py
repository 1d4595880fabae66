"""Names of the outbox jobs the services write; job handlers are registered under the same names."""

from __future__ import annotations

from typing import Final

BANK_NOTIFY: Final = "bank.notify"  # case events told to the submitting bank
BANK_CONFIRM_CONTRACTS: Final = "bank.confirm_contracts"  # loan + mortgage contracts, bank track
BANK_CONFIRM_SETTLEMENT: Final = "bank.confirm_settlement"  # seller's loan settled, bank track
BANK_RELEASE_LOAN: Final = "bank.release_loan"  # 登簿 done: the loan may be released (当天放贷)
TAX_ASSESS: Final = "tax.assess"  # transfer taxes, tax track
CERTIFICATE_ISSUE: Final = "certificate.issue"  # 缮证: render and sign the certificates
UTILITY_TRANSFER: Final = "utility.transfer"  # 水电气网 account transfer after 登簿

REGISTRY: Final = "registry"  # target of jobs the registry runs itself
