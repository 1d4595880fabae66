"""The directory blob store: files named by their SM3 under a directory, written atomically.

Layout: `<root>/<2 hex>/<2 hex>/<64 hex>`, so no directory holds more than a few thousand entries at
ten million files. A write goes to a temporary file in the target directory, is fsynced, and is renamed over
the name (atomic on POSIX, also on NFS and other shared volumes with close-to-open consistency), then the
directory is fsynced: a reader sees the whole file or none, a crash leaves at most a stray `.tmp-*` file, and
once `put` returns a row may name the blob. Several gateway nodes may share one volume: two writers of the
same bytes write the same content under the same name, and either rename wins. Files are never changed or
deleted by the gateway (rows that referred to a blob may be gone, the blob stays: materials and certificates
are records a registry keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from pathlib import Path

import certs
from gateway.errors import BlobCorrupt, BlobMissing, ConfigError

__all__ = ["DirectoryBlobStore", "UnconfiguredBlobStore", "blob_name"]

_NAME = re.compile(r"^[0-9a-f]{64}$")


def blob_name(data: bytes) -> str:
    """A blob's name: lower-case hex SM3 of its bytes."""
    return certs.sm3(data).hex()


class DirectoryBlobStore:
    """`BlobStore` on a local directory or a shared volume; file I/O runs in threads, off the event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"DirectoryBlobStore({str(self.root)!r})"

    def path_of(self, name: str) -> Path:
        if not _NAME.match(name):
            raise BlobMissing(f"not a blob name: {name!r}", f"不是有效的文件名：{name!r}")
        return self.root / name[:2] / name[2:4] / name

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self.put_sync, data)

    async def get(self, name: str) -> bytes:
        return await asyncio.to_thread(self.get_sync, name)

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread(self.path_of(name).is_file)

    def put_sync(self, data: bytes) -> str:
        """`put` for callers without an event loop (a migration)."""
        name = blob_name(data)
        target = self.path_of(name)
        if target.is_file() and target.stat().st_size == len(data):
            return name
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".tmp-{name[:16]}-{secrets.token_hex(4)}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
        return name

    def get_sync(self, name: str) -> bytes:
        try:
            data = self.path_of(name).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(
                f"stored file {name} is missing from {self.root}", f"存储的文件 {name} 在 {self.root} 中缺失"
            ) from None
        if blob_name(data) != name:
            raise BlobCorrupt(
                f"stored file {name} no longer matches its SM3 (damaged)",
                f"存储的文件 {name} 与其SM3不符（已损坏）",
            )
        return data


class UnconfiguredBlobStore:
    """The `BlobStore` of a service context built without one: any use is a configuration error, loudly."""

    def _refuse(self) -> ConfigError:
        return ConfigError("no blob store configured for this service context", "未配置文件存储")

    async def put(self, data: bytes) -> str:
        raise self._refuse()

    async def get(self, name: str) -> bytes:
        raise self._refuse()

    async def exists(self, name: str) -> bool:
        raise self._refuse()
