"""Fixtures for certs/: every installed SM2 backend in turn, and the real openssl command line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs import backends
from tests.conftest import IN_CI

INSTALLED = backends.available_backends()


@pytest.fixture(params=INSTALLED)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with each installed backend selected, then restore the default."""
    backends.use_backend(request.param)
    try:
        yield request.param
    finally:
        backends.use_backend(None)


class OpenSSL:
    """The openssl CLI in a scratch directory."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir

    def __call__(
        self, *args: str, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [self.binary, *args], cwd=self.workdir, capture_output=True, input=input, timeout=30, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"openssl {' '.join(args)} failed:\n{result.stderr.decode(errors='replace')}"
            )
        return result

    def path(self, name: str) -> Path:
        return self.workdir / name


@pytest.fixture
def openssl(tmp_path: Path) -> OpenSSL:
    binary = shutil.which("openssl")
    if binary is None:
        if IN_CI:
            pytest.fail("openssl is not installed; CI never skips interop tests")
        pytest.skip("openssl is not installed (scripts/install-system-deps.sh installs it)")
    return OpenSSL(binary, tmp_path)
