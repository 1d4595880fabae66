"""Who may call the gateway: participants and their certificates, checked on every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from certs.anchor import TrustAnchor
from certs.curve import DEFAULT_SIGNER_ID
from certs.x509 import Certificate
from gateway.errors import UnknownParticipant


@dataclass(frozen=True)
class Participant:
    code: str
    kind: str
    certificate: Certificate
    # GM/T 0009 default unless the party's device uses another ID (configurable per participant).
    signer_id: bytes = DEFAULT_SIGNER_ID


class TrustStore(Protocol):
    def participant(self, code: str) -> Participant:
        """The participant with a currently valid certificate; raises UnknownParticipant,
        CertificateRevoked or CertificateExpired."""
        ...


class CATrustStore:
    """Participants whose certificates this gateway's CA issued.

    The chain is checked once, in `add`; revocation and validity are checked on every look-up, and the
    CA's revocation list is re-read from its directory at most once a second.
    """

    REFRESH_SECONDS = 1.0

    def __init__(self, ca: TrustAnchor, *, clock: Callable[[], float] = time.time) -> None:
        self._ca = ca
        self._clock = clock
        self._participants: dict[str, Participant] = {}
        self._lock = threading.Lock()
        self._refreshed_at = float("-inf")

    def add(self, cert: Certificate, signer_id: bytes = DEFAULT_SIGNER_ID) -> Participant:
        """Trust `cert` for its participant code (replacing an earlier one: key rollover).

        Raises BadSignature when the CA did not issue it; CertificateRevoked/Expired when not usable now.
        """
        self._ca.verify(cert, self._now())
        participant = Participant(cert.party_code, cert.party_kind, cert, signer_id)
        with self._lock:
            self._participants[cert.party_code] = participant
        return participant

    def participant(self, code: str) -> Participant:
        found = self._participants.get(code)
        if found is None:
            raise UnknownParticipant(f"unknown participant {code!r}", f"未知的参与方 {code!r}")
        now = self._clock()
        if now - self._refreshed_at >= self.REFRESH_SECONDS:
            self._refreshed_at = now
            self._ca.refresh_revocations()
        self._ca.check_status(found.certificate, self._now())
        return found

    def codes(self) -> list[str]:
        return sorted(self._participants)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
