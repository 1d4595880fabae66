"""Whom the gateway trusts: participants' certificates, checked on every use against live revocations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from certs.anchor import TrustAnchor, check_validity
from certs.curve import DEFAULT_SIGNER_ID
from certs.keys import SM2PublicKey
from certs.x509 import Certificate
from gateway.errors import UnknownParticipant


class RevocationState:
    """The CA's revocations as this process sees them: revoked.json re-read at most once a second.

    A process builds one and hands it to everything that checks a party's signature (the inbound trust
    store, every adapter), so `gw-certs revoke` reaches all of them within a second, without a restart.
    """

    REFRESH_SECONDS = 1.0

    def __init__(self, anchor: TrustAnchor, *, clock: Callable[[], float] = time.time) -> None:
        self.anchor = anchor
        self._clock = clock
        self._refreshed_at = float("-inf")

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def check(self, cert: Certificate) -> None:
        """CertificateRevoked or CertificateExpired unless `cert` is usable now."""
        now = self._clock()
        if now - self._refreshed_at >= self.REFRESH_SECONDS:
            self._refreshed_at = now
            self.anchor.refresh_revocations()
        self.anchor.check_status(cert, datetime.fromtimestamp(now, UTC))


@dataclass(frozen=True)
class PartyKey:
    """A party's certificate as an adapter holds it: the key to verify the party's replies with, handed out
    only while the certificate is unrevoked and within its dates, checked at each use (not at start-up)."""

    certificate: Certificate
    revocations: RevocationState | None = None  # None: no CA configured; the dates are still checked

    def public_key(self) -> SM2PublicKey:
        if self.revocations is not None:
            self.revocations.check(self.certificate)
        else:
            check_validity(self.certificate, datetime.now(UTC))
        return self.certificate.public_key


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

    The chain is checked once, in `add`; revocation and validity are checked on every look-up against
    `revocations` (shared with the adapters), which re-reads the CA's list at most once a second.
    """

    REFRESH_SECONDS = RevocationState.REFRESH_SECONDS

    def __init__(
        self,
        ca: TrustAnchor,
        *,
        clock: Callable[[], float] = time.time,
        revocations: RevocationState | None = None,
    ) -> None:
        self._ca = ca
        self.revocations = revocations if revocations is not None else RevocationState(ca, clock=clock)
        self._participants: dict[str, Participant] = {}
        self._lock = threading.Lock()

    def add(self, cert: Certificate, signer_id: bytes = DEFAULT_SIGNER_ID) -> Participant:
        """Trust `cert` for its participant code (replacing an earlier one: key rollover).

        Raises BadSignature when the CA did not issue it; CertificateRevoked/Expired when not usable now.
        """
        self._ca.verify(cert, self.revocations.now())
        participant = Participant(cert.party_code, cert.party_kind, cert, signer_id)
        with self._lock:
            self._participants[cert.party_code] = participant
        return participant

    def participant(self, code: str) -> Participant:
        found = self._participants.get(code)
        if found is None:
            raise UnknownParticipant(f"unknown participant {code!r}", f"未知的参与方 {code!r}")
        self.revocations.check(found.certificate)
        return found

    def codes(self) -> list[str]:
        return sorted(self._participants)
