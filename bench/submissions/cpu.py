"""Who used the CPU during a run: per-process CPU time from /proc, grouped (servers, PostgreSQL, load, rest)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Collection

import certs

# pid → (user + system ticks, system ticks, command line)
Snapshot = dict[int, tuple[int, int, str]]
# Pseudo-pid holding the machine's idle and steal ticks (from /proc/stat) in a snapshot.
_IDLE, _STEAL = -1, -2
_TICKS = os.sysconf("SC_CLK_TCK")


def snapshot() -> Snapshot:
    """pid → (user + system clock ticks, system ticks, command line) for every process readable now."""
    found: Snapshot = {}
    with open("/proc/stat") as stat_file:
        # cpu  user nice system idle iowait irq softirq steal …
        totals = [int(v) for v in stat_file.readline().split()[1:]]
    found[_IDLE] = (totals[3] + totals[4], 0, "")
    found[_STEAL] = (totals[7] if len(totals) > 7 else 0, 0, "")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                stat = stat_file.read()
            with open(f"/proc/{entry}/cmdline", "rb") as cmd_file:
                cmdline = cmd_file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (int(fields[11]) + int(fields[12]), int(fields[12]), cmdline)
    return found


def shares(
    before: Snapshot, after: Snapshot, seconds: float, servers: Collection[int], load: int
) -> dict[str, float]:
    """CPU used between the snapshots, in % of one core, by group. `rest` is everything else on the machine
    (on a shared machine: other people's work, which the 2 cores also serve). `server kernel` is the part of
    the servers' time spent in the kernel (socket calls: on loopback the sender also pays for the receiver's
    TCP processing), so it tells what the round trips cost."""
    used: Counter[str] = Counter()
    for pid, (ticks, system, cmdline) in after.items():
        was = before.get(pid, (0, 0, ""))
        delta = ticks - was[0]
        if pid == _IDLE:
            group = "idle"
        elif pid == _STEAL:
            group = "stolen by the host"
        elif pid in servers:
            group = "server processes"
            used["server kernel"] += (system - was[1]) / _TICKS
        elif pid == load:
            group = "load generator"
        elif cmdline.startswith("postgres"):
            group = "PostgreSQL"
        else:
            group = "rest of the machine"
        used[group] += delta / _TICKS
    return {group: round(100 * used[group] / seconds, 1) for group in sorted(used)}


def sm2_costs(message: bytes, rounds: int = 300) -> tuple[float, float]:
    """CPU ms of one SM2 signature and one verification of `message` in this process, with the backend the
    gateway uses: the share of a request the protocols fix, whatever the code around them does."""
    key = certs.SM2PrivateKey.generate()
    signature = key.sign(message)
    started = time.process_time()
    for _ in range(rounds):
        key.sign(message)
    signed = time.process_time()
    for _ in range(rounds):
        key.public_key.verify(signature, message)
    verified = time.process_time()
    return 1000 * (signed - started) / rounds, 1000 * (verified - signed) / rounds
