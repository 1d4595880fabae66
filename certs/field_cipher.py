"""SM4-GCM for personal data at rest, with key ids for rotation and an HMAC-SM3 look-up index."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from certs.hashing import hmac_sm3
from gateway.errors import BadKey, ConfigError, CryptoError

SM4_KEY_SIZE = 16
NONCE_SIZE = 12  # the GCM standard size; random nonces are safe far beyond this gateway's volume per key
TAG_SIZE = 16
MIN_INDEX_KEY_SIZE = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
TOKEN_VERSION = "v2"  # tokens bound to their table, column and row (revision 0011)


class FieldCipher:
    """Encrypts one text field; the token names its key, so old keys keep decrypting after rotation.

    Token: "v2:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>". The GCM associated data is the format, the key
    id and the token's place, `field_context(table, column, row id)`: a token relabelled to another key, or
    copied into another row or column, fails authentication. `index()` gives a deterministic keyed digest
    for exact-match look-ups (e.g. by ID number); normalise the value (upper-case check digit, no spaces)
    before calling it.

    Tokens written before revision 0011 ("<key id>:<base64>", bound to the key id only) are read by
    `rebind()` alone, which that migration calls; `decrypt()` refuses them.
    """

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str, index_key: bytes) -> None:
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ConfigError(
                    f"PII key id {key_id!r} must be 1–32 characters of [A-Za-z0-9_-]",
                    f"个人信息密钥标识 {key_id!r} 须为 1–32 位字母、数字、下划线或连字符",
                )
            if len(key) != SM4_KEY_SIZE:
                raise ConfigError(
                    f"PII key {key_id!r} must be 16 bytes (32 hex characters)",
                    f"个人信息密钥 {key_id!r} 须为 16 字节（32 位十六进制）",
                )
        if current_key_id not in keys:
            raise ConfigError(
                f"the current PII key id {current_key_id!r} has no key",
                f"当前个人信息密钥标识 {current_key_id!r} 没有对应的密钥",
            )
        if len(index_key) < MIN_INDEX_KEY_SIZE:
            raise ConfigError("the PII index key must be at least 16 bytes", "个人信息索引密钥至少 16 字节")
        self._keys = dict(keys)
        self._current = current_key_id
        self._index_key = bytes(index_key)

    @classmethod
    def from_hex(cls, keys: Mapping[str, str], current_key_id: str, index_key: str) -> FieldCipher:
        """From settings: hex keys (gateway.settings pii_keys, pii_index_key)."""
        try:
            return cls(
                {key_id: bytes.fromhex(key) for key_id, key in keys.items()},
                current_key_id,
                bytes.fromhex(index_key),
            )
        except ValueError as exc:
            raise ConfigError("PII keys must be hex strings", "个人信息密钥须为十六进制字符串") from exc

    @property
    def current_key_id(self) -> str:
        return self._current

    def encrypt(self, plaintext: str, context: bytes) -> str:
        """A token for `plaintext` stored at `context` (`field_context(table, column, row id)`)."""
        key_id = self._current
        nonce = os.urandom(NONCE_SIZE)
        encryptor = Cipher(algorithms.SM4(self._keys[key_id]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_bound_aad(key_id, context))
        ciphertext = encryptor.update(plaintext.encode()) + encryptor.finalize()
        blob = base64.b64encode(nonce + ciphertext + encryptor.tag).decode()
        return f"{TOKEN_VERSION}:{key_id}:{blob}"

    def key_id_of(self, token: str) -> str:
        """Which key encrypted `token` (a re-encryption job compares it with `current_key_id`)."""
        return _split(token)[1]

    def decrypt(self, token: str, context: bytes) -> str:
        """The plaintext of a token stored at `context`; CryptoError if it was made for another place."""
        version, key_id, blob = _split(token)
        if version != TOKEN_VERSION:
            raise CryptoError(
                "the encrypted field is in the format before revision 0011, bound to no row: "
                "run `gateway migrate`",
                "加密字段为 0011 版之前的格式，未绑定到数据行：请先运行 gateway migrate",
            )
        try:
            return self._open(key_id, blob, _bound_aad(key_id, context))
        except _NotAuthentic as exc:
            raise CryptoError(
                f"the encrypted field does not belong here ({_describe(context)}): it was copied from "
                "another row or column, tampered with, or the key is wrong",
                f"加密字段不属于此处（{_describe(context)}）：被从其他行或列复制、被篡改，或密钥错误",
            ) from exc

    def rebind(self, token: str, context: bytes) -> str:
        """A token bound to `context`: a pre-0011 token re-encrypted (migration 0011 only), a bound one as is.

        A bound token is returned unchanged once it decrypts at `context`, so the migration can run again.
        """
        version, key_id, blob = _split(token)
        if version == TOKEN_VERSION:
            self.decrypt(token, context)
            return token
        return self.encrypt(self._open(key_id, blob, key_id.encode()), context)

    def unbind(self, token: str, context: bytes) -> str:
        """The pre-0011 token for a bound one (migration 0011's downgrade only); a pre-0011 token as is."""
        version, key_id, _ = _split(token)
        if version != TOKEN_VERSION:
            return token
        plaintext = self.decrypt(token, context).encode()
        nonce = os.urandom(NONCE_SIZE)
        encryptor = Cipher(algorithms.SM4(self._keys[key_id]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(key_id.encode())
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return f"{key_id}:{base64.b64encode(nonce + ciphertext + encryptor.tag).decode()}"

    def reencrypt(self, token: str, context: bytes) -> str:
        """The same value under the current key (for rotation jobs)."""
        return self.encrypt(self.decrypt(token, context), context)

    def _open(self, key_id: str, blob: str, aad: bytes) -> str:
        key = self._keys.get(key_id)
        if key is None:
            raise BadKey(f"unknown PII key id {key_id!r}", f"未知的个人信息密钥标识 {key_id!r}")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise CryptoError("malformed encrypted field", "加密字段格式错误") from exc
        if len(raw) < NONCE_SIZE + TAG_SIZE:
            raise CryptoError("malformed encrypted field", "加密字段格式错误")
        nonce, ciphertext, tag = raw[:NONCE_SIZE], raw[NONCE_SIZE:-TAG_SIZE], raw[-TAG_SIZE:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            plaintext = decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag as exc:
            raise _NotAuthentic(
                "the encrypted field failed authentication (tampered or wrong key)",
                "加密字段认证失败（被篡改或密钥错误）",
            ) from exc
        return plaintext.decode()

    def index(self, value: str) -> str:
        """Hex HMAC-SM3(index_key, value): equal values give equal indexes; the value is not recoverable."""
        return hmac_sm3(self._index_key, value.encode()).hex()


class _NotAuthentic(CryptoError):
    """GCM authentication failed: wrong place, tampered, or wrong key."""


def field_context(table: str, column: str, row_id: str) -> bytes:
    """Where a token is stored, as associated data: b"table|column|row id" (table and column without "|")."""
    if "|" in table or "|" in column:
        raise ValueError("table and column names must not contain '|'")
    return f"{table}|{column}|{row_id}".encode()


def _bound_aad(key_id: str, context: bytes) -> bytes:
    return f"{TOKEN_VERSION}|{key_id}|".encode() + context


def _describe(context: bytes) -> str:
    return context.decode(errors="replace")


def _split(token: str) -> tuple[str, str, str]:
    """(format, key id, base64): "v2:<key id>:<b64>" now, "<key id>:<b64>" (format "v1") before 0011."""
    parts = token.split(":")
    if len(parts) == 3 and parts[0] == TOKEN_VERSION:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "v1", parts[0], parts[1]
    raise CryptoError("malformed encrypted field", "加密字段格式错误")
