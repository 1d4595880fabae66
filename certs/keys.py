"""SM2 key pairs: generation, PEM/DER import and export, signing and verification (GB/T 32918.2)."""

from __future__ import annotations

from typing import Literal

from certs import backends
from certs.backends.base import PrivateHandle, PublicHandle, SM2Backend
from certs.curve import (
    COORDINATE_SIZE,
    DEFAULT_SIGNER_ID,
    SM2_CURVE,
    check_signer_id,
    compute_z,
    point_from_bytes,
)
from certs.der import parse_signature
from certs.hashing import sm3_hex
from certs.keyfile import (
    PrivateKeyMaterial,
    armor,
    encrypted_pkcs8_der,
    pkcs8_der,
    private_from_der,
    private_from_pem,
    public_from_der,
    public_from_pem,
    sec1_der,
    spki_der,
)
from gateway.errors import BadKey, BadSignature


class SM2PublicKey:
    """An SM2 public key; parsed backend keys and Z values are cached on the instance."""

    __slots__ = ("_der", "_handles", "_point")

    def __init__(self, point: bytes) -> None:
        """From an encoded point (04‖x‖y, compressed, or bare 64-byte x‖y); checked to be on the curve."""
        self._point = point_from_bytes(point)
        self._handles: dict[str, PublicHandle] = {}
        self._der: bytes | None = None

    @classmethod
    def from_pem(cls, data: bytes) -> SM2PublicKey:
        """From a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----")."""
        return cls(public_from_pem(data))

    @classmethod
    def from_der(cls, data: bytes) -> SM2PublicKey:
        return cls(public_from_der(data))

    def to_der(self) -> bytes:
        if self._der is None:
            self._der = spki_der(self._point)
        return self._der

    def to_pem(self) -> bytes:
        return armor("PUBLIC KEY", self.to_der())

    @property
    def raw(self) -> bytes:
        """The 64-byte x‖y."""
        return self._point

    @property
    def uncompressed(self) -> bytes:
        """04‖x‖y (65 bytes), the form inside certificates."""
        return b"\x04" + self._point

    @property
    def fingerprint(self) -> str:
        """SM3 hex of the SubjectPublicKeyInfo DER: a stable name for the key in logs and files."""
        return sm3_hex(self.to_der())

    def z(self, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
        """Z_A for this key and signer ID (GB/T 32918.2 §5.5)."""
        return compute_z(self._point, signer_id)

    def handle(self, backend: SM2Backend) -> PublicHandle:
        loaded = self._handles.get(backend.name)
        if loaded is None:
            loaded = self._handles[backend.name] = backend.load_public(self._point)
        return loaded

    def verify(self, signature: bytes, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> None:
        """Raise BadSignature unless `signature` is this key's SM2 signature of `message`.

        `signature` is strict DER SEQUENCE{r, s}; exactly 64 bytes of raw r‖s are also accepted for parties
        whose devices emit that form. Non-canonical DER (padding, long-form lengths, trailing bytes) is
        rejected, so one signature has one encoding.
        """
        check_signer_id(signer_id)
        parsed = parse_signature(signature)
        backend = backends.for_signer_id(signer_id)
        if not self.handle(backend).verify(parsed, message, signer_id):
            raise BadSignature("the SM2 signature does not verify", "SM2 签名验证失败")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"SM2PublicKey(fingerprint={self.fingerprint[:16]}…)"


class SM2PrivateKey:
    """An SM2 private key. Its repr never shows the secret."""

    __slots__ = ("_d", "_handles", "_public")

    def __init__(self, private_scalar: int, public_point: bytes | None = None) -> None:
        """From the private scalar d; the public point is derived (and must match when given)."""
        if not 1 <= private_scalar <= SM2_CURVE.n - 2:
            raise BadKey("the SM2 private key is out of range", "SM2 私钥超出取值范围")
        derived = backends.current().public_point(private_scalar)
        if public_point is not None and point_from_bytes(public_point) != derived:
            raise BadKey(
                "the public key stored with the private key does not match it", "私钥文件中的公钥与私钥不匹配"
            )
        self._d = private_scalar
        self._public = SM2PublicKey(derived)
        self._handles: dict[str, PrivateHandle] = {}

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        private_scalar, public_point = backends.current().generate()
        key = cls.__new__(cls)
        key._d, key._public, key._handles = private_scalar, SM2PublicKey(public_point), {}
        return key

    @classmethod
    def _from_material(cls, material: PrivateKeyMaterial) -> SM2PrivateKey:
        return cls(material.private_scalar, material.public_point)

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> SM2PrivateKey:
        """PKCS#8 ("PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" with `password`) or SEC1 ("EC/SM2 PRIVATE KEY")."""
        return cls._from_material(private_from_pem(data, password))

    @classmethod
    def from_der(cls, data: bytes) -> SM2PrivateKey:
        """PKCS#8 PrivateKeyInfo or SEC1 ECPrivateKey, DER-encoded."""
        return cls._from_material(private_from_der(data))

    def to_der(self, fmt: Literal["pkcs8", "sec1"] = "pkcs8") -> bytes:
        if fmt == "pkcs8":
            return pkcs8_der(self._d, self._public.raw)
        if fmt == "sec1":
            return sec1_der(self._d, self._public.raw)
        raise ValueError(f"unknown private key format {fmt!r}")

    def to_pem(self, fmt: Literal["pkcs8", "sec1"] = "pkcs8", password: bytes | None = None) -> bytes:
        """PEM that OpenSSL 3 reads; with `password`, PKCS#8 encrypted with PBES2 (AES-256-CBC)."""
        if password is not None:
            if fmt != "pkcs8":
                raise ValueError("only PKCS#8 keys are written encrypted")
            return armor("ENCRYPTED PRIVATE KEY", encrypted_pkcs8_der(self._d, self._public.raw, password))
        label = "PRIVATE KEY" if fmt == "pkcs8" else "EC PRIVATE KEY"
        return armor(label, self.to_der(fmt))

    @property
    def public_key(self) -> SM2PublicKey:
        return self._public

    @property
    def private_bytes(self) -> bytes:
        """The 32-byte big-endian scalar d (for HSM import and test vectors; handle with care)."""
        return self._d.to_bytes(COORDINATE_SIZE, "big")

    def handle(self, backend: SM2Backend) -> PrivateHandle:
        loaded = self._handles.get(backend.name)
        if loaded is None:
            loaded = self._handles[backend.name] = backend.load_private(self._d, self._public.raw)
        return loaded

    def sign(self, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
        """The SM2 signature of `message` with Z for `signer_id`, as DER SEQUENCE{r, s}."""
        check_signer_id(signer_id)
        backend = backends.for_signer_id(signer_id)
        return self.handle(backend).sign(message, signer_id).to_der()

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self._public.fingerprint[:16]}…)"
