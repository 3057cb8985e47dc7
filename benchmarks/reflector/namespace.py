"""A network namespace per benchmark run: lo up, and a veth pair (both ends inside) that
carries the networks of the clients' next hops. Traffic never leaves it.

``close()`` stops every process started in it (by PID) and deletes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from . import plan

PREFIX = "pyspeaker-bench-"


def sh(*argv: str, check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def remove_stale() -> list[str]:
    """Delete namespaces left by an earlier benchmark process that no longer runs (the PID is
    part of the name); returns their names."""
    removed = []
    out = sh("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _kill_inside(name)
            sh("ip", "netns", "del", name, check=False)
            removed.append(name)
    return removed


def _kill_inside(name: str) -> None:
    for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class Namespace:
    def __init__(self, tag: str) -> None:
        self.name = f"{PREFIX}{os.getpid()}-{tag}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.created = False

    def create(self) -> Namespace:
        sh("ip", "netns", "add", self.name)
        self.created = True
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "link", "add", "bench0", "type", "veth", "peer", "name", "bench1")
        for address in plan.LINK_ADDRESSES:
            family = "-6" if ":" in address else "-4"
            extra = ["nodad"] if family == "-6" else []
            self.run("ip", family, "addr", "add", address, "dev", "bench0", *extra)
        self.run("ip", "link", "set", "bench0", "up")
        self.run("ip", "link", "set", "bench1", "up")
        return self

    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        return sh(*self.argv(*argv), check=check, timeout=timeout)

    def spawn(self, argv: Sequence[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a process inside (``ip netns exec`` execs it: the Popen's PID is the process's)."""
        out = log.open("ab")
        try:
            proc = subprocess.Popen(
                self.argv(*argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
            )
        finally:
            out.close()
        self.procs.append(proc)
        return proc

    def listening(self, port: int) -> bool:
        out = self.run("ss", "-Hltn", f"sport = :{port}", check=False).stdout
        return bool(out.strip())

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        if self.created:
            _kill_inside(self.name)
            deadline = time.monotonic() + 5
            while sh("ip", "netns", "pids", self.name, check=False).stdout.strip() and time.monotonic() < deadline:
                time.sleep(0.05)  # SIGKILLed processes leaving the namespace
            sh("ip", "netns", "del", self.name, check=False)
            self.created = False
