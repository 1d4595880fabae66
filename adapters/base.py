"""What every adapter is built from: the gateway's signing identity, the party's certificate, lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol, runtime_checkable

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

import certs
from gateway.errors import ConfigError, GatewayError


@dataclass(frozen=True)
class GatewayIdentity:
    """The key and participant code the gateway signs its outbound requests with (Appendix A)."""

    key: certs.SM2PrivateKey
    party: str = "registry"


@dataclass(frozen=True)
class AdapterContext:
    """What the composition root hands every adapter: who we are, and whom we trust."""

    identity: GatewayIdentity
    # When given, each party's certificate must chain to this CA and be valid and unrevoked at start-up,
    # and stay unrevoked for each reply it signs.
    ca: certs.TrustAnchor | None = None
    # The process's live revocation state, shared with the inbound trust store (made from `ca` if not given).
    revocations: certs.RevocationState | None = None

    def __post_init__(self) -> None:
        if self.revocations is None and self.ca is not None:
            object.__setattr__(self, "revocations", certs.RevocationState(self.ca))


Seconds = Annotated[float, Field(gt=0, le=300)]


class AdapterSettings(BaseModel):
    """Settings every adapter entry has; an adapter's own `Settings` class extends this (or a subclass)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adapter: str  # "package.module:Class": read by the registry, kept here so unknown keys stay errors
    name: str = ""  # the party's name for people, e.g. 中国工商银行东莞分行
    # The party's certificate (issued by the gateway CA): PEM text, or a file read at start-up.
    certificate_pem: str | None = Field(default=None, repr=False)
    certificate_file: Path | None = None

    @model_validator(mode="after")
    def _one_certificate(self) -> AdapterSettings:
        if (self.certificate_pem is None) == (self.certificate_file is None):
            raise ValueError("give exactly one of certificate_pem and certificate_file")
        return self


class HttpSettings(AdapterSettings):
    """Transport settings shared by the SOAP and REST adapters."""

    timeout_seconds: Seconds = 10.0  # per attempt: signing, the exchange, verification and parsing
    connect_timeout_seconds: Seconds = 3.0
    max_response_bytes: int = Field(default=1 << 20, gt=0, le=64 << 20)
    retry_attempts: int = Field(default=3, ge=1, le=5)  # idempotent calls only
    retry_backoff_seconds: float = Field(default=0.2, ge=0, le=5)  # first wait; doubled, with jitter
    max_retry_wait_seconds: float = Field(default=2.0, ge=0, le=30)  # a longer Retry-After is surfaced


class SoapSettings(HttpSettings):
    endpoint: AnyHttpUrl  # the service address; the WSDL ships with the adapter


class RestSettings(HttpSettings):
    base_url: AnyHttpUrl


def load_party_certificate(
    party: str, settings: AdapterSettings, context: AdapterContext, *, kind: str | None = None
) -> certs.Certificate:
    """Read and check the party's certificate at start-up: its code must be the entry's (and its kind
    `kind`, when given: a bank's entry must not trust a utility's certificate), its chain valid."""
    try:
        if settings.certificate_pem is not None:
            pem = settings.certificate_pem.encode()
        else:
            assert settings.certificate_file is not None
            pem = settings.certificate_file.read_bytes()
        certificate = certs.Certificate.from_pem(pem)
        if context.ca is not None:
            context.ca.verify(certificate)
    except (OSError, ValueError, GatewayError) as exc:
        raise ConfigError(
            f"{party}: the party certificate is unusable: {exc}",
            f"{party}：证书不可用：{exc}",
        ) from exc
    if certificate.party_code != party:
        raise ConfigError(
            f"{party}: the certificate belongs to {certificate.party_code!r}",
            f"{party}：证书属于 {certificate.party_code!r}，与配置不符",
        )
    if kind is not None and certificate.party_kind != kind:
        raise ConfigError(
            f"{party}: the certificate is for a {certificate.party_kind!r}, not a {kind!r}",
            f"{party}：证书的参与方类型为 {certificate.party_kind!r}，应为 {kind!r}",
        )
    return certificate


def load_party_key(
    party: str, settings: AdapterSettings, context: AdapterContext, *, kind: str | None = None
) -> certs.PartyKey:
    """The party's certificate (checked as `load_party_certificate` does) as the key its replies are
    verified with: revocation and validity are checked again at every reply, against the live state."""
    certificate = load_party_certificate(party, settings, context, kind=kind)
    return certs.PartyKey(certificate, context.revocations)


@runtime_checkable
class ManagedAdapter(Protocol):
    """Lifecycle the registry drives from aiohttp's cleanup_ctx: clients built once, closed once."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...
