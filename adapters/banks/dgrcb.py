"""Dongguan Rural Commercial Bank (东莞农商银行): the ESB mortgage service, routed by branch number."""

from __future__ import annotations

from pydantic import Field

from adapters.banks.soap_esb import EsbSoapBank
from adapters.base import AdapterContext


class DgrcbAdapter(EsbSoapBank):
    """DGRCB's ESB needs the handling branch (机构号) in every request header, unlike the other ESB banks."""

    class Settings(EsbSoapBank.Settings):
        branch_no: str = Field(pattern=r"^[0-9]{6,12}$")  # 机构号 of the branch handling registry business

    def __init__(self, party: str, settings: DgrcbAdapter.Settings, context: AdapterContext) -> None:
        super().__init__(party, settings, context)
        self.branch = settings.branch_no

    def branch_no(self) -> str | None:
        return self.branch
