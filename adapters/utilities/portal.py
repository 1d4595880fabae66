"""Providers without developers: nothing is sent, their staff settle the jobs in the provider portal.

A portal provider's jobs wait exactly as a pull provider's do (parked, looked at again after
`collect_within_seconds`, dead-lettered "never collected" when the retry schedule runs out, replayable): the
only difference is who comes for them — people at /provider/jobs instead of a program on the API. No
certificate is needed; one issued by the gateway CA lets the provider use the pull API as well.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator

from adapters.base import AdapterContext, load_party_certificate
from adapters.utilities.pull import PullProvider, PullSettings
from gateway.ports.utilities import DeliveryStyle


class PortalSettings(PullSettings):
    # Same name as the base's validator, so it replaces it: here a certificate is optional (at most one).
    @model_validator(mode="after")
    def _one_certificate(self) -> PortalSettings:
        if self.certificate_pem is not None and self.certificate_file is not None:
            raise ValueError("give at most one of certificate_pem and certificate_file")
        return self


class PortalProvider(PullProvider):
    """A pull provider whose certificate is optional; its jobs wait the same way."""

    Settings: ClassVar[type[PortalSettings]] = PortalSettings

    def __init__(self, party: str, settings: PortalSettings, context: AdapterContext) -> None:
        self._party = party
        self.settings = settings
        if settings.certificate_pem is not None or settings.certificate_file is not None:
            # Given, it must be usable: it is what the provider's signed pull requests are checked against.
            load_party_certificate(party, settings, context, kind="utility")

    @property
    def style(self) -> DeliveryStyle:
        return DeliveryStyle.PORTAL
