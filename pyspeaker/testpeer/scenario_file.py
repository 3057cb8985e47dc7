"""Declarative scenarios: a TOML file of ``[[peer]]``, ``[[step]]`` and ``[[expect]]``
tables, read into frozen values and checked as a whole before anything is sent. Every
problem names the file and the key (``step[3].prefixes: ...``), and all of them are
reported at once, as for the speaker's configuration.

Pure: no sockets, no asyncio. :mod:`pyspeaker.testpeer.scenario` runs what this returns.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.load import (
    ASN,
    PORT,
    ConfigError,
    _address,
    _bool,
    _communities,
    _families,
    _family,
    _hold_time,
    _Reader,
    _seconds,
    _text,
    read_text,
)
from ..config.load import _int_range as _int
from ..wire.family import IPV4_UNICAST, IPV6_UNICAST, Family

__all__ = [
    "ACTIONS",
    "EXPECTATIONS",
    "ConfigError",
    "ExpectSpec",
    "GrSettings",
    "PeerSpec",
    "Scenario",
    "StepSpec",
    "load",
    "load_peers",
    "parse",
    "parse_peers",
]


@dataclass(frozen=True, slots=True)
class GrSettings:
    """The Graceful Restart capability a peer sends (flags exactly as given)."""

    restart_time: int = 120
    restarting: bool = False
    notification: bool = True
    flags: dict[Family, int] | None = None  # None: each of the peer's families with 0x00


@dataclass(frozen=True, slots=True)
class PeerSpec:
    name: str
    dut: str
    asn: int
    router_id: str
    port: int = 179
    dut_asn: int | None = None
    source: str | None = None
    families: tuple[Family, ...] = (IPV4_UNICAST, IPV6_UNICAST)
    hold_time: int = 90
    password: str | None = None
    graceful_restart: GrSettings | None = None
    next_hop: str | None = None  # IPv4 next hop of our announcements (default: our address)
    next_hop6: str | None = None  # IPv6 next hop (needed for IPv6 routes over an IPv4 session)


@dataclass(frozen=True, slots=True)
class StepSpec:
    index: int
    action: str
    peer: str | None  # None for actions of the scenario itself (wait)
    name: str | None  # a mark other tables refer to (after = "NAME")
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"step[{self.index}]"

    def describe(self) -> str:
        who = f"{self.peer} " if self.peer else ""
        label = f" ({self.name})" if self.name else ""
        return f"{self.key} {who}{self.action}{label}"


@dataclass(frozen=True, slots=True)
class ExpectSpec:
    index: int
    kind: str
    peer: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"expect[{self.index}]"


@dataclass(frozen=True, slots=True)
class Scenario:
    source: str
    name: str
    description: str
    timeout: float  # the whole run, steps and expectations, is bounded by this
    peers: tuple[PeerSpec, ...]
    steps: tuple[StepSpec, ...]
    expects: tuple[ExpectSpec, ...]

    def peer(self, name: str) -> PeerSpec:
        for p in self.peers:
            if p.name == name:
                return p
        raise KeyError(name)


# -- value checkers (raise TypeError/ValueError with what was wrong) --------------------------
def _name(v: Any) -> str:
    text = _text(v)
    if not text or not all(ch.isalnum() or ch in "-_." for ch in text):
        raise ValueError("a name is letters, digits, '-', '_' or '.'")
    return text


def _router_id(v: Any) -> str:
    text = _text(v)
    try:
        rid = ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError("a router id is a dotted quad such as 192.0.2.1") from None
    if not int(rid):
        raise ValueError("a router id must not be 0.0.0.0")
    return str(rid)


def _prefixes(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v:
        raise TypeError('must be a non-empty list of prefixes, e.g. ["10.0.0.0/24", "2001:db8::/48"]')
    out = []
    for x in v:
        if not isinstance(x, str):
            raise TypeError(f"{x!r} is not a prefix in quotes")
        try:
            out.append(str(ipaddress.ip_network(x, strict=True)))
        except ValueError as exc:
            raise ValueError(f"{x!r} is not a prefix ({exc})") from None
    return tuple(out)


def _prefix(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("must be one prefix in quotes")
    return _prefixes([v])[0]


def _positive(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise ValueError("must be a number above 0")
    return float(v)


def _command(v: Any) -> list[str]:
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
        raise TypeError('must be a non-empty list of words, e.g. ["systemctl", "restart", "frr"] (no shell)')
    return list(v)


def _ipv(version: int) -> Callable[[Any], str]:
    def conv(v: Any) -> str:
        addr = _address(v)
        if addr.version != version:
            raise ValueError(f"must be an IPv{version} address")
        return str(addr)

    return conv


def _hex(v: Any) -> bytes:
    text = _text(v)
    try:
        return bytes.fromhex(text.replace(":", " "))
    except ValueError:
        raise ValueError('must be hexadecimal octets, e.g. "ffff ffff" or "ff:ff"') from None


def _origin(v: Any) -> int:
    names = {"igp": 0, "egp": 1, "incomplete": 2}
    if v not in names:
        raise ValueError('must be "igp", "egp" or "incomplete"')
    return names[v]


def _as_path(v: Any) -> tuple[int, ...]:
    if not isinstance(v, list):
        raise TypeError("must be a list of AS numbers, e.g. [65001, 65002]")
    return tuple(ASN(x) for x in v)


def _large(v: Any) -> tuple[tuple[int, int, int], ...]:
    if not isinstance(v, list):
        raise TypeError('must be a list, e.g. ["65001:1:2"]')
    out = []
    for x in v:
        parts = x.split(":") if isinstance(x, str) else []
        if len(parts) != 3 or not all(p.isdigit() and int(p) <= 0xFFFFFFFF for p in parts):
            raise ValueError(f'{x!r} is not a large community such as "65001:1:2"')
        out.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return tuple(out)


def _flags(v: Any) -> dict[Family, int]:
    if not isinstance(v, dict):
        raise TypeError('must be a table of family = flags octet, e.g. { "ipv4-unicast" = 0x80 }')
    out = {}
    for name, value in v.items():
        out[_family(name)] = _int(0, 255, f"the flags octet of {name}")(value)
    return out


def _forwarding(v: Any) -> dict[Family, bool]:
    if not isinstance(v, dict):
        raise TypeError('must be a table of family = true/false, e.g. { "ipv4-unicast" = true }')
    return {_family(name): _bool(value) for name, value in v.items()}


def _window_end(v: Any) -> str:
    text = _text(v)
    return text


# -- the tables -----------------------------------------------------------------------------
_PEER_KEYS = (
    "name, dut, port, asn, dut_asn, router_id, source, families, hold_time, password, graceful_restart, "
    "next_hop, next_hop6 (or set them for every peer in [defaults])"
)
_GR_KEYS = "restart_time, restarting, notification, flags"


def _gr(r: _Reader, value: Any, key: str) -> GrSettings | None:
    if value is False:
        return None
    if value is True:
        return GrSettings()
    if not isinstance(value, dict):
        r.bad(key, "must be true, false, or a table { restart_time, restarting, notification, flags }")
        return None
    t, p = dict(value), f"{key}."
    gr = GrSettings(
        restart_time=r.take(t, p, "restart_time", _int(0, 4095, "a restart time (12 bits)"), 120),
        restarting=r.take(t, p, "restarting", _bool, False),
        notification=r.take(t, p, "notification", _bool, True),
        flags=r.take(t, p, "flags", _flags, None),
    )
    r.leftovers(t, p, _GR_KEYS)
    return gr


def _peer(r: _Reader, table: dict[str, Any], defaults: dict[str, Any], index: int) -> PeerSpec | None:
    p = f"peer[{index}]."
    merged = {**defaults, **table}
    name = r.require(merged, p, "name", _name)
    dut = r.require(merged, p, "dut", _address)
    asn = r.require(merged, p, "asn", ASN)
    source = r.take(merged, p, "source", _address, None)
    if source is not None and dut is not None and source.version != dut.version:
        r.bad(f"{p}source", f"is IPv{source.version} but dut is IPv{dut.version}")
    rid = r.take(merged, p, "router_id", _router_id, None)
    if rid is None and "router_id" not in table and "router_id" not in defaults:
        if source is not None and source.version == 4:
            rid = str(source)
        elif name is not None:
            r.bad(f"{p}router_id", "missing (required unless source is an IPv4 address to take it from)")
    gr_raw = merged.pop("graceful_restart", True)
    spec = PeerSpec(
        name=name or "",
        dut=str(dut) if dut else "",
        asn=asn or 0,
        router_id=rid or "0.0.0.1",
        port=r.take(merged, p, "port", PORT, 179),
        dut_asn=r.take(merged, p, "dut_asn", ASN, None),
        source=str(source) if source else None,
        families=r.take(merged, p, "families", _families, (IPV4_UNICAST, IPV6_UNICAST)),
        hold_time=r.take(merged, p, "hold_time", _hold_time, 90),
        password=r.take(merged, p, "password", _text, None),
        graceful_restart=_gr(r, gr_raw, f"{p}graceful_restart"),
        next_hop=r.take(merged, p, "next_hop", _ipv(4), None),
        next_hop6=r.take(merged, p, "next_hop6", _ipv(6), None),
    )
    r.leftovers(merged, p, _PEER_KEYS)
    if name is None or dut is None or asn is None:
        return None
    return spec


Conv = Callable[[Any], Any]

# action -> (required arguments, optional arguments with defaults); every action also takes
# peer (required unless noted), name (a mark) and timeout where it waits
_PREFIXES: dict[str, tuple[Conv, Any]] = {"prefixes": (_prefixes, None)}
_ATTRS: dict[str, tuple[Conv, Any]] = {
    "next_hop": (lambda v: str(_address(v)), None),
    "origin": (_origin, None),
    "as_path": (_as_path, None),
    "med": (_int(0, 0xFFFFFFFF, "med"), None),
    "local_pref": (_int(0, 0xFFFFFFFF, "local_pref"), None),
    "communities": (_communities, None),
    "large_communities": (_large, None),
}
_TIMEOUT: dict[str, tuple[Conv, Any]] = {"timeout": (_seconds(0.1, 3600), 10.0)}
_RESTART: dict[str, tuple[Conv, Any]] = {
    "down_for": (_seconds(0, 3600), 0.0),  # seconds between the crash and the new connection
    "retry_for": (_seconds(0, 3600), 0.0),  # keep trying to connect this long (a DUT coming back)
    "restart_time": (_int(0, 4095, "a restart time (12 bits)"), None),
    "flags": (_flags, None),
    "notification": (_bool, None),
    **_TIMEOUT,
}
_FAMILIES: dict[str, tuple[Conv, Any]] = {"families": (_families, None)}
ACTIONS: dict[str, tuple[dict[str, tuple[Conv, Any]], dict[str, tuple[Conv, Any]]]] = {
    "connect": ({}, {"retry_for": (_seconds(0, 3600), 0.0), **_TIMEOUT}),
    "announce": (_PREFIXES, _ATTRS),
    "withdraw": (_PREFIXES, {}),
    "end-of-rib": ({}, _FAMILIES),
    "crash": ({}, {}),
    "restart": ({}, _RESTART),  # crash, then connect again with R set (the peer's flags unless given)
    "flap": (
        {"prefix": (_prefix, None), "count": (_int(1, 100_000, "a count"), None)},
        {"rate": (_positive, 1.0), **_ATTRS},
    ),
    "silent": ({}, {}),  # stop sending KEEPALIVEs (the DUT's hold timer runs out)
    "resume-keepalives": ({}, {}),
    "notify": (
        {"code": (_int(1, 255, "an error code"), None)},
        {"subcode": (_int(0, 255, "a subcode"), 0), "data": (_hex, b"")},
    ),
    "hard-reset": ({}, {}),
    "raw": ({"hex": (_hex, None)}, {}),
    "pause-reading": ({}, {}),
    "resume-reading": ({}, {}),
    "withhold-end-of-rib": ({}, _FAMILIES),
    "release-end-of-rib": ({}, _FAMILIES),
    "close": ({}, {}),
    "wait": ({"seconds": (_seconds(0, 3600), None)}, {}),
    "run": ({"command": (_command, None)}, {"timeout": (_seconds(0.1, 3600), 60.0)}),
    "expect-established": ({}, _TIMEOUT),
    "expect-route": (_PREFIXES, _TIMEOUT),
    "expect-withdrawn": (_PREFIXES, _TIMEOUT),
    "expect-eor": ({}, {**_FAMILIES, **_TIMEOUT}),
    "expect-down": ({}, _TIMEOUT),
    "expect-notification": (
        {},
        {"code": (_int(1, 255, "an error code"), None), "subcode": (_int(0, 255, "a subcode"), None), **_TIMEOUT},
    ),
}
_NO_PEER = {"wait", "run"}

_WINDOW: dict[str, tuple[Conv, Any]] = {"after": (_window_end, None), "until": (_window_end, None)}
EXPECTATIONS: dict[str, tuple[dict[str, tuple[Conv, Any]], dict[str, tuple[Conv, Any]]]] = {
    # the DUT kept these routes from `after` (default: the first loss of the session) until
    # its End-of-RIB (or `until`), and (refreshed) announced them again before it
    "kept": (_PREFIXES, {**_WINDOW, "refreshed": (_bool, False)}),
    # no withdrawal at all (or of these prefixes) between after and until
    "no-withdrawals": ({}, {**_WINDOW, "prefixes": (_prefixes, None)}),
    # each prefix withdrawn within `seconds` after `after`
    "withdrawn-within": ({**_PREFIXES, "seconds": (_seconds(0, 86400), None), "after": (_window_end, None)}, {}),
    # the DUT's OPEN (the first after `after`) had GR with these values
    "open-gr": (
        {},
        {
            "after": (_window_end, None),
            "restarting": (_bool, None),
            "notification": (_bool, None),
            "restart_time": (_int(0, 4095, "a restart time"), None),
            "forwarding": (_forwarding, None),
        },
    ),
    "routes": (_PREFIXES, {"present": (_bool, True)}),  # at the end of the run
    "eor": ({}, {"families": (_families, None), "after": (_window_end, None)}),
    "notification": ({}, {"code": (_int(1, 255, "an error code"), None), "subcode": (_int(0, 255, "a subcode"), None)}),
    "established": ({}, {"after": (_window_end, None)}),
}


def _args(
    r: _Reader, table: dict[str, Any], p: str, spec: tuple[dict[str, tuple[Conv, Any]], dict[str, tuple[Conv, Any]]]
) -> dict[str, Any]:
    required, optional = spec
    out: dict[str, Any] = {}
    for key, (conv, _default) in required.items():
        value = r.require(table, p, key, conv)
        if value is not None:
            out[key] = value
    for key, (conv, default) in optional.items():
        out[key] = r.take(table, p, key, conv, default)
    return out


def _peers(r: _Reader, doc: dict[str, Any]) -> tuple[list[PeerSpec], dict[str, int]]:
    """The [defaults] and [[peer]] tables (taken out of ``doc``); the peers and their indexes by name."""
    defaults = doc.pop("defaults", {})
    if not isinstance(defaults, dict):
        r.bad("defaults", "must be a table of peer keys shared by every [[peer]]")
        defaults = {}
    if "name" in defaults:
        r.bad("defaults.name", "each peer has its own name")
        defaults = {k: v for k, v in defaults.items() if k != "name"}

    peers: list[PeerSpec] = []
    raw_peers = doc.pop("peer", [])
    if not isinstance(raw_peers, list) or not raw_peers:
        r.bad("peer", "at least one [[peer]] table is needed (name, dut, asn, ...)")
        raw_peers = raw_peers if isinstance(raw_peers, list) else []
    names: dict[str, int] = {}
    for i, table in enumerate(raw_peers):
        if not isinstance(table, dict):
            r.bad(f"peer[{i}]", "must be a table")
            continue
        raw_name = table.get("name")
        if isinstance(raw_name, str):
            if raw_name in names:
                r.bad(f"peer[{i}].name", f"{raw_name!r} is already peer[{names[raw_name]}]")
            elif raw_name in ("lab", "scenario"):
                r.bad(f"peer[{i}].name", f"{raw_name!r} is reserved for the scenario's own events")
            names.setdefault(raw_name, i)
        spec = _peer(r, dict(table), defaults, i)
        if spec is not None:
            peers.append(spec)

    return peers, names


def parse_peers(text: str, source: str) -> tuple[PeerSpec, ...]:
    """Only the peers of a file ([defaults] and [[peer]]; [scenario], [[step]] and
    [[expect]] are allowed and not read): a lab's peers described once, for the pytest
    plugin's ``--bgp-peers``. ConfigError lists every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    r = _Reader(problems)
    peers, _names = _peers(r, doc)
    for key in doc:
        if key not in ("scenario", "step", "expect"):
            r.bad(key, "unknown top-level key (known: defaults, peer; scenario, step, expect are not read here)")
    if problems:
        raise ConfigError(source, problems)
    return tuple(peers)


