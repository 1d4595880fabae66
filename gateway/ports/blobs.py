"""The blob store port: large immutable files (materials, certificate PDFs) kept apart from the hot tables.

A blob is named by the lower-case hex SM3 of its bytes (GB/T 32905), so a name says what it holds, storing
the same bytes twice stores them once, and a reader can check what it got. Rows hold only that name.
Implementations: `gateway.blobs.DirectoryBlobStore` (a directory: the embedded default, or a shared volume
for several gateway nodes); an S3-compatible one would implement the same three methods (README, "Blob
store").
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["BlobStore"]


@runtime_checkable
class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store `data` durably (it is safe to commit a row naming it once this returns); returns its name,
        the hex SM3 of `data`. Storing bytes already present is a no-op."""
        ...

    async def get(self, name: str) -> bytes:
        """The bytes named `name`, checked against it. Raises BlobMissing (absent) or BlobCorrupt (the bytes
        no longer hash to their name)."""
        ...

    async def exists(self, name: str) -> bool: ...
