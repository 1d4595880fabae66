"""Personal data at rest: ID numbers in stored JSON are SM4-encrypted, with a keyed SM3 index beside them."""

from __future__ import annotations

from typing import Any, Protocol

ID_FIELD = "id_number"
INDEX_FIELD = "id_index"


class Cipher(Protocol):
    """What `certs.FieldCipher` offers: authenticated encryption with key ids, and a keyed index."""

    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, token: str) -> str: ...
    def index(self, value: str) -> str: ...


class PersonalDataProtector:
    """Walks a JSON tree and encrypts (or decrypts) every `id_number`, adding its look-up index.

    Only ID numbers are encrypted: names and phones are needed in clear by the back office and the
    utilities, and are masked wherever they are shown publicly or logged.
    """

    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    def protect(self, tree: Any) -> Any:
        if isinstance(tree, dict):
            out = {k: self.protect(v) for k, v in tree.items() if k != INDEX_FIELD}
            value = tree.get(ID_FIELD)
            if isinstance(value, str):
                out[ID_FIELD] = self._cipher.encrypt(value)
                out[INDEX_FIELD] = self._cipher.index(value)
            return out
        if isinstance(tree, list):
            return [self.protect(v) for v in tree]
        return tree

    def reveal(self, tree: Any) -> Any:
        if isinstance(tree, dict):
            out = {k: self.reveal(v) for k, v in tree.items() if k != INDEX_FIELD}
            value = tree.get(ID_FIELD)
            if isinstance(value, str):
                out[ID_FIELD] = self._cipher.decrypt(value)
            return out
        if isinstance(tree, list):
            return [self.reveal(v) for v in tree]
        return tree

    def index(self, id_number: str) -> str:
        return self._cipher.index(id_number)
