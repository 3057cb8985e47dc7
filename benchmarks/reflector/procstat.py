"""CPU seconds and memory of processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterable

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of the processes (all their threads), in seconds; a process that is
    gone counts 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total / _TICK


def memory_kb(pids: Iterable[int], key: str) -> int:
    """Sum of a /proc/PID/status field in kB (``VmHWM``: peak resident set; ``VmRSS``: now)."""
    total = 0
    prefix = key.encode() + b":"
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(prefix):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


def cpu_times() -> list[int]:
    """The machine's CPU time counters (the ``cpu`` line of /proc/stat, in ticks)."""
    with open("/proc/stat", "rb") as f:
        return [int(x) for x in f.readline().split()[1:]]


def steal_percent(before: list[int], after: list[int]) -> float:
    """Share of CPU time the hypervisor gave to other guests between two readings."""
    delta = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(delta[:8])  # user nice system idle iowait irq softirq steal
    return round(100.0 * delta[7] / total, 1) if total and len(delta) > 7 else 0.0
