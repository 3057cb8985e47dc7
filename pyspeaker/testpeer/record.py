"""The recording of a test: every event of every test peer, with monotonic timestamps.

Pure (no asyncio, no sockets): :class:`TestPeer` adds events, verdicts and assertions read
them, and a recording saves to and loads from msgpack so a run can be looked at later.
Event data are plain values (str, int, float, bool, bytes, lists, dicts), so a saved recording
loads back equal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

FORMAT = "pyspeaker-testpeer-recording"
VERSION = 1

# The kinds of event a TestPeer records (others may be added by callers, e.g. "note").
KINDS = (
    "state",  # the session's state changed: data["state"], data["reason"]
    "open-sent",  # our OPEN: raw, hold_time, capabilities
    "open-received",  # the DUT's OPEN, byte for byte (raw) and decoded (capabilities)
    "keepalive-received",  # only when the peer records KEEPALIVEs (record_keepalives=True)
    "announce",  # a route of the DUT arrived: family, prefix, next_hop, attrs (raw)
    "change",  # a route the DUT had announced came again with other attributes
    "withdraw",  # a route of the DUT went
    "eor",  # the DUT's End-of-RIB for a family
    "sent",  # what we sent: what (announce/withdraw/eor/raw/keepalive...), family, prefixes
    "notification-sent",
    "notification-received",
    "route-refresh-received",
    "fault",  # a fault we performed: data["fault"] names it
    "note",  # free text from a test or a check
)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``t`` is seconds since the recording started."""

    t: float
    peer: str
    kind: str
    data: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def summary(self) -> str:
        """The event's data in one line of text."""
        return _summary(self.kind, self.data)


