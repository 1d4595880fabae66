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


class FieldCipher:
    """Encrypts one text field; the token names its key, so old keys keep decrypting after rotation.

    Token: "<key id>:<base64(nonce ‖ ciphertext ‖ tag)>". The key id is authenticated (GCM associated
    data), so a token cannot be relabelled to another key. `index()` gives a deterministic keyed digest
    for exact-match look-ups (e.g. by ID number); normalise the value (upper-case check digit, no spaces)
    before calling it.
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

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_SIZE)
        encryptor = Cipher(algorithms.SM4(self._keys[self._current]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(self._current.encode())
        ciphertext = encryptor.update(plaintext.encode()) + encryptor.finalize()
        blob = base64.b64encode(nonce + ciphertext + encryptor.tag).decode()
        return f"{self._current}:{blob}"

    def key_id_of(self, token: str) -> str:
        """Which key encrypted `token` (a re-encryption job compares it with `current_key_id`)."""
        return token.partition(":")[0]

    def decrypt(self, token: str) -> str:
        key_id, separator, blob = token.partition(":")
        key = self._keys.get(key_id)
        if not separator or key is None:
            raise BadKey(f"unknown PII key id {key_id!r}", f"未知的个人信息密钥标识 {key_id!r}")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise CryptoError("malformed encrypted field", "加密字段格式错误") from exc
        if len(raw) < NONCE_SIZE + TAG_SIZE:
            raise CryptoError("malformed encrypted field", "加密字段格式错误")
        nonce, ciphertext, tag = raw[:NONCE_SIZE], raw[NONCE_SIZE:-TAG_SIZE], raw[-TAG_SIZE:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(key_id.encode())
        try:
            plaintext = decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag as exc:
            raise CryptoError(
                "the encrypted field failed authentication (tampered or wrong key)",
                "加密字段认证失败（被篡改或密钥错误）",
            ) from exc
        return plaintext.decode()

    def reencrypt(self, token: str) -> str:
        """The same value under the current key (for rotation jobs)."""
        return self.encrypt(self.decrypt(token))

    def index(self, value: str) -> str:
        """Hex HMAC-SM3(index_key, value): equal values give equal indexes; the value is not recoverable."""
        return hmac_sm3(self._index_key, value.encode()).hex()
