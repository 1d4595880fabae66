"""SOAP hardening beyond the contract suite: zeep as the second line, local-only WSDLs, offline start."""

from __future__ import annotations

import pytest
import zeep.exceptions
import zeep.loader

import certs
from adapters.banks.soap_retcode import RetCodeSoapBank
from adapters.base import AdapterContext
from adapters.errors import HostileXml
from adapters.soap import AiohttpZeepTransport, hardened_zeep_settings, refuse_doctype
from gateway.errors import ConfigError, PartyUnavailable
from sandbox.soap_xml import billion_laughs, external_entity
from tests.adapters.conftest import contract_check


def in_encoding(payload: bytes, encoding: str) -> bytes:
    text = payload.decode().replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    return text.encode(encoding)


@pytest.mark.parametrize("payload", [billion_laughs(), external_entity()], ids=["billion_laughs", "xxe"])
def test_zeeps_parser_refuses_what_the_byte_scan_cannot_see(payload: bytes) -> None:
    hidden = in_encoding(payload, "utf-32")  # "<!DOCTYPE" is not a byte sequence of the UTF-32 text
    refuse_doctype(hidden)  # the cheap first line misses it…
    with pytest.raises((zeep.exceptions.DTDForbidden, zeep.exceptions.XMLSyntaxError)):
        zeep.loader.parse_xml(hidden, None, settings=hardened_zeep_settings())  # …the second does not


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_byte_scan_sees_a_doctype_in_utf8_and_utf16(encoding: str) -> None:
    with pytest.raises(HostileXml):
        refuse_doctype(in_encoding(external_entity(), encoding))


def test_the_transport_loads_only_the_adapters_own_files() -> None:
    transport = AiohttpZeepTransport(http=None, wsdl_dir=RetCodeSoapBank.WSDL.parent)  # type: ignore[arg-type]
    assert transport.load(str(RetCodeSoapBank.WSDL)).startswith(b"<?xml")
    for outside in (
        "http://evil.example/x.xsd",
        "/etc/passwd",
        str(RetCodeSoapBank.WSDL.parent / ".." / "base.py"),
    ):
        with pytest.raises(zeep.exceptions.ExternalReferenceForbidden):
            transport.load(outside)


async def test_start_needs_no_network_and_parses_the_wsdl_once(
    context: AdapterContext, ca: certs.CertificateAuthority
) -> None:
    certificate = ca.issue(certs.SM2PrivateKey.generate().public_key, "icbc-dg", "bank")
    settings = RetCodeSoapBank.Settings(
        adapter="adapters.banks.soap_retcode:RetCodeSoapBank",
        endpoint="http://127.0.0.1:9/services/LoanContractService",  # nothing listens on the discard port
        certificate_pem=certificate.pem.decode(),
        connect_timeout_seconds=0.5,
        retry_attempts=1,
    )
    adapter = RetCodeSoapBank("icbc-dg", settings, context)
    await adapter.start()
    try:
        service = adapter.client._service
        await adapter.start()
        assert adapter.client._service is service  # a second start reuses the parsed WSDL
        with pytest.raises(PartyUnavailable) as down:
            await adapter.confirm_contracts(contract_check())
        assert down.value.party_code == "connect"
        assert adapter.client._service is service  # calls never re-parse
    finally:
        await adapter.close()


async def test_a_wsdl_without_the_named_binding_fails_start_up_as_configuration(
    context: AdapterContext, ca: certs.CertificateAuthority
) -> None:
    class Misnamed(RetCodeSoapBank):
        BINDING = "{http://corebank.example.cn/mortgage/loan/v1}NoSuchBinding"

    certificate = ca.issue(certs.SM2PrivateKey.generate().public_key, "abc-dg", "bank")
    settings = RetCodeSoapBank.Settings(
        adapter="tests:Misnamed", endpoint="http://127.0.0.1:9/", certificate_pem=certificate.pem.decode()
    )
    adapter = Misnamed("abc-dg", settings, context)
    with pytest.raises(ConfigError, match="NoSuchBinding"):
        await adapter.start()
