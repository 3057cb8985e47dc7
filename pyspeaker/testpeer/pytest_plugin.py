"""pytest plugin: BGP test peers as fixtures, for any project's test suite.

Registered as the ``pyspeaker`` pytest11 entry point, so it loads wherever pyspeaker is
installed; a suite that uses none of its fixtures sees nothing of it but its ``--bgp-*``
options. Fixtures:

* ``bgp_peer``: an async factory, ``await bgp_peer(name="peer", connect=True, **TestPeer
  arguments)``, returning a TestPeer (connected unless ``connect=False``) set up from the
  command line / ini options (``--bgp-dut``, ``--bgp-asn``, ``--bgp-dut-asn``,
  ``--bgp-source``, ...), from the peer of that name in ``--bgp-peers FILE`` (``[[peer]]``
  tables as in a scenario file), then the arguments given. Every peer is closed at teardown.
  With no DUT configured, the test is skipped (saying which option is missing).
* ``bgp_recorder``: the :class:`Recorder` the test's peers share; when the test fails its
  timeline is added to the report (and with ``--bgp-save-recordings DIR`` saved there).
* ``bgp_lab``: the :class:`~pyspeaker.testpeer.scenario.Lab` of the test (``lab.expect``:
  the scenario assertions; ``lab.mark``).

Async fixtures need pytest-asyncio (``asyncio_mode = "auto"``, or mark the tests
``@pytest.mark.asyncio``). See ``docs/pytest-plugin.md``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when used: loading the plugin costs a suite that does not use it nothing
    from .peer import TestPeer
    from .record import Recorder
    from .scenario import Lab

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures then say what is missing
    pytest_asyncio = None  # type: ignore[assignment]

# (option, ini name, help)
_OPTIONS = (
    ("dut", "address of the device under test"),
    ("port", "its BGP port (default 179)"),
    ("asn", "our AS number"),
    ("dut-asn", "the DUT's AS number (checked against its OPEN)"),
    ("source", "our address (the TCP source; the router id when IPv4)"),
    ("router-id", "our BGP identifier (default: --bgp-source)"),
    ("hold-time", "the hold time we offer (default 90)"),
    ("families", "comma-separated families (default ipv4-unicast,ipv6-unicast)"),
    ("next-hop6", "the IPv6 next hop we announce over an IPv4 session"),
    ("connect-timeout", "seconds to wait for Established (default 10)"),
    ("peers", "TOML file of [[peer]] tables (as in a scenario file): bgp_peer(NAME) takes that peer's settings"),
    ("save-recordings", "folder where the recording of each failed test is saved (msgpack)"),
)

_RECORDER: pytest.StashKey[Recorder] = pytest.StashKey()
_SETTINGS: pytest.StashKey[Settings] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bgp", "BGP test peers (pyspeaker)")
    for name, text in _OPTIONS:
        ini = "bgp_" + name.replace("-", "_")
        group.addoption(f"--bgp-{name}", dest=ini, default=None, help=f"{text} (ini: {ini})")
        parser.addini(ini, f"pyspeaker test peer: {text}", default=None)


def _option(config: pytest.Config, name: str) -> str | None:
    ini = "bgp_" + name.replace("-", "_")
    value = config.getoption(ini, None)
    if value is None:
        value = config.getini(ini)
    if value in (None, "", []):
        return None
    return str(value).strip()


@dataclass
class Settings:
    """The test peer arguments the options give, and the peers of ``--bgp-peers``."""

    base: dict[str, Any] = field(default_factory=dict)
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    connect_timeout: float = 10.0
    problems: list[str] = field(default_factory=list)


def settings(config: pytest.Config) -> Settings:
    """Read (once per session) and check the ``--bgp-*`` options; problems are kept and
    reported by the fixtures, so a suite that does not use them never fails on them."""
    made = config.stash.get(_SETTINGS, None)
    if made is not None:
        return made
    from ..config.load import ConfigError
    from ..wire.family import Family
    from .scenario import peer_settings
    from .scenario_file import load_peers

    s = Settings()
    base = s.base

    def integer(name: str, lo: int, hi: int) -> int | None:
        text = _option(config, name)
        if text is None:
            return None
        if not re.fullmatch(r"\d+", text) or not lo <= int(text) <= hi:
            s.problems.append(f"--bgp-{name}: {text!r} is not a whole number between {lo} and {hi}")
            return None
        return int(text)

    for name, key in (("dut", "dut"), ("source", "local_address"), ("router-id", "router_id")):
        value = _option(config, name)
        if value is not None:
            base[key] = value
    for name, key, lo, hi in (
        ("port", "port", 1, 65535),
        ("asn", "asn", 1, 4294967295),
        ("dut-asn", "dut_asn", 1, 4294967295),
        ("hold-time", "hold_time", 0, 65535),
    ):
        number = integer(name, lo, hi)
        if number is not None:
            base[key] = number
    nh6 = _option(config, "next-hop6")
    if nh6 is not None:
        base["next_hop6"] = nh6
    fams = _option(config, "families")
    if fams is not None:
        try:
            base["families"] = tuple(Family.from_name(f.strip()) for f in fams.split(",") if f.strip())
        except ValueError as exc:
            s.problems.append(f"--bgp-families: {exc}")
    timeout = _option(config, "connect-timeout")
    if timeout is not None:
        try:
            s.connect_timeout = float(timeout)
        except ValueError:
            s.problems.append(f"--bgp-connect-timeout: {timeout!r} is not a number of seconds")
    peers_file = _option(config, "peers")
    if peers_file is not None:
        path = Path(peers_file)
        if not path.is_absolute():
            path = Path(config.rootpath) / path if not path.exists() else path
        try:
            for spec in load_peers(path):
                kw = peer_settings(spec)
                s.peers[spec.name] = {k: v for k, v in kw.items() if v is not None}
        except ConfigError as exc:
            s.problems += [f"--bgp-peers {exc.source}: {p}" for p in exc.problems]
    config.stash[_SETTINGS] = s
    return s


class PeerFactory:
    """``await bgp_peer(name="peer", connect=True, retry_for=0, **TestPeer arguments)``."""

    def __init__(self, lab: Lab, config: Settings) -> None:
        self.lab = lab
        self.settings = config

    async def __call__(
        self, name: str = "peer", *, connect: bool = True, retry_for: float = 0.0, **overrides: Any
    ) -> TestPeer:
        from .scenario import connect_retrying

        s = self.settings
        if s.problems:
            pytest.fail("bad --bgp-* options:\n  " + "\n  ".join(s.problems), pytrace=False)
        kw = {**s.base, **s.peers.get(name, {}), **overrides}
        missing = [opt for opt, key in (("--bgp-dut", "dut"), ("--bgp-asn", "asn")) if kw.get(key) is None]
        if missing:
            where = f" or a [[peer]] named {name!r} in --bgp-peers" if s.peers or name != "peer" else ""
            pytest.skip(f"no BGP device under test configured: give {' and '.join(missing)}{where}")
        if "router_id" not in kw and (kw.get("local_address") is None or ":" in str(kw["local_address"])):
            pytest.fail(f"{name}: give --bgp-router-id (or an IPv4 --bgp-source)", pytrace=False)
        peer: TestPeer = self.lab.peer(name, **kw)
        if connect:
            await connect_retrying(peer, s.connect_timeout, retry_for)
        return peer


@pytest.fixture
def bgp_recorder(request: pytest.FixtureRequest) -> Recorder:
    """The recording of this test's peers; its timeline is shown if the test fails."""
    from .record import Recorder

    rec = Recorder()
    request.node.stash[_RECORDER] = rec
    return rec


@pytest.fixture
def bgp_lab(bgp_recorder: Recorder) -> Lab:
    """A scenario Lab on the test's recorder (``bgp_lab.expect.kept(...)`` and the others)."""
    from .scenario import Lab

    return Lab(bgp_recorder)


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def bgp_peer(bgp_lab: Lab, pytestconfig: pytest.Config) -> AsyncIterator[PeerFactory]:
        """Make test peers (see the module docstring); all are closed at teardown."""
        factory = PeerFactory(bgp_lab, settings(pytestconfig))
        try:
            yield factory
        finally:
            await bgp_lab.close()

else:  # pragma: no cover

    @pytest.fixture
    def bgp_peer() -> None:
        pytest.fail("the bgp_peer fixture needs pytest-asyncio (pip install pytest-asyncio)", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    rec = item.stash.get(_RECORDER, None)
    if rec is not None and report.failed and rec.events:
        report.sections.append((f"BGP test peer timeline ({report.when})", rec.timeline()))
        folder = _option(item.config, "save-recordings")
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
            rec.save(str(Path(folder) / f"{safe}.{report.when}.msgpack"))
    return report
