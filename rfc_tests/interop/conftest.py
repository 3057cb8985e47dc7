"""Fixtures for the interop tests: a daemon in its own network namespace (torn down always),
and pyspeaker speakers stopped at the end of each test.

These tests create network namespaces, veth pairs and daemons listening on port 179, so
they must run inside a namespace of their own (CI: ``ip netns exec pyspeaker-ci``). Run in
the host's namespace they fail at once, unless PYSPEAKER_INTEROP_HOST_NS=1.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any

import pytest

from pyspeaker.runtime.speaker import Speaker

from .daemons import DAEMONS, Daemon, Options
from .netns import Netns, in_host_netns, sh
from .pyside import Recorder, start_speaker

HOW_TO_RUN = (
    "ip netns add pyspeaker-ci; ip netns exec pyspeaker-ci ip link set lo up; "
    "ip netns exec pyspeaker-ci .venv/bin/python -m pytest rfc_tests/interop"
)


def _sweep_leftovers() -> None:
    """Namespaces of an earlier run that died without its teardown (ps-<kind>-<pid>-<n> with
    <pid> gone): kill what runs in them and delete them."""
    listing = sh("ip", "netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(r"ps-[a-z0-9]+-(\d+)-\d+", name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        if os.path.exists(f"/proc/{m.group(1)}"):
            continue  # its test run is still going
        for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        sh("ip", "netns", "del", name, check=False)


@pytest.fixture(scope="session", autouse=True)
def _own_namespace() -> None:
    host, why = in_host_netns()
    if host and os.environ.get("PYSPEAKER_INTEROP_HOST_NS") != "1":
        pytest.fail(
            f"refusing to run in the host's network namespace ({why}). The interop tests create namespaces, "
            f"veths and daemons on port 179: run them in a namespace of their own, e.g.\n  {HOW_TO_RUN}\n"
            "(or set PYSPEAKER_INTEROP_HOST_NS=1 to run them here anyway)",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail("the interop tests need root (network namespaces, port 179, TCP-MD5)", pytrace=False)
    _sweep_leftovers()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = (getattr(request.node, f"rep_{when}", None) for when in ("setup", "call"))
    return any(r is not None and r.failed for r in reports)


DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[DaemonFactory]:
    """``lab(kind, **Options)`` starts a daemon in a fresh namespace linked to ours. Every
    daemon is killed (by PID, after SIGCONT) and its namespace deleted at teardown."""
    made: list[Daemon] = []

    def make(kind: str, *, start: bool = True, **opts: Any) -> Daemon:
        cls = DAEMONS[kind]
        try:
            cls.check_binaries()
        except FileNotFoundError as exc:
            pytest.fail(f"{kind}: {exc} is missing: run `bash rfc_tests/interop/install.sh` first", pytrace=False)
        ns = Netns(kind)
        daemon = cls(ns, Options(**opts))
        made.append(daemon)
        ns.create()
        if start:
            daemon.start()
        return daemon

    yield make
    failed = _failed(request) or os.environ.get("PYSPEAKER_INTEROP_LOGS") == "1"
    for daemon in made:
        if failed:
            lines = int(os.environ.get("PYSPEAKER_INTEROP_LOG_LINES", "80"))
            print(f"=== {daemon.kind} in {daemon.ns.name} ({daemon.rundir})\n{daemon.log_tail(lines)}")
        daemon.close()


SpeakerFactory = Callable[[str], Awaitable[tuple[Speaker, Recorder]]]


@pytest.fixture
async def speakers(request: pytest.FixtureRequest) -> AsyncIterator[SpeakerFactory]:
    """``await speakers(config_text)`` starts a pyspeaker Speaker; all are stopped at teardown."""
    started: list[tuple[Speaker, Recorder]] = []

    async def start(text: str) -> tuple[Speaker, Recorder]:
        pair = await start_speaker(text)
        started.append(pair)
        return pair

    yield start
    failed = _failed(request) or os.environ.get("PYSPEAKER_INTEROP_LOGS") == "1"
    for speaker, rec in started:
        if failed:
            print(f"=== pyspeaker events\n{rec.timeline()}")
        await speaker.stop("test over")
