"""SM4-GCM field encryption bound to its table, column and row, with key rotation and the HMAC-SM3 index."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from certs import FieldCipher, field_context
from gateway.errors import BadKey, ConfigError, CryptoError

ID_NUMBER = "44190019900101123X"
K1, K2, INDEX = bytes(range(16)), bytes(range(16, 32)), b"i" * 32
HERE = field_context("case_record", "input", "c0ffee")


def legacy_token(key_id: str, key: bytes, plaintext: str) -> str:
    """A token as written before revision 0011: bound to the key id only."""
    nonce = b"\x01" * 12
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(key_id.encode())
    ciphertext = encryptor.update(plaintext.encode()) + encryptor.finalize()
    return f"{key_id}:{base64.b64encode(nonce + ciphertext + encryptor.tag).decode()}"


def test_round_trip_and_randomised_tokens() -> None:
    cipher = FieldCipher({"k1": K1}, "k1", INDEX)
    first, second = cipher.encrypt(ID_NUMBER, HERE), cipher.encrypt(ID_NUMBER, HERE)
    assert first.startswith("v2:k1:") and first != second  # a fresh nonce every time
    assert ID_NUMBER not in first
    assert cipher.decrypt(first, HERE) == cipher.decrypt(second, HERE) == ID_NUMBER
    assert cipher.decrypt(cipher.encrypt("张三 李四", HERE), HERE) == "张三 李四"


@pytest.mark.parametrize(
    "elsewhere",
    [
        field_context("case_record", "input", "c0ffef"),  # another row
        field_context("case_record", "tracks", "c0ffee"),  # another column
        field_context("register_entry", "input", "c0ffee"),  # another table
    ],
)
def test_a_token_copied_to_another_place_does_not_decrypt(elsewhere: bytes) -> None:
    cipher = FieldCipher({"k1": K1}, "k1", INDEX)
    token = cipher.encrypt(ID_NUMBER, HERE)
    with pytest.raises(CryptoError, match="does not belong here") as exc:
        cipher.decrypt(token, elsewhere)
    assert elsewhere.decode() in exc.value.message_en and "被从其他行或列复制" in exc.value.message_zh


def test_rotation_keeps_old_tokens_readable() -> None:
    old = FieldCipher({"k1": K1}, "k1", INDEX).encrypt(ID_NUMBER, HERE)
    rotated = FieldCipher({"k1": K1, "k2": K2}, "k2", INDEX)
    assert rotated.decrypt(old, HERE) == ID_NUMBER
    assert rotated.key_id_of(old) == "k1"
    fresh = rotated.reencrypt(old, HERE)
    assert fresh.startswith("v2:k2:") and rotated.decrypt(fresh, HERE) == ID_NUMBER
    with pytest.raises(BadKey, match="unknown PII key id"):
        FieldCipher({"k1": K1}, "k1", INDEX).decrypt(fresh, HERE)


def test_tampering_and_relabelling_are_detected() -> None:
    cipher = FieldCipher({"k1": K1, "k2": K1}, "k1", INDEX)  # same key bytes under two ids
    token = cipher.encrypt(ID_NUMBER, HERE)
    blob = token.rsplit(":", 1)[1]
    with pytest.raises(CryptoError, match="does not belong here"):
        cipher.decrypt("v2:k2:" + blob, HERE)  # the key id is authenticated
    raw = bytearray(base64.b64decode(blob))
    raw[14] ^= 1
    with pytest.raises(CryptoError, match="does not belong here"):
        cipher.decrypt("v2:k1:" + base64.b64encode(bytes(raw)).decode(), HERE)
    with pytest.raises(CryptoError, match="malformed"):
        cipher.decrypt("v2:k1:not base64!", HERE)
    with pytest.raises(CryptoError, match="malformed"):
        cipher.decrypt("no separator", HERE)


def test_tokens_from_before_0011_are_read_only_by_the_migrations_rebind() -> None:
    cipher = FieldCipher({"k1": K1}, "k1", INDEX)
    old = legacy_token("k1", K1, ID_NUMBER)
    with pytest.raises(CryptoError, match="run `gateway migrate`"):
        cipher.decrypt(old, HERE)
    assert cipher.key_id_of(old) == "k1"
    bound = cipher.rebind(old, HERE)
    assert bound.startswith("v2:k1:") and cipher.decrypt(bound, HERE) == ID_NUMBER
    assert cipher.rebind(bound, HERE) == bound  # the migration can run twice
    with pytest.raises(CryptoError, match="does not belong here"):
        cipher.rebind(bound, field_context("case_record", "input", "other"))
    unbound = cipher.unbind(bound, HERE)  # the downgrade
    assert unbound.startswith("k1:") and cipher.rebind(unbound, HERE).startswith("v2:k1:")


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
    with pytest.raises(ValueError, match="must not contain"):
        field_context("case|record", "input", "x")
    assert (
        FieldCipher.from_hex({"k1": K1.hex()}, "k1", INDEX.hex()).decrypt(
            FieldCipher({"k1": K1}, "k1", INDEX).encrypt("x", HERE), HERE
        )
        == "x"
    )
