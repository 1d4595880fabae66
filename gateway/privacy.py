"""Personal data at rest: ID numbers in stored JSON are SM4-encrypted, with a keyed SM3 index beside them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from certs.field_cipher import field_context

ID_FIELD = "id_number"
INDEX_FIELD = "id_index"


class Cipher(Protocol):
    """What `certs.FieldCipher` offers: authenticated encryption bound to a place, and a keyed index."""

    def encrypt(self, plaintext: str, context: bytes) -> str: ...
    def decrypt(self, token: str, context: bytes) -> str: ...
    def index(self, value: str) -> str: ...


@dataclass(frozen=True)
class Place:
    """Where a JSON document is stored: its table, column and row. Its tokens are bound to it, so a token
    copied into another row or column does not decrypt there."""

    table: str
    column: str
    row_id: str

    @property
    def context(self) -> bytes:
        return field_context(self.table, self.column, self.row_id)


# Every place ID numbers are stored (the tables' names, as in gateway/db/tables and migration 0011).
def entry_facts(entry_id: str) -> Place:
    """A register entry's facts (register_entry.facts)."""
    return Place("register_entry", "facts", entry_id)


def case_input(case_id: str) -> Place:
    """A case's input as submitted (case_record.input)."""
    return Place("case_record", "input", case_id)


def outbox_payload(row_id: str) -> Place:
    """An outbound effect's payload (outbox.payload), e.g. a utility job's account holders."""
    return Place("outbox", "payload", row_id)


class PersonalDataProtector:
    """Walks a JSON tree and encrypts (or decrypts) every `id_number`, adding its look-up index.

    Only ID numbers are encrypted: names and phones are needed in clear by the back office and the
    utilities, and are masked wherever they are shown publicly or logged.
    """

    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    def protect(self, tree: Any, place: Place) -> Any:
        """`tree` as stored at `place`: every ID number encrypted for that place, with its index."""
        return self._protect(tree, place.context)

    def reveal(self, tree: Any, place: Place) -> Any:
        """`tree` as read from `place`; CryptoError if a token there was made for another place."""
        return self._reveal(tree, place.context)

    def _protect(self, tree: Any, context: bytes) -> Any:
        if isinstance(tree, dict):
            out = {k: self._protect(v, context) for k, v in tree.items() if k != INDEX_FIELD}
            value = tree.get(ID_FIELD)
            if isinstance(value, str):
                out[ID_FIELD] = self._cipher.encrypt(value, context)
                out[INDEX_FIELD] = self._cipher.index(value)
            return out
        if isinstance(tree, list):
            return [self._protect(v, context) for v in tree]
        return tree

    def _reveal(self, tree: Any, context: bytes) -> Any:
        if isinstance(tree, dict):
            out = {k: self._reveal(v, context) for k, v in tree.items() if k != INDEX_FIELD}
            value = tree.get(ID_FIELD)
            if isinstance(value, str):
                out[ID_FIELD] = self._cipher.decrypt(value, context)
            return out
        if isinstance(tree, list):
            return [self._reveal(v, context) for v in tree]
        return tree

    def index(self, id_number: str) -> str:
        return self._cipher.index(id_number)
