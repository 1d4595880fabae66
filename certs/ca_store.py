"""The CA directory on disk: its records, one exclusive lock around every read-modify-write, atomic files.

Several processes share one CA directory (operators running `gw-certs issue` and `revoke`, gateway processes
re-reading the revocations). Every change takes `ca.lock` (flock, exclusive), re-reads the records under the
lock, and replaces each file atomically (temporary file, fsync, rename, fsync of the directory), so a writer
never works from a stale copy and a reader never sees half a file.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

KEY_FILE, CERT_FILE, REVOKED_FILE, SERIALS_FILE, ISSUED_DIR = (
    "ca.key",
    "ca.pem",
    "revoked.json",
    "serials.json",
    "issued",
)
LOCK_FILE, CRL_NUMBER_FILE = "ca.lock", "crlnumber"


@dataclass(frozen=True)
class IssuedRecord:
    serial: int
    party_code: str
    party_kind: str
    not_before: datetime
    not_after: datetime
    fingerprint: str


@dataclass(frozen=True)
class Revocation:
    serial: int
    reason: str
    revoked_at: datetime


def serial_hex(serial: int) -> str:
    return format(serial, "X")


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the directory's exclusive lock (across processes, and across threads with their own opens)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    # A unique temporary name: two threads of one process must not share one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory_fd)  # the rename itself survives a crash
    finally:
        os.close(directory_fd)


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes whenever the file is replaced (inode) or rewritten (time, size); None when absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


# --- records ---------------------------------------------------------------------------------------


def read_issued(directory: Path) -> dict[int, IssuedRecord]:
    path = directory / SERIALS_FILE
    if not path.exists():
        return {}
    issued: dict[int, IssuedRecord] = {}
    for text, entry in json.loads(path.read_text()).items():
        serial = int(text, 16)
        issued[serial] = IssuedRecord(
            serial,
            entry["party_code"],
            entry["party_kind"],
            datetime.fromisoformat(entry["not_before"]),
            datetime.fromisoformat(entry["not_after"]),
            entry["fingerprint"],
        )
    return issued


def write_issued(directory: Path, records: list[IssuedRecord]) -> None:
    serials = {
        serial_hex(record.serial): {
            "party_code": record.party_code,
            "party_kind": record.party_kind,
            "not_before": record.not_before.isoformat(),
            "not_after": record.not_after.isoformat(),
            "fingerprint": record.fingerprint,
        }
        for record in records
    }
    write_atomically(directory / SERIALS_FILE, json.dumps(serials, indent=2).encode())


def read_revocations(directory: Path) -> dict[int, Revocation]:
    path = directory / REVOKED_FILE
    if not path.exists():
        return {}
    return {
        int(text, 16): Revocation(int(text, 16), entry["reason"], datetime.fromisoformat(entry["revoked_at"]))
        for text, entry in json.loads(path.read_text()).items()
    }


def write_revocations(directory: Path, revocations: list[Revocation]) -> None:
    revoked = {
        serial_hex(item.serial): {"reason": item.reason, "revoked_at": item.revoked_at.isoformat()}
        for item in revocations
    }
    write_atomically(directory / REVOKED_FILE, json.dumps(revoked, indent=2).encode())


def write_issued_pem(directory: Path, serial: int, pem: bytes) -> None:
    path = directory / ISSUED_DIR / f"{serial_hex(serial)}.pem"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        write_atomically(path, pem)


def read_issued_pem(directory: Path, serial: int) -> bytes | None:
    path = directory / ISSUED_DIR / f"{serial_hex(serial)}.pem"
    return path.read_bytes() if path.exists() else None


def read_crl_number(directory: Path) -> int:
    path = directory / CRL_NUMBER_FILE
    return int(path.read_text().strip() or "0") if path.exists() else 0


def write_crl_number(directory: Path, number: int) -> None:
    write_atomically(directory / CRL_NUMBER_FILE, f"{number}\n".encode())
