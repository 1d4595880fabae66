"""SM2 key files as OpenSSL 3 writes and reads them: PKCS#8 (plain or PBES2), SEC1, SubjectPublicKeyInfo."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import algos, core, pem
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from certs.curve import COORDINATE_SIZE, point_from_bytes
from gateway.errors import BadKey

ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
SM2_CURVE_OID = "1.2.156.10197.1.301"
# Some tools (GmSSL, older Tongsuo) put the SM2 OID itself in the algorithm field of PKCS#8/SPKI.
_ALGORITHM_OIDS = {ID_EC_PUBLIC_KEY, SM2_CURVE_OID}
_PRIVATE_LABELS = {"PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY", "ENCRYPTED PRIVATE KEY"}
# OWASP 2023 recommendation for PBKDF2-HMAC-SHA256; key files are read once at start-up.
PBKDF2_ITERATIONS = 600_000


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _ECPrivateKey(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped  # RFC 5915
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("version", core.Integer),
        ("private_key", core.OctetString),
        ("parameters", core.ObjectIdentifier, {"explicit": 0, "optional": True}),
        ("public_key", core.OctetBitString, {"explicit": 1, "optional": True}),
    ]


class _PrivateKeyInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped  # RFC 5208
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("version", core.Integer),
        ("algorithm", _AlgorithmIdentifier),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


class _SubjectPublicKeyInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped  # RFC 5280 §4.1
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.OctetBitString),
    ]


@dataclass(frozen=True)
class PrivateKeyMaterial:
    private_scalar: int
    public_point: bytes | None  # 64-byte x‖y when the file carries it


def _bad(reason_en: str, reason_zh: str) -> BadKey:
    return BadKey(f"cannot read the SM2 key: {reason_en}", f"无法读取 SM2 密钥：{reason_zh}")


def _sm2_algorithm() -> _AlgorithmIdentifier:
    return _AlgorithmIdentifier(
        {"algorithm": ID_EC_PUBLIC_KEY, "parameters": core.ObjectIdentifier(SM2_CURVE_OID)}
    )


def _check_algorithm(algorithm: _AlgorithmIdentifier) -> None:
    oid = algorithm["algorithm"].dotted
    if oid not in _ALGORITHM_OIDS:
        raise _bad(f"not an EC/SM2 key (algorithm {oid})", f"不是 SM2 密钥（算法 {oid}）")
    parameters = algorithm["parameters"]
    if oid == ID_EC_PUBLIC_KEY:
        curve = _named_curve(parameters)
        if curve != SM2_CURVE_OID:
            raise _bad(f"the curve {curve} is not SM2", f"曲线 {curve} 不是 SM2")


def _named_curve(parameters: core.Any) -> str | None:
    if isinstance(parameters, core.Void):
        return None
    try:
        return str(parameters.parse(core.ObjectIdentifier).dotted)
    except (ValueError, TypeError):
        return None  # explicit curve parameters: refused by the caller


def _load(spec: type[core.Sequence], der: bytes) -> core.Sequence:
    try:
        value = spec.load(der, strict=True)
        _ = value.native  # parse every field now, so malformed input fails here
    except (ValueError, TypeError) as exc:
        raise _bad("malformed DER", "DER 编码错误") from exc
    return value


def _unarmor(data: bytes, labels: set[str]) -> tuple[str, dict[str, str], bytes]:
    try:
        blocks = list(pem.unarmor(data, multiple=True))
    except ValueError as exc:
        raise _bad("malformed PEM", "PEM 格式错误") from exc
    for label, headers, der in blocks:
        if label in labels:  # `openssl ecparam -genkey` puts an EC PARAMETERS block first
            return label, dict(headers), der
    raise _bad(f"no {' / '.join(sorted(labels))} block in the PEM", "PEM 中没有所需的密钥块")


# --- reading ---------------------------------------------------------------------------------------


def _from_ec_private_key(der: bytes, curve_required: bool) -> PrivateKeyMaterial:
    value = _load(_ECPrivateKey, der)
    if value["version"].native != 1:
        raise _bad("unsupported ECPrivateKey version", "不支持的 ECPrivateKey 版本")
    parameters = value["parameters"]
    if isinstance(parameters, core.Void):
        if curve_required:
            raise _bad("the SEC1 key names no curve", "SEC1 密钥未指明曲线")
    elif parameters.dotted != SM2_CURVE_OID:
        raise _bad(f"the curve {parameters.dotted} is not SM2", f"曲线 {parameters.dotted} 不是 SM2")
    scalar_bytes = value["private_key"].native
    public = value["public_key"]
    point = None if isinstance(public, core.Void) else point_from_bytes(public.native)
    return PrivateKeyMaterial(int.from_bytes(scalar_bytes, "big"), point)


def private_from_der(der: bytes) -> PrivateKeyMaterial:
    """A PKCS#8 PrivateKeyInfo or a SEC1 ECPrivateKey (with the SM2 curve named), DER-encoded."""
    try:
        info = _PrivateKeyInfo.load(der, strict=True)
        _ = info.native
    except (ValueError, TypeError):
        return _from_ec_private_key(der, curve_required=True)
    _check_algorithm(info["algorithm"])
    return _from_ec_private_key(info["private_key"].native, curve_required=False)


def private_from_pem(data: bytes, password: bytes | None = None) -> PrivateKeyMaterial:
    label, headers, der = _unarmor(data, _PRIVATE_LABELS)
    if label == "ENCRYPTED PRIVATE KEY":
        return private_from_der(_decrypt_pkcs8(der, _need_password(password)))
    if headers.get("Proc-Type", "").replace(" ", "") == "4,ENCRYPTED":
        der = _decrypt_legacy_pem(der, headers.get("DEK-Info", ""), _need_password(password))
        return _from_ec_private_key(der, curve_required=label == "EC PRIVATE KEY")
    if label == "PRIVATE KEY":
        return private_from_der(der)
    return _from_ec_private_key(der, curve_required=label == "EC PRIVATE KEY")


