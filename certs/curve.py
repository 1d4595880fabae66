"""SM2 curve parameters (GB/T 32918.5), point checks and the signer-ID digest Z (GB/T 32918.2 §5.5)."""

from __future__ import annotations

from dataclasses import dataclass

from certs.hashing import sm3
from gateway.errors import BadKey

DEFAULT_SIGNER_ID: bytes = b"1234567812345678"  # GM/T 0009-2012 §10 / GB/T 35276-2017


@dataclass(frozen=True)
class CurveParams:
    """A short-Weierstrass curve y² = x³ + ax + b over GF(p) with base point G of order n."""

    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int


# The recommended curve of GB/T 32918.5-2017 ("sm2p256v1", OID 1.2.156.10197.1.301).
SM2_CURVE = CurveParams(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)
COORDINATE_SIZE = 32
MAX_SIGNER_ID_LENGTH = 8191  # ENTL is two bytes counting bits: 8191 * 8 < 65536


def is_on_curve(x: int, y: int, curve: CurveParams = SM2_CURVE) -> bool:
    p = curve.p
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0


def point_from_bytes(data: bytes) -> bytes:
    """Validate an encoded point (04‖x‖y, 02/03‖x, or bare x‖y) and return the 64-byte x‖y form."""
    if len(data) == 65 and data[0] == 4:
        raw = data[1:]
    elif len(data) == 64:
        raw = data
    elif len(data) == 33 and data[0] in (2, 3):
        raw = _decompress(data)
    else:
        raise BadKey("unsupported SM2 public key encoding", "不支持的 SM2 公钥编码")
    x = int.from_bytes(raw[:COORDINATE_SIZE], "big")
    y = int.from_bytes(raw[COORDINATE_SIZE:], "big")
    # Also rules out the point at infinity, which has no affine encoding here.
    if not is_on_curve(x, y):
        raise BadKey("the SM2 public key is not a point on the curve", "SM2 公钥不在曲线上")
    return raw


def _decompress(data: bytes) -> bytes:
    p = SM2_CURVE.p
    x = int.from_bytes(data[1:], "big")
    if x >= p:
        raise BadKey("the SM2 public key is not a point on the curve", "SM2 公钥不在曲线上")
    y_squared = (x * x * x + SM2_CURVE.a * x + SM2_CURVE.b) % p
    y = pow(y_squared, (p + 1) // 4, p)  # p ≡ 3 (mod 4), so this is the square root when one exists
    if (y * y) % p != y_squared:
        raise BadKey("the SM2 public key is not a point on the curve", "SM2 公钥不在曲线上")
    if (y & 1) != (data[0] & 1):
        y = p - y
    return x.to_bytes(COORDINATE_SIZE, "big") + y.to_bytes(COORDINATE_SIZE, "big")


def check_signer_id(signer_id: bytes) -> None:
    if len(signer_id) > MAX_SIGNER_ID_LENGTH:
        raise BadKey("the SM2 signer ID is longer than 8191 bytes", "SM2 签名者标识超过 8191 字节")


def compute_z(
    public_point: bytes, signer_id: bytes = DEFAULT_SIGNER_ID, curve: CurveParams = SM2_CURVE
) -> bytes:
    """Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), with `public_point` the 64-byte xA ‖ yA."""
    check_signer_id(signer_id)
    size = (curve.p.bit_length() + 7) // 8
    parts = [
        (len(signer_id) * 8).to_bytes(2, "big"),
        signer_id,
        *(value.to_bytes(size, "big") for value in (curve.a, curve.b, curve.gx, curve.gy)),
        public_point,
    ]
    return sm3(b"".join(parts))
