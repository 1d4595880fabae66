"""The CA directory under concurrent operators: no issued certificate or revocation is ever lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from certs import CertificateAuthority, SM2PrivateKey

ROOT = Path(__file__).resolve().parents[2]


def gw_certs(*argv: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "certs.cli", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out.decode(), err.decode()


def test_six_concurrent_issues_are_all_recorded_listed_and_revocable(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    CertificateAuthority.create().save(ca_dir)
    keys = []
    for n in range(6):
        path = tmp_path / f"bank{n}.pub"
        path.write_bytes(SM2PrivateKey.generate().public_key.to_pem())
        keys.append(path)
    processes = [
        gw_certs(
            "issue",
            "--dir",
            str(ca_dir),
            "--pubkey",
            str(key),
            "--party",
            f"bank-{n}",
            "--kind",
            "bank",
            "-o",
            str(tmp_path / f"bank{n}.pem"),
        )
        for n, key in enumerate(keys)
    ]
    results = [finish(p) for p in processes]
    assert [code for code, _, _ in results] == [0] * 6, [err for _, _, err in results]

    serials = json.loads((ca_dir / "serials.json").read_text())
    assert sorted(entry["party_code"] for entry in serials.values()) == [f"bank-{n}" for n in range(6)]
    code, listing, _ = finish(gw_certs("list", "--dir", str(ca_dir)))
    assert code == 0 and all(f"bank-{n} " in listing for n in range(6))
    assert len(list((ca_dir / "issued").glob("*.pem"))) == 6

    # Every one of them can be revoked, concurrently too.
    revokes = [gw_certs("revoke", "--dir", str(ca_dir), serial) for serial in serials]
    assert [finish(p)[0] for p in revokes] == [0] * 6
    assert set(json.loads((ca_dir / "revoked.json").read_text())) == set(serials)


def test_a_stale_process_that_issues_keeps_a_revocation_made_after_it_loaded(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    CertificateAuthority.create().save(ca_dir)
    first = tmp_path / "first.pub"
    first.write_bytes(SM2PrivateKey.generate().public_key.to_pem())
    assert (
        finish(
            gw_certs(
                "issue", "--dir", str(ca_dir), "--pubkey", str(first), "--party", "icbc-dg", "--kind", "bank"
            )
        )[0]
        == 0
    )
    serial = next(iter(json.loads((ca_dir / "serials.json").read_text())))

    stale = CertificateAuthority.load(ca_dir)  # e.g. a gateway that loaded the CA at start-up
    code, _, err = finish(gw_certs("revoke", "--dir", str(ca_dir), serial, "--reason", "keyCompromise"))
    assert code == 0, err
    stale.issue(SM2PrivateKey.generate().public_key, "ccb-dg", "bank")
    stale.save(ca_dir)

    revoked = json.loads((ca_dir / "revoked.json").read_text())
    assert revoked[serial]["reason"] == "keyCompromise"
    code, listing, _ = finish(gw_certs("list", "--dir", str(ca_dir)))
    lines = {line.split()[2]: line for line in listing.splitlines()[1:]}
    assert "revoked" in lines["icbc-dg"] and "valid" in lines["ccb-dg"]
    assert CertificateAuthority.load(ca_dir).is_revoked(int(serial, 16))