class Recorder:
    """A list of :class:`Event`, in the order they happened, shared by the test peers of a
    test. ``clock`` gives the time (``time.monotonic`` by default; pass a fake one in tests
    of pure code). ``listeners`` are called with each new event (a TestPeer wakes its waiters
    with it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.events: list[Event] = []
        self.clock = clock
        self.start = clock()
        self.started_at = time.time()  # wall clock, for the reader of a saved recording
        self.listeners: list[Callable[[Event], None]] = []

    # -- adding ---------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the recording started."""
        return self.clock() - self.start

    def add(self, peer: str, kind: str, **data: Any) -> Event:
        event = Event(round(self.now(), 6), peer, kind, data)
        self.events.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event

    def note(self, text: str, peer: str = "test", **data: Any) -> Event:
        return self.add(peer, "note", text=text, **data)

    # -- queries ---------------------------------------------------------------------------
    def of(self, kind: str, peer: str | None = None) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (peer is None or e.peer == peer)]

    def select(
        self, kind: str | None = None, peer: str | None = None, since: float = float("-inf"), **match: Any
    ) -> list[Event]:
        """Events of a kind (any if None) and peer (any if None) at or after ``since`` whose
        data hold every ``match`` key with that value."""
        return [
            e
            for e in self.events
            if (kind is None or e.kind == kind)
            and (peer is None or e.peer == peer)
            and e.t >= since
            and all(e.data.get(k) == v for k, v in match.items())
        ]

    def first(
        self, kind: str | None = None, peer: str | None = None, since: float = float("-inf"), **match: Any
    ) -> Event | None:
        found = self.select(kind, peer, since, **match)
        return found[0] if found else None

    def last(
        self, kind: str | None = None, peer: str | None = None, since: float = float("-inf"), **match: Any
    ) -> Event | None:
        found = self.select(kind, peer, since, **match)
        return found[-1] if found else None

    def faults(self, peer: str | None = None) -> list[Event]:
        return self.of("fault", peer)

    def route_history(self, prefix: str, peer: str | None = None) -> list[Event]:
        """Arrivals, changes and withdrawals of one prefix (as text), in order."""
        return [
            e
            for e in self.events
            if e.kind in ("announce", "change", "withdraw")
            and e.data.get("prefix") == prefix
            and (peer is None or e.peer == peer)
        ]

    def peers(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.events:
            seen.setdefault(e.peer, None)
        return list(seen)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    # -- text ---------------------------------------------------------------------------------
    def timeline(self, peer: str | None = None, kinds: Iterable[str] | None = None) -> str:
        """One line per event: time, peer, kind, what it carried."""
        wanted = set(kinds) if kinds is not None else None
        lines = []
        for e in self.events:
            if peer is not None and e.peer != peer:
                continue
            if wanted is not None and e.kind not in wanted:
                continue
            lines.append(f"{e.t:10.3f}  {e.peer:<10} {e.kind:<22} {e.summary()}".rstrip())
        return "\n".join(lines)

    # -- files --------------------------------------------------------------------------------
    def to_plain(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "started_at": self.started_at,
            "events": [[e.t, e.peer, e.kind, e.data] for e in self.events],
        }

    @classmethod
    def from_plain(cls, plain: Any, source: str = "recording") -> Recorder:
        if not isinstance(plain, dict) or plain.get("format") != FORMAT:
            raise ValueError(f"{source}: not a pyspeaker test peer recording")
        if plain.get("version") != VERSION:
            raise ValueError(f"{source}: recording version {plain.get('version')!r}, this reads {VERSION}")
        rec = cls()
        rec.started_at = float(plain.get("started_at", 0.0))
        events = plain.get("events")
        if not isinstance(events, list):
            raise ValueError(f"{source}: 'events' is not a list")
        for i, item in enumerate(events):
            if not (isinstance(item, list) and len(item) == 4 and isinstance(item[3], dict)):
                raise ValueError(f"{source}: event {i} is not [t, peer, kind, data]")
            rec.events.append(Event(float(item[0]), str(item[1]), str(item[2]), item[3]))
        return rec

    def save(self, path: str) -> None:
        """Write the recording as msgpack (atomically: a temporary file renamed)."""
        data = msgpack.packb(self.to_plain(), use_bin_type=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> Recorder:
        with open(path, "rb") as f:
            data = f.read()
        try:
            plain = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, msgpack.exceptions.ExtraData, msgpack.exceptions.UnpackException) as exc:
            raise ValueError(f"{path}: not msgpack ({exc})") from None
        return cls.from_plain(plain, path)


# -- one-line summaries ------------------------------------------------------------------------
def _short_hex(raw: bytes, limit: int = 48) -> str:
    text = raw.hex()
    return text if len(text) <= 2 * limit else f"{text[: 2 * limit]}... ({len(raw)} octets)"


def _caps_text(caps: list[dict[str, Any]]) -> str:
    out = []
    for cap in caps:
        name = cap.get("name", cap.get("code"))
        if cap.get("code") == 64:
            fams = ",".join(f"{f['family']}={f['flags']}" for f in cap.get("families", []))
            out.append(
                f"{name}(R={int(bool(cap.get('restart')))} N={int(bool(cap.get('notification')))} "
                f"time={cap.get('restart_time')} [{fams}])"
            )
        elif cap.get("code") == 1 and "family" in cap:
            out.append(f"mp({cap['family']})")
        else:
            out.append(str(name))
    return " ".join(out)


def _summary(kind: str, d: dict[str, Any]) -> str:
    if kind == "state":
        reason = d.get("reason")
        return f"{d.get('state')}" + (f" ({reason})" if reason else "")
    if kind in ("open-sent", "open-received"):
        head = f"AS{d.get('asn')} hold {d.get('hold_time')} id {d.get('bgp_id')}"
        return f"{head} {_caps_text(d.get('capabilities', []))}"
    if kind in ("announce", "change"):
        return f"{d.get('family')} {d.get('prefix')} via {d.get('next_hop')}"
    if kind == "withdraw":
        return f"{d.get('family')} {d.get('prefix')}"
    if kind == "eor":
        return f"{d.get('family')}"
    if kind in ("notification-sent", "notification-received"):
        data = d.get("data", b"")
        extra = f" data {_short_hex(data)}" if data else ""
        return f"{d.get('code')}/{d.get('subcode')} {d.get('name')}{extra}"
    if kind == "sent":
        what = d.get("what")
        parts = [str(what)]
        if "family" in d:
            parts.append(str(d["family"]))
        if "count" in d:
            parts.append(f"{d['count']} prefixes" if what in ("announce", "withdraw") else f"count {d['count']}")
        prefixes = d.get("prefixes")
        if prefixes:
            shown = ", ".join(prefixes[:4]) + (f", ... ({len(prefixes)})" if len(prefixes) > 4 else "")
            parts.append(shown)
        if "octets" in d:
            parts.append(f"{d['octets']} octets")
        return " ".join(parts)
    if kind == "fault":
        rest = " ".join(f"{k}={_value_text(v)}" for k, v in d.items() if k != "fault")
        return f"{d.get('fault')} {rest}".rstrip()
    if kind == "note":
        rest = " ".join(f"{k}={_value_text(v)}" for k, v in d.items() if k != "text")
        return f"{d.get('text', '')} {rest}".rstrip()
    return " ".join(f"{k}={_value_text(v)}" for k, v in d.items())


def _value_text(v: Any) -> str:
    if isinstance(v, bytes):
        return _short_hex(v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
