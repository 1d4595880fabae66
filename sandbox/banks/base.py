"""What every simulated bank has: its ledger and the address its adapter is configured with."""

from __future__ import annotations

from typing import Any

from sandbox.banks.ledger import BankLedger
from sandbox.common import PartyServer


class BankPartyServer(PartyServer):
    kind = "bank"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ledger = BankLedger()

    @property
    def endpoint(self) -> str:
        """The SOAP endpoint or REST base URL an adapter entry points at."""
        return self.base_url + "/"
