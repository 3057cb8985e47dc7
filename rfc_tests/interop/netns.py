"""Network namespaces for the interop tests: one per daemon, joined to the test's own
namespace by a veth pair. Traffic never leaves these namespaces.

Addresses for link ``n``: ours 10.77.n.1/24 and fd00:77:n::1/64, the daemon's 10.77.n.2/24
and fd00:77:n::2/64 (both without duplicate address detection, so they work at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_links = itertools.count(1)


def sh(*argv: str, check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run a short command (setup/teardown, outside the event loop's hot path)."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


async def arun(*argv: str, timeout: float = 10.0) -> tuple[int, str, str]:
    """Run a command without blocking the event loop pyspeaker runs on."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return -1, "", f"timed out after {timeout} s: {' '.join(argv)}"
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def poll(
    probe: Callable[[], Awaitable[tuple[bool, Any]]], what: str, timeout: float = 30.0, interval: float = 0.2
) -> Any:
    """Call ``probe`` (returning (done, what was seen)) every ``interval`` s until it is done,
    for at most ``timeout`` s; on failure the message says what was last seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: Any = None
    while True:
        done, seen = await probe()
        if done:
            return seen
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: not seen within {timeout} s; last seen:\n{seen}")
        await asyncio.sleep(interval)


def poll_sync(probe: Callable[[], tuple[bool, Any]], what: str, timeout: float = 15.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        done, seen = probe()
        if done:
            return seen
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not seen within {timeout} s; last seen:\n{seen}")
        time.sleep(interval)


def current_netns() -> str:
    return os.readlink("/proc/self/ns/net")


def named_netns() -> str | None:
    """The `ip netns` name of the namespace we are in, if it has one."""
    ours = os.stat("/proc/self/ns/net").st_ino
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir("/run/netns")):
            with contextlib.suppress(OSError):
                if os.stat(f"/run/netns/{name}").st_ino == ours:
                    return name
    return None


def in_host_netns() -> tuple[bool, str]:
    """Whether we run in the host's default network namespace, and how that was decided:
    by /proc/1/ns/net where it can be read, else (PID 1 hidden from us, as in some
    containers) by whether our namespace is a named one made by `ip netns add`."""
    try:
        host = os.readlink("/proc/1/ns/net")
    except OSError:
        name = named_netns()
        if name is not None:
            return False, f"running in network namespace {name!r}"
        return True, "/proc/1/ns/net is unreadable and the current namespace is not one made by `ip netns add`"
    if host == current_netns():
        return True, f"running in PID 1's network namespace ({host})"
    return False, f"running in {current_netns()}, not PID 1's {host}"


@dataclass
class Link:
    """The veth pair between the test's namespace and a daemon's namespace."""

    n: int
    ours_if: str
    theirs_if: str

    @property
    def our4(self) -> str:
        return f"10.77.{self.n}.1"

    @property
    def their4(self) -> str:
        return f"10.77.{self.n}.2"

    @property
    def our6(self) -> str:
        return f"fd00:77:{self.n}::1"

    @property
    def their6(self) -> str:
        return f"fd00:77:{self.n}::2"


class Netns:
    """A namespace of our own for one daemon; ``close()`` kills what runs in it and deletes it."""

    def __init__(self, tag: str) -> None:
        n = next(_links)
        if n > 250:
            raise RuntimeError("more than 250 links in one test run")
        pid = os.getpid()
        self.name = f"ps-{tag}-{pid}-{n}"
        self.link = Link(n, f"ps{n}-{pid % 100000}", "veth0")
        self.procs: list[subprocess.Popen[bytes]] = []
        self._created = False

    # -- life cycle ---------------------------------------------------------------------
    def create(self) -> Netns:
        link = self.link
        sh("ip", "netns", "add", self.name)
        self._created = True
        self.run("ip", "link", "set", "lo", "up")
        # no DAD on the daemon's side either (addresses, link-local included, usable at once)
        for key in ("default", "all"):
            self.run("sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0")
        sh("ip", "link", "add", link.ours_if, "type", "veth", "peer", "name", link.theirs_if, "netns", self.name)
        sh("sysctl", "-qw", f"net.ipv6.conf.{link.ours_if}.accept_dad=0")
        sh("ip", "addr", "add", f"{link.our4}/24", "dev", link.ours_if)
        sh("ip", "-6", "addr", "add", f"{link.our6}/64", "dev", link.ours_if, "nodad")
        sh("ip", "link", "set", link.ours_if, "up")
        self.run("ip", "addr", "add", f"{link.their4}/24", "dev", link.theirs_if)
        self.run("ip", "-6", "addr", "add", f"{link.their6}/64", "dev", link.theirs_if, "nodad")
        self.run("ip", "link", "set", link.theirs_if, "up")
        return self

    def close(self) -> None:
        """Kill every process we started (and anything left in the namespace), delete it."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)
                    proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        if self._created:
            left = sh("ip", "netns", "pids", self.name, check=False).stdout.split()
            for pid in left:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            sh("ip", "netns", "del", self.name, check=False)
            sh("ip", "link", "del", self.link.ours_if, check=False)  # gone with the namespace already
            self._created = False

    # -- running things inside ----------------------------------------------------------
    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        return sh(*self.argv(*argv), check=check, timeout=timeout)

    async def arun(self, *argv: str, timeout: float = 10.0) -> tuple[int, str, str]:
        return await arun(*self.argv(*argv), timeout=timeout)

    def spawn(self, argv: Sequence[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a daemon in the foreground inside the namespace (`ip netns exec` execs it,
        so the Popen's pid is the daemon's)."""
        out = log.open("ab")
        try:
            proc = subprocess.Popen(
                self.argv(*argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
            )
        finally:
            out.close()
        self.procs.append(proc)
        return proc