def load_peers(path: str | Path) -> tuple[PeerSpec, ...]:
    return parse_peers(read_text(path), str(path))


def parse(text: str, source: str) -> Scenario:
    """Check a scenario given as TOML text; raise ConfigError listing every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    r = _Reader(problems)
    head = doc.pop("scenario", {})
    if not isinstance(head, dict):
        r.bad("scenario", "must be a table (name, description, timeout)")
        head = {}
    head = dict(head)
    name = r.take(head, "scenario.", "name", _text, Path(source).stem)
    description = r.take(head, "scenario.", "description", _text, "")
    timeout = r.take(head, "scenario.", "timeout", _seconds(1, 86400), 300.0)
    r.leftovers(head, "scenario.", "name, description, timeout")

    peers, names = _peers(r, doc)

    steps: list[StepSpec] = []
    marks: dict[str, int] = {}
    has_steps = isinstance(doc.get("step"), list) and bool(doc["step"])
    for i, p, t in r.tables(doc, "", "step"):
        action = t.pop("action", None)
        if action not in ACTIONS:
            r.bad(f"{p}action", f"{'missing' if action is None else repr(action) + ' is unknown'} "
                  f"(known: {', '.join(ACTIONS)})")  # fmt: skip
            continue
        peer = None
        if action in _NO_PEER:
            if "peer" in t:
                peer = r.take(t, p, "peer", _name, None)
        else:
            peer = r.require(t, p, "peer", _name)
        if peer is not None and peer not in names:
            r.bad(f"{p}peer", f"no [[peer]] named {peer!r} (defined: {', '.join(names) or 'none'})")
        mark = r.take(t, p, "name", _name, None)
        if mark is not None:
            if mark in marks:
                r.bad(f"{p}name", f"{mark!r} is already step[{marks[mark]}]")
            marks[mark] = i
        args = _args(r, t, p, ACTIONS[action])
        known = ["action", "peer", "name", *ACTIONS[action][0], *ACTIONS[action][1]]
        r.leftovers(t, p, ", ".join(known))
        steps.append(StepSpec(i, action, peer, mark, args))

    expects: list[ExpectSpec] = []
    for i, p, t in r.tables(doc, "", "expect"):
        kind = t.pop("kind", None)
        if kind not in EXPECTATIONS:
            r.bad(f"{p}kind", f"{'missing' if kind is None else repr(kind) + ' is unknown'} "
                  f"(known: {', '.join(EXPECTATIONS)})")  # fmt: skip
            continue
        peer = r.require(t, p, "peer", _name)
        if peer is not None and peer not in names:
            r.bad(f"{p}peer", f"no [[peer]] named {peer!r} (defined: {', '.join(names) or 'none'})")
        args = _args(r, t, p, EXPECTATIONS[kind])
        for key in ("after", "until"):
            ref = args.get(key)
            if ref is not None and ref not in marks and not (key == "until" and ref in ("eor", "end")):
                allowed = "a step name" + (', "eor" or "end"' if key == "until" else "")
                r.bad(f"{p}{key}", f"{ref!r} is not {allowed} (step names: {', '.join(marks) or 'none'})")
        known = ["kind", "peer", *EXPECTATIONS[kind][0], *EXPECTATIONS[kind][1]]
        r.leftovers(t, p, ", ".join(known))
        expects.append(ExpectSpec(i, kind, peer or "", args))

    for key in doc:
        r.bad(key, "unknown top-level key (known: scenario, defaults, peer, step, expect)")
    if not has_steps:
        r.bad("step", "no [[step]] tables: nothing to do")
    if problems:
        raise ConfigError(source, problems)
    return Scenario(source, name, description, timeout, tuple(peers), tuple(steps), tuple(expects))


def load(path: str | Path) -> Scenario:
    return parse(read_text(path), str(path))
