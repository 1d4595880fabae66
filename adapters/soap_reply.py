"""A SOAP reply held to the WSDL before zeep reads it: the response element of the operation called, in its
namespace, valid against the WSDL's schema.

zeep alone takes any element in the body (another operation's response, a `v2` wrapper) and turns a value
it cannot read into None (`2026-02-30` as an xsd:date) or a raw decimal.InvalidOperation (a non-numeric
xsd:decimal). Here libxml2's schema validation names the element and the value that break the contract,
and that diagnosis travels in the PartyProtocolError to the outbox row, where an integrator reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.errors import InvalidSoapReply

__all__ = ["ReplyContract"]

_XSD = "http://www.w3.org/2001/XMLSchema"
_SOAP_ENVELOPES = ("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope")
_MAX_ERRORS = 3  # the first few are the diagnosis; the rest repeat it


# Adapters start together, each building its schema in a worker thread; libxml2 sets up its built-in schema
# types lazily and not thread-safely, so two first builds at once failed with "xmlSchemaPValAttrNodeValue,
# the given type is not a built-in type" (seen in `gateway worker`, which starts every SOAP bank at once).
_SCHEMA_BUILD = threading.Lock()


def _parser() -> etree.XMLParser:
    # As zeep's hardened settings: no DTD, no entities, nothing fetched, no huge trees.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class ReplyContract:
    """What each operation of one WSDL binding must answer. Built once, with the WSDL, at start-up."""

    def __init__(self, schema: etree.XMLSchema, responses: Mapping[str, str]) -> None:
        self._schema = schema
        self._responses = dict(responses)  # request element (Clark notation) → response element

    @classmethod
    def from_wsdl(cls, wsdl: Path, operations: Mapping[str, tuple[str, str]]) -> ReplyContract:
        """`operations`: name → (request element, response element), both "{namespace}local"."""
        document = etree.parse(str(wsdl), _parser())
        schemas = document.getroot().findall(f".//{{{_XSD}}}schema")
        if len(schemas) != 1:
            raise ValueError(f"{wsdl.name}: expected one embedded xsd:schema, found {len(schemas)}")
        # Serialised on its own, the schema keeps the namespace declarations of the WSDL it sits in.
        with _SCHEMA_BUILD:
            schema = etree.XMLSchema(etree.fromstring(etree.tostring(schemas[0]), _parser()))
        return cls(schema, dict(operations.values()))

    def check(self, request: Any, reply: bytes) -> None:
        """Raise InvalidSoapReply unless `reply` (bytes already signature-checked) answers `request` (the
        envelope zeep sent) with the right element, valid against the schema. A SOAP fault is left to zeep."""
        expected = self._responses.get(_body_element(request).tag)
        if expected is None:
            return  # not one of the binding's operations: zeep refuses it
        try:
            envelope = etree.fromstring(reply, _parser())
        except etree.XMLSyntaxError as exc:
            raise InvalidSoapReply(f"not XML: {exc}") from exc
        answer = _body_element(envelope)
        got = etree.QName(answer)
        if got.localname == "Fault" and got.namespace in _SOAP_ENVELOPES:
            return
        if answer.tag != expected:
            want = etree.QName(expected)
            raise InvalidSoapReply(
                f"the reply is <{got.localname}> in namespace {got.namespace or '(none)'}; "
                f"expected <{want.localname}> in namespace {want.namespace}"
            )
        if not self._schema.validate(answer):
            errors = list(self._schema.error_log)[:_MAX_ERRORS]
            raise InvalidSoapReply("; ".join(_readable(error.message) for error in errors))


def _body_element(envelope: Any) -> Any:
    name = etree.QName(envelope)
    if name.localname != "Envelope" or name.namespace not in _SOAP_ENVELOPES:
        raise InvalidSoapReply(f"not a SOAP envelope: <{name.localname}>")
    body = envelope.find(f"{{{name.namespace}}}Body")
    children = [] if body is None else [child for child in body if isinstance(child.tag, str)]
    if not children:
        raise InvalidSoapReply("an empty SOAP body")
    return children[0]


def _readable(message: str) -> str:
    # "Element '{http://…/v1}LoanStartDate': '2026-02-30' is not a valid value of the atomic type 'xs:date'."
    # → the local name is what an integrator looks for in the WSDL.
    while "'{" in message and "}" in message:
        start = message.index("'{")
        end = message.index("}", start)
        message = message[: start + 1] + message[end + 1 :]
    return message.rstrip(".")
