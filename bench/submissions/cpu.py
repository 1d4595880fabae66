"""Who used the CPU during a run: per-process CPU time from /proc, grouped (gateways, PostgreSQL, load, rest)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection

Snapshot = dict[int, tuple[int, str]]
_TICKS = os.sysconf("SC_CLK_TCK")


def snapshot() -> Snapshot:
    """pid → (user + system clock ticks, command line) for every process readable now."""
    found: Snapshot = {}
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
        found[int(entry)] = (int(fields[11]) + int(fields[12]), cmdline)
    return found


def shares(
    before: Snapshot, after: Snapshot, seconds: float, gateways: Collection[int], load: int
) -> dict[str, float]:
    """CPU used between the snapshots, in % of one core, by group. `rest` is everything else on the machine
    (on a shared machine: other people's work, which the 2 cores also serve)."""
    used: Counter[str] = Counter()
    for pid, (ticks, cmdline) in after.items():
        delta = ticks - before.get(pid, (0, ""))[0]
        if pid in gateways:
            group = "gateway processes"
        elif pid == load:
            group = "load generator"
        elif cmdline.startswith("postgres"):
            group = "PostgreSQL"
        else:
            group = "rest of the machine"
        used[group] += delta / _TICKS
    return {group: round(100 * used[group] / seconds, 1) for group in sorted(used)}
