"""`gateway demo` on PostgreSQL and Redis without --processes starts a worker rather than waiting for one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_demo_with_redis_and_no_processes_starts_a_worker(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    command = Path(sys.executable).with_name("gateway")
    result = subprocess.run(
        [
            str(command),
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--database-url",
            pg_dsn,
            "--redis-url",
            redis_url,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "starting 1 gateway process and 1 worker" in result.stdout
    assert "4/4 已办结" in result.stdout  # the utilities were delivered: a worker ran the jobs
    # Each certificate is written as PDF and as OFD, and both verify offline against the registry's history.
    folder = tmp_path / "demo" / "certificates"
    pdfs, ofds = sorted(folder.glob("*.pdf")), sorted(folder.glob("*.ofd"))
    assert pdfs and [p.stem for p in pdfs] == [o.stem for o in ofds]
    history = tmp_path / "demo" / "registry" / "history"
    for file in (pdfs[0], ofds[0]):
        verified = subprocess.run(
            [str(command.with_name("gw-elicense")), "verify", str(file), "--cert-dir", str(history)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verified.returncode == 0, verified.stderr
