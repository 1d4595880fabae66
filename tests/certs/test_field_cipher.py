"""SM4-GCM field encryption with key rotation, and the HMAC-SM3 look-up index."""

from __future__ import annotations

import base64

import pytest

from certs import FieldCipher
from gateway.errors import BadKey, ConfigError, CryptoError

ID_NUMBER = "44190019900101123X"
K1, K2, INDEX = bytes(range(16)), bytes(range(16, 32)), b"i" * 32


def test_round_trip_and_randomised_tokens() -> None:
    cipher = FieldCipher({"k1": K1}, "k1", INDEX)
    first, second = cipher.encrypt(ID_NUMBER), cipher.encrypt(ID_NUMBER)
    assert first.startswith("k1:") and first != second  # a fresh nonce every time
    assert ID_NUMBER not in first
    assert cipher.decrypt(first) == cipher.decrypt(second) == ID_NUMBER
    assert cipher.decrypt(cipher.encrypt("张三 李四")) == "张三 李四"


def test_rotation_keeps_old_tokens_readable() -> None:
    old = FieldCipher({"k1": K1}, "k1", INDEX).encrypt(ID_NUMBER)
    rotated = FieldCipher({"k1": K1, "k2": K2}, "k2", INDEX)
    assert rotated.decrypt(old) == ID_NUMBER
    assert rotated.key_id_of(old) == "k1"
    fresh = rotated.reencrypt(old)
    assert fresh.startswith("k2:") and rotated.decrypt(fresh) == ID_NUMBER
    with pytest.raises(BadKey, match="unknown PII key id"):
        FieldCipher({"k1": K1}, "k1", INDEX).decrypt(fresh)


def test_tampering_and_relabelling_are_detected() -> None:
    cipher = FieldCipher({"k1": K1, "k2": K1}, "k1", INDEX)  # same key bytes under two ids
    token = cipher.encrypt(ID_NUMBER)
    with pytest.raises(CryptoError, match="authentication"):
        cipher.decrypt("k2:" + token.partition(":")[2])  # the key id is authenticated
    raw = bytearray(base64.b64decode(token.partition(":")[2]))
    raw[14] ^= 1
    with pytest.raises(CryptoError, match="authentication"):
        cipher.decrypt("k1:" + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(CryptoError, match="malformed"):
        cipher.decrypt("k1:not base64!")


def test_index_is_deterministic_and_keyed() -> None:
    cipher = FieldCipher({"k1": K1}, "k1", INDEX)
    assert cipher.index(ID_NUMBER) == cipher.index(ID_NUMBER)
    assert len(cipher.index(ID_NUMBER)) == 64
    assert cipher.index(ID_NUMBER) != cipher.index(ID_NUMBER.lower())
    assert FieldCipher({"k1": K1}, "k1", b"j" * 32).index(ID_NUMBER) != cipher.index(ID_NUMBER)


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="16 bytes"):
        FieldCipher({"k1": b"short"}, "k1", INDEX)
    with pytest.raises(ConfigError, match="has no key"):
        FieldCipher({"k1": K1}, "k9", INDEX)
    with pytest.raises(ConfigError, match="key id"):
        FieldCipher({"k:1": K1}, "k:1", INDEX)
    with pytest.raises(ConfigError, match="index key"):
        FieldCipher({"k1": K1}, "k1", b"short")
    assert (
        FieldCipher.from_hex({"k1": K1.hex()}, "k1", INDEX.hex()).decrypt(
            FieldCipher({"k1": K1}, "k1", INDEX).encrypt("x")
        )
        == "x"
    )