def _need_password(password: bytes | None) -> bytes:
    if password is None:
        raise _bad("the key is encrypted and no password was given", "密钥已加密，但未提供口令")
    check_password(password)
    return password


def check_password(password: bytes) -> None:
    """An empty password protects nothing: refuse it rather than "encrypt" a key with it."""
    if not password:
        raise BadKey(
            "the password is empty: an empty password would leave the key unprotected",
            "口令为空：空口令等于不加密，已拒绝",
        )


# OpenSSL reads `-passin file:` with BIO_gets into a 1024-byte buffer (apps/lib/apps.c, app_get_pass).
OPENSSL_PASS_LINE_MAX = 1023


def read_password_file(data: bytes) -> bytes:
    """The password in a password file, exactly as `openssl … -passin file:` reads it.

    OpenSSL takes the first line (at most 1023 bytes) and cuts it at the first LF only: a CR before it
    stays part of the password, so a file saved with CRLF line endings gives "secret\r" to OpenSSL and
    therefore to us too (checked against the openssl 3.0 CLI). A NUL ends the C string. Empty is refused.
    """
    line = data[:OPENSSL_PASS_LINE_MAX].split(b"\n", 1)[0].split(b"\0", 1)[0]
    check_password(line)
    return line


def _aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise _bad("wrong password", "口令错误") from exc


def _decrypt_pkcs8(der: bytes, password: bytes) -> bytes:
    try:
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        scheme = info["encryption_algorithm"]
        if scheme.kdf != "pbkdf2" or scheme.encryption_cipher != "aes" or scheme.encryption_mode != "cbc":
            raise _bad("only PBES2 with PBKDF2 and AES-CBC is supported", "仅支持 PBES2（PBKDF2 + AES-CBC）")
        key = hashlib.pbkdf2_hmac(
            scheme.kdf_hmac, password, scheme.kdf_salt, scheme.kdf_iterations, scheme.key_length
        )
        iv = scheme.encryption_iv
        ciphertext = info["encrypted_data"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise _bad("unsupported or malformed encrypted key", "加密密钥格式不受支持或有误") from exc
    return _aes_cbc_decrypt(key, iv, ciphertext)


def _decrypt_legacy_pem(der: bytes, dek_info: str, password: bytes) -> bytes:
    # `openssl ec -aes256` style: key = EVP_BytesToKey(MD5, password, salt = first 8 bytes of the IV).
    cipher_name, _, iv_hex = dek_info.partition(",")
    key_sizes = {"AES-128-CBC": 16, "AES-192-CBC": 24, "AES-256-CBC": 32}
    if cipher_name not in key_sizes:
        raise _bad(f"unsupported PEM encryption {cipher_name}", f"不支持的 PEM 加密算法 {cipher_name}")
    iv = bytes.fromhex(iv_hex)
    key, block = b"", b""
    while len(key) < key_sizes[cipher_name]:
        block = hashlib.md5(block + password + iv[:8], usedforsecurity=False).digest()
        key += block
    return _aes_cbc_decrypt(key[: key_sizes[cipher_name]], iv, der)


def public_from_der(der: bytes) -> bytes:
    """The 64-byte x‖y of a DER SubjectPublicKeyInfo naming SM2."""
    info = _load(_SubjectPublicKeyInfo, der)
    _check_algorithm(info["algorithm"])
    return point_from_bytes(info["public_key"].native)


def public_from_pem(data: bytes) -> bytes:
    return public_from_der(_unarmor(data, {"PUBLIC KEY"})[2])


# --- writing ---------------------------------------------------------------------------------------


def _ec_private_key(private_scalar: int, public_point: bytes, with_curve: bool) -> bytes:
    fields: dict[str, object] = {
        "version": 1,
        "private_key": private_scalar.to_bytes(COORDINATE_SIZE, "big"),
        "public_key": b"\x04" + public_point,
    }
    if with_curve:
        fields["parameters"] = SM2_CURVE_OID
    return bytes(_ECPrivateKey(fields).dump())


def pkcs8_der(private_scalar: int, public_point: bytes) -> bytes:
    info = _PrivateKeyInfo(
        {
            "version": 0,
            "algorithm": _sm2_algorithm(),
            "private_key": _ec_private_key(private_scalar, public_point, with_curve=False),
        }
    )
    return bytes(info.dump())


def sec1_der(private_scalar: int, public_point: bytes) -> bytes:
    return _ec_private_key(private_scalar, public_point, with_curve=True)


def encrypted_pkcs8_der(private_scalar: int, public_point: bytes, password: bytes) -> bytes:
    """PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, what `openssl pkey -aes256` writes."""
    check_password(password)
    salt, iv = os.urandom(16), os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha256", password, salt, PBKDF2_ITERATIONS, 32)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(pkcs8_der(private_scalar, public_point)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    kdf_parameters = {
        "salt": algos.Pbkdf2Salt(name="specified", value=salt),
        "iteration_count": PBKDF2_ITERATIONS,
        "prf": {"algorithm": "sha256", "parameters": core.Null()},
    }
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {"algorithm": "pbkdf2", "parameters": kdf_parameters},
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": ciphertext,
        }
    )
    return bytes(info.dump())


def spki_der(public_point: bytes) -> bytes:
    info = _SubjectPublicKeyInfo({"algorithm": _sm2_algorithm(), "public_key": b"\x04" + public_point})
    return bytes(info.dump())


def armor(label: str, der: bytes) -> bytes:
    return bytes(pem.armor(label, der))
