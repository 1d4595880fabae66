"""SM2 signature encodings: strict DER SEQUENCE{r, s} (GM/T 0009 §7.3) and raw 64-byte r‖s."""

from __future__ import annotations

from typing import NamedTuple

from certs.curve import COORDINATE_SIZE, SM2_CURVE
from gateway.errors import BadSignature

RAW_SIGNATURE_SIZE = 2 * COORDINATE_SIZE


class Signature(NamedTuple):
    r: int
    s: int

    def to_der(self) -> bytes:
        body = _der_integer(self.r) + _der_integer(self.s)
        return b"\x30" + bytes([len(body)]) + body

    def to_raw(self) -> bytes:
        return self.r.to_bytes(COORDINATE_SIZE, "big") + self.s.to_bytes(COORDINATE_SIZE, "big")


def _der_integer(value: int) -> bytes:
    content = value.to_bytes(value.bit_length() // 8 + 1, "big")  # one spare byte keeps the sign bit clear
    if len(content) > 1 and content[0] == 0 and content[1] < 0x80:
        content = content[1:]
    return b"\x02" + bytes([len(content)]) + content


def _bad(reason_en: str, reason_zh: str) -> BadSignature:
    return BadSignature(f"malformed SM2 signature: {reason_en}", f"SM2 签名格式错误：{reason_zh}")


def _read_integer(data: bytes, offset: int) -> tuple[int, int]:
    if offset + 2 > len(data) or data[offset] != 0x02:
        raise _bad("expected an INTEGER", "应为 INTEGER")
    length = data[offset + 1]
    start = offset + 2
    # r and s are below n < 2**256, so a canonical INTEGER has 1..33 content bytes (short-form length).
    if not 1 <= length <= COORDINATE_SIZE + 1 or start + length > len(data):
        raise _bad("bad INTEGER length", "INTEGER 长度错误")
    content = data[start : start + length]
    if content[0] & 0x80:
        raise _bad("negative INTEGER", "INTEGER 为负数")
    if length > 1 and content[0] == 0 and not content[1] & 0x80:
        raise _bad("non-minimal INTEGER", "INTEGER 编码非最简")
    return int.from_bytes(content, "big"), start + length


def parse_der(data: bytes) -> Signature:
    """Parse a DER signature, rejecting every non-canonical form (BER lengths, padding, trailing bytes)."""
    if len(data) < 8 or data[0] != 0x30 or data[1] & 0x80 or data[1] != len(data) - 2:
        raise _bad("not a DER SEQUENCE of the right length", "不是长度正确的 DER SEQUENCE")
    r, offset = _read_integer(data, 2)
    s, offset = _read_integer(data, offset)
    if offset != len(data):
        raise _bad("trailing bytes", "存在多余字节")
    return _in_range(Signature(r, s))


def _in_range(signature: Signature) -> Signature:
    if not (0 < signature.r < SM2_CURVE.n and 0 < signature.s < SM2_CURVE.n):
        raise _bad("r or s out of range", "r 或 s 超出范围")
    return signature


def parse_signature(data: bytes) -> Signature:
    """Accept strict DER, or exactly 64 bytes of raw r‖s (some parties' HSMs send that form).

    DER is tried first; a 64-byte value that is not valid DER is read as r‖s.
    """
    try:
        return parse_der(data)
    except BadSignature:
        if len(data) != RAW_SIGNATURE_SIZE:
            raise
    return _in_range(
        Signature(
            int.from_bytes(data[:COORDINATE_SIZE], "big"),
            int.from_bytes(data[COORDINATE_SIZE:], "big"),
        )
    )
