"""The simulated parties: loopback servers with their own certificates, refusing what is not signed.

They serve their WSDLs, go down and come back on the same port, and the tax bureau posts signed, dedupable
callbacks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

import certs
from gateway.ports import HomeCount, Person, TransferAssessmentRequest
from sandbox.parties import REFORM_BANKS, TAX_CODE, Parties, start_parties
from sandbox.tax import TaxBureauServer


@pytest.fixture
async def parties(
    ca: certs.CertificateAuthority, gateway_certificate: certs.Certificate
) -> AsyncIterator[Parties]:
    started = await start_parties(ca, gateway_certificate)
    try:
        yield started
    finally:
        await started.stop()


async def test_all_17_banks_and_the_tax_bureau_listen_on_their_own_loopback_ports(
    parties: Parties, ca: certs.CertificateAuthority
) -> None:
    assert set(parties.banks) == {entry.code for entry in REFORM_BANKS} and len(parties.banks) == 17
    assert parties.tax is not None and parties.tax.code == TAX_CODE
    servers = [*parties.banks.values(), parties.tax]
    assert len({server.port for server in servers}) == 18
    for server in servers:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.certificate.party_code == server.code
        ca.verify(server.certificate)
    assert parties.certificates()["icbc-dg"].public_key == parties.banks["icbc-dg"].key.public_key


async def test_soap_banks_serve_the_wsdl_their_adapter_ships(parties: Parties) -> None:
    async with aiohttp.ClientSession() as session:
        for code in ("icbc-dg", "ccb-dg"):
            bank = parties.banks[code]
            async with session.get(bank.endpoint) as response:
                served = await response.read()
            assert response.status == 200
            assert b"<wsdl:definitions" in served
            assert served == bank.wsdl.read_bytes()  # type: ignore[attr-defined]


async def test_an_unsigned_request_is_refused_and_changes_nothing(parties: Parties) -> None:
    bank = parties.banks["cmb-dg"]
    body = json.dumps({"deliveryId": "d1", "caseNo": "c1", "eventType": "ACCEPTED"}).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(bank.endpoint + "openapi/v1/mortgage/registration/notify", data=body) as response,
    ):
        answer = await response.json()
    assert response.status == 401 and answer["error"] == "invalid_signature"
    assert bank.requests_refused == 1
    assert bank.ledger.effects_applied == 0


async def test_a_request_signed_by_an_untrusted_key_is_refused(parties: Parties) -> None:
    bank = parties.banks["pab-dg"]
    stranger = certs.SM2PrivateKey.generate()
    path = "/v2/loan-releases/d1"
    body = b'{"loan_contract_number": "L1"}'
    headers = certs.sign_request(stranger, "registry", "PUT", path, body)
    async with (
        aiohttp.ClientSession() as session,
        session.put(bank.base_url + path, data=body, headers=headers) as r,
    ):
        assert r.status == 401
    assert bank.ledger.effects_applied == 0


async def test_a_party_goes_down_and_comes_back_on_the_same_port(parties: Parties) -> None:
    bank = parties.banks["icbc-dg"]
    port = bank.port
    await bank.stop()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(bank.endpoint):
                pass
        await bank.start()
        assert bank.port == port
        async with session.get(bank.endpoint) as response:
            assert response.status == 200


class CallbackReceiver:
    """A stand-in for the gateway's callback endpoint: verifies the bureau's signature, dedupes on tzid."""

    def __init__(self, ca: certs.CertificateAuthority, tax_certificate: certs.Certificate) -> None:
        trust = certs.CATrustStore(ca)
        trust.add(tax_certificate)
        self.verifier = certs.RequestVerifier(trust, certs.MemoryNonceStore())
        self.applied: dict[str, dict[str, str]] = {}
        self.deliveries = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        participant = await self.verifier.verify(request.method, request.raw_path, request.headers, body)
        assert participant.code == TAX_CODE and participant.kind == "tax"
        self.deliveries += 1
        payload = json.loads(body)
        self.applied.setdefault(payload["tzid"], payload)
        return web.json_response({"ok": True})


async def test_the_tax_bureau_posts_signed_payment_cleared_callbacks_with_a_stable_id(
    ca: certs.CertificateAuthority, gateway_certificate: certs.Certificate
) -> None:
    parties = await start_parties(ca, gateway_certificate, banks=[])
    assert parties.tax is not None
    tax = parties.tax
    receiver = CallbackReceiver(ca, tax.certificate)
    app = web.Application()
    app.router.add_post("/api/v1/callbacks/tax", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    tax.callback_url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/callbacks/tax"
    try:
        record = _file_assessment(tax)
        tax.faults.duplicate_callbacks = True
        tax.pay_at_counter(record)
        await tax.stop()  # waits for the callback task
        assert [status for _, status in tax.callbacks_sent] == [200, 200]
        assert receiver.deliveries == 2 and len(receiver.applied) == 1  # one effect for two deliveries
        payload = receiver.applied[f"wscb-{record}"]
        assert payload["sbbh"] == record and payload["ywbh"] == "case-7"
        assert Decimal(payload["yjje"]) == tax.assessments[record].total
    finally:
        await runner.cleanup()
        await parties.stop()


def _file_assessment(tax: TaxBureauServer) -> str:
    """Put an assessment straight into the bureau's books (as if filed at the tax hall)."""
    person = Person(name="王五", id_number="441900198001011234")
    request = TransferAssessmentRequest(
        case_id="case-7",
        unit_code="441900001001GB00001F00010001",
        contract_date=date(2025, 3, 1),
        price=Decimal("1500000.00"),
        area_m2=Decimal("88.00"),
        buyers=(person,),
        sellers=(person,),
        buyer_home_count=HomeCount.FIRST,
        seller_acquired_on=date(2015, 1, 1),
        seller_sole_home=True,
    )
    record = tax.file_assessment(request)
    return record.assessment_id
