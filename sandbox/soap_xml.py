"""SOAP on the simulators' side: a hardened request parser, envelope and fault builders, hostile payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPES = {SOAP11: "text/xml; charset=utf-8", SOAP12: "application/soap+xml; charset=utf-8"}


class BadSoapRequest(ValueError):
    """The request is not a SOAP envelope this simulator accepts."""


def _parser() -> etree.XMLParser:
    # A party receiving XML must not expand entities or fetch anything either (reliability.md P-A8.5).
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def element_to_data(element: Any) -> Any:
    """Children by local name (repeated names → lists); a leaf is its text ('' when empty)."""
    children = [child for child in element if isinstance(child.tag, str)]
    if not children:
        return element.text or ""
    data: dict[str, Any] = {}
    for child in children:
        name = etree.QName(child).localname
        value = element_to_data(child)
        if name in data:
            if not isinstance(data[name], list):
                data[name] = [data[name]]
            data[name].append(value)
        else:
            data[name] = value
    return data


def parse_soap_request(body: bytes) -> tuple[str, str, dict[str, Any]]:
    """(SOAP namespace, operation element's local name, its content as data)."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise BadSoapRequest(f"not XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise BadSoapRequest("DOCTYPE in a SOAP message")
    soap_ns = etree.QName(root).namespace
    if soap_ns not in (SOAP11, SOAP12) or etree.QName(root).localname != "Envelope":
        raise BadSoapRequest("not a SOAP envelope")
    body_element = root.find(f"{{{soap_ns}}}Body")
    if body_element is None or len(body_element) == 0:
        raise BadSoapRequest("empty SOAP body")
    operation = body_element[0]
    data = element_to_data(operation)
    return soap_ns, etree.QName(operation).localname, data if isinstance(data, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _fill(parent: Any, namespace: str, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, f"{{{namespace}}}{name}")
            if isinstance(item, Mapping):
                _fill(child, namespace, item)
            else:
                child.text = _text(item)


def soap_envelope(soap_ns: str, namespace: str, element: str, fields: Mapping[str, Any]) -> bytes:
    """A reply envelope: `element` in `namespace` with `fields` in order (None omitted, lists repeated)."""
    envelope = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap": soap_ns, "tns": namespace})
    body = etree.SubElement(envelope, f"{{{soap_ns}}}Body")
    _fill(etree.SubElement(body, f"{{{namespace}}}{element}"), namespace, fields)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def tamper(
    reply: bytes, *, element: str = "", namespace: str = "", texts: Mapping[str, str] | None = None
) -> bytes:
    """A reply envelope changed as a broken (or hostile) party would: its response element renamed to
    `element`, its elements moved to `namespace`, the text of elements named in `texts` replaced."""
    root = etree.fromstring(reply, _parser())
    soap_ns = etree.QName(root).namespace
    body = root.find(f"{{{soap_ns}}}Body")
    if body is None or len(body) == 0:
        return reply
    response = body[0]
    old_ns = etree.QName(response).namespace
    for node in response.iter():
        if not isinstance(node.tag, str):
            continue
        name = etree.QName(node)
        if texts and name.localname in texts:
            node.text = texts[name.localname]
        if namespace and name.namespace == old_ns:
            node.tag = f"{{{namespace}}}{name.localname}"
    if element:
        response.tag = f"{{{etree.QName(response).namespace}}}{element}"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def soap_fault(soap_ns: str, code: str, message: str) -> bytes:
    """A SOAP 1.1 or 1.2 fault with the given code (prefixed with the envelope's, e.g. 'Server.Busy')."""
    envelope = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap": soap_ns})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{soap_ns}}}Body"), f"{{{soap_ns}}}Fault")
    if soap_ns == SOAP11:
        etree.SubElement(fault, "faultcode").text = f"soap:{code}"
        etree.SubElement(fault, "faultstring").text = message
    else:
        code_element = etree.SubElement(fault, f"{{{soap_ns}}}Code")
        etree.SubElement(code_element, f"{{{soap_ns}}}Value").text = f"soap:{code}"
        reason = etree.SubElement(fault, f"{{{soap_ns}}}Reason")
        text = etree.SubElement(reason, f"{{{soap_ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "zh")
        text.text = message
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity-expansion bomb: 10 levels of 10× expansion (~10⁹ 'lol's if expanded)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + "\n".join(entities) + "\n]>\n"
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><lolz>&lol{levels - 1};</lolz>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def external_entity(target: str = "file:///etc/passwd") -> bytes:
    """An XXE: an external entity that would put a local file's content into the reply if resolved."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "{target}">]>\n'
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><leak>&xxe;</leak></soap:Body></soap:Envelope>'
    ).encode()
