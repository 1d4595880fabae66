"""A bank downloads its certificate through the project's own client, by its real (Chinese) number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from sandbox.stage import Stage, StageOptions
from sandbox.story import Walker, presale_conversion


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage"))
    try:
        yield running
    finally:
        await running.stop()


async def test_a_certificate_downloads_by_its_number_through_the_client(stage: Stage) -> None:
    # Was: 401 for every certificate, since the client signed the path unencoded while aiohttp sent it
    # percent-encoded (appendix A signs the path "exactly as on the request line").
    outcome = await presale_conversion(Walker(stage, lambda _: None, 30.0))
    # The new-home transfer with the conversion issues the buyer's certificate and the bank's proof.
    [number] = [n for n in outcome.certificates if "不动产证明" in n]
    bank = stage.bank(outcome.bank)  # checks the registry's signature on the reply too
    reply = await bank.get(f"/api/v1/cases/{outcome.case_id}/certificates/{number}")
    assert reply.status == 200, reply.body[:300]
    assert reply.body.startswith(b"%PDF-")
    disposition = reply.headers["Content-Disposition"]
    # RFC 6266: the number itself as filename*, and an ASCII fallback for clients that know only filename.
    assert f"filename*=UTF-8''{quote(number + '.pdf', safe='')}" in disposition
    assert disposition.startswith('attachment; filename="')
    assert disposition.isascii()
    # The same number given already percent-encoded (as a browser would send it) is the same certificate.
    encoded = await bank.get(f"/api/v1/cases/{outcome.case_id}/certificates/{quote(number, safe='')}")
    assert encoded.status == 200 and encoded.body == reply.body
    # The same certificate as OFD (GB/T 33190), a ZIP package with its signature as the archive comment.
    ofd = await bank.get(f"/api/v1/cases/{outcome.case_id}/certificates/{number}?format=ofd")
    assert ofd.status == 200 and ofd.body.startswith(b"PK\x03\x04")
    assert ofd.headers["Content-Type"] == "application/ofd"
    assert f"filename*=UTF-8''{quote(number + '.ofd', safe='')}" in ofd.headers["Content-Disposition"]
    wrong = await bank.get(f"/api/v1/cases/{outcome.case_id}/certificates/{number}?format=docx")
    assert wrong.status == 422
    async with stage.session.get(stage.base_url + "/openapi.json") as response:
        document = await response.json()
    download = document["paths"]["/api/v1/cases/{case_id}/certificates/{number}"]["get"]
    assert "Content-Disposition" in download["responses"]["200"]["headers"]
