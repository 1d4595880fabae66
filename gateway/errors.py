"""The gateway's one error tree; only the HTTP error middleware and the job wrapper catch broadly.

```
GatewayError
├─ ConfigError            start-up only
├─ BadRequest             → 400 (malformed request; missing Idempotency-Key)
├─ LoginRequired          → 401 (back office: no, unknown or expired token; wrong password)
├─ PayloadTooLarge        → 413 (body over the route's limit)
├─ ServiceUnavailable     → 503 (request timeout, database down: retry with the same key)
├─ InputError             → 422 problem+json, field-level reasons
├─ NotFound               → 404 (also for another participant's object: existence does not leak)
├─ Conflict               → 409 (state does not allow the action; idempotency key in flight)
├─ RuleViolation          → 409, the rule's name and reason
├─ Forbidden              → 403 (role or separation of duties)
├─ BlobError              → 500 (a stored file is not where its row says: an operator must act)
│  ├─ BlobMissing
│  └─ BlobCorrupt         its bytes no longer hash to its SM3 name
├─ PartyError(party, code, party_message)
│  ├─ PartyUnavailable    timeout / 5xx / connect → retried
│  ├─ PartyRejected       business refusal → not retried
│  └─ PartyProtocolError  bad XML, unmapped fault, bad signature
└─ CryptoError            bad key, bad certificate, bad signature
   ├─ BadSignature
   ├─ BadKey
   └─ AuthenticationError  a signed request that does not authenticate → 401
      ├─ UnknownParticipant
      ├─ CertificateRevoked
      ├─ CertificateExpired
      ├─ InvalidRequestSignature
      ├─ StaleTimestamp
      └─ ReplayedNonce
```

Every error carries a Chinese and an English message, since a clerk or an integrator reads it.
This module imports nothing, so every layer (certs included) may raise from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldReason:
    """Why one input field was refused (RFC 9457 extension member `errors`)."""

    field: str
    reason_zh: str
    reason_en: str


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    http_status = 500
    code = "gateway_error"

    def __init__(self, message_en: str, message_zh: str | None = None) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh or message_en


class ConfigError(GatewayError):
    code = "config_error"


class BadRequest(GatewayError):
    http_status = 400
    code = "bad_request"


class LoginRequired(GatewayError):
    http_status = 401
    code = "login_required"


class PayloadTooLarge(GatewayError):
    http_status = 413
    code = "payload_too_large"


class TooManyRequests(GatewayError):
    """The caller asked too often (429); `retry_after` seconds until it may again."""

    http_status = 429
    code = "too_many_requests"

    def __init__(self, message_en: str, message_zh: str, retry_after: int) -> None:
        super().__init__(message_en, message_zh)
        self.retry_after = retry_after


class ServiceUnavailable(GatewayError):
    http_status = 503
    code = "service_unavailable"


class InputError(GatewayError):
    http_status = 422
    code = "invalid_input"

    def __init__(
        self,
        message_en: str,
        message_zh: str | None = None,
        errors: list[FieldReason] | None = None,
    ) -> None:
        super().__init__(message_en, message_zh)
        self.errors = errors or []


class NotFound(GatewayError):
    http_status = 404
    code = "not_found"


class Conflict(GatewayError):
    http_status = 409
    code = "conflict"


class BlobError(GatewayError):
    code = "blob_error"


class BlobMissing(BlobError):
    code = "blob_missing"


class BlobCorrupt(BlobError):
    code = "blob_corrupt"


class Forbidden(GatewayError):
    http_status = 403
    code = "forbidden"


class RuleViolation(GatewayError):
    """A named register rule failed; `failures` holds (rule name, zh, en) for each."""

    http_status = 409
    code = "rule_violation"

    def __init__(self, failures: list[tuple[str, str, str]]) -> None:
        names = ", ".join(name for name, _, _ in failures)
        super().__init__(
            "; ".join(f"{n}: {en}" for n, _, en in failures) or f"rules failed: {names}",
            "；".join(f"{n}：{zh}" for n, zh, _ in failures) or f"规则未通过：{names}",
        )
        self.failures = failures


class PartyError(GatewayError):
    """An outside party (bank, tax bureau, utility) failed; carries its own code and message."""

    http_status = 502
    code = "party_error"

    def __init__(
        self, party: str, party_code: str = "", party_message: str = "", message_zh: str = ""
    ) -> None:
        super().__init__(
            f"{party}: {party_code} {party_message}".strip(),
            message_zh or f"{party}：{party_code} {party_message}".strip(),
        )
        self.party = party
        self.party_code = party_code
        self.party_message = party_message


class PartyUnavailable(PartyError):
    """Timeout, 5xx or refused connection: the call may be retried."""

    code = "party_unavailable"

    def __init__(
        self,
        party: str,
        party_code: str = "",
        party_message: str = "",
        message_zh: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(party, party_code, party_message, message_zh)
        self.retry_after = retry_after


class AwaitingParty(PartyUnavailable):
    """Not a failure: the party holds the job and answers later (a pull provider that has not collected it
    yet, a provider still working on it). The row is looked at again after the party's horizon, like a retry,
    but it is a normal state: logged at info, never a warning an operator would chase."""

    code = "awaiting_party"


class PartyRejected(PartyError):
    """A business refusal: retrying will not change the answer."""

    code = "party_rejected"


class PartyProtocolError(PartyError):
    """Bad XML, an unmapped fault, a bad signature: the party broke its own contract."""

    code = "party_protocol_error"


class CryptoError(GatewayError):
    code = "crypto_error"


class BadSignature(CryptoError):
    code = "bad_signature"


class BadKey(CryptoError):
    code = "bad_key"


class AuthenticationError(CryptoError):
    """A signed request failed to authenticate (401)."""

    http_status = 401
    code = "unauthenticated"


class UnknownParticipant(AuthenticationError):
    code = "unknown_participant"


class CertificateRevoked(AuthenticationError):
    code = "certificate_revoked"


class CertificateExpired(AuthenticationError):
    code = "certificate_expired"


class InvalidRequestSignature(AuthenticationError):
    code = "invalid_signature"


class StaleTimestamp(AuthenticationError):
    code = "stale_timestamp"


class ReplayedNonce(AuthenticationError):
    code = "replayed_nonce"
