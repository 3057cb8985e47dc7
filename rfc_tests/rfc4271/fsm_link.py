"""Helpers for the FSM tests: a session driven to a chosen state, and two sessions over a
fake link on fake time. No sockets, no sleeps."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pyspeaker.fsm import (
    CloseRequested,
    ConnectRequested,
    Event,
    PeerSettings,
    Session,
    SessionDown,
    State,
    StateChanged,
)
from rfc_tests.conftest import KEEPALIVE, cap, open_msg, param

LOCAL_ID = "192.0.2.1"
PEER_ID = "192.0.2.2"
LOCAL = PeerSettings(local_as=65001, peer_as=65002, router_id=LOCAL_ID)


def caps(*items: bytes) -> bytes:
    """Each capability in its own optional parameter."""
    return b"".join(param(2, item) for item in items)


def mp(afi: int = 1, safi: int = 1) -> bytes:
    return cap(1, struct.pack("!HBB", afi, 0, safi))


def as4(asn: int) -> bytes:
    return cap(65, struct.pack("!I", asn))


def peer_open(
    asn: int = 65002, hold: int = 90, bgp_id: str = PEER_ID, extra: bytes = b"", version: int = 4, plain: bool = False
) -> bytes:
    """The peer's OPEN, hand-built: IPv4 unicast, route refresh, 4-octet AS, plus ``extra``."""
    params = b"" if plain else caps(mp(1, 1), cap(2), as4(asn))
    my_as = asn if asn <= 0xFFFF else 23456
    return open_msg(my_as=my_as, hold=hold, bgp_id=bgp_id, params=params + extra, version=version)


def drive(state: State, settings: PeerSettings = LOCAL, now: float = 0.0, peer: bytes | None = None) -> Session:
    """A Session brought to ``state`` the ordinary way, its outputs drained."""
    s = Session(settings)
    if state is not State.IDLE:
        s.start(now, passive=state is State.ACTIVE)
        if state not in (State.CONNECT, State.ACTIVE):
            s.connection_made(now, incoming=False)
            if state is not State.OPEN_SENT:
                s.receive_data(peer_open() if peer is None else peer, now)
                if state is State.ESTABLISHED:
                    s.receive_data(KEEPALIVE, now)
    assert s.state is state, s.next_events()
    s.data_to_send()
    s.next_events()
    return s


def of(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def state_of(s: Session) -> State:
    """``s.state``, read through a call (so a type checker does not keep an earlier narrowing)."""
    return s.state


def reason(events: list[Event]) -> str:
    """The reason of the first state change."""
    return next(e.reason for e in events if isinstance(e, StateChanged))


def states(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.old.value, e.new.value) for e in events if isinstance(e, StateChanged)]


@dataclass
class Side:
    session: Session
    events: list[Event] = field(default_factory=list)
    trace: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)


class Link:
    """Two Sessions joined by a fake TCP link on a fake clock.

    ``ConnectRequested`` from one side connects to the other if it is listening (Connect or
    Active, without a connection), else the attempt fails. ``CloseRequested`` delivers what
    was sent and then closes the other end. ``up=False`` on :meth:`cut` makes the link drop
    everything silently (a dead peer), so only timers can notice.
    """

    def __init__(self, a: PeerSettings, b: PeerSettings, *, chunk: int = 0) -> None:
        self.now = 0.0
        self.a = Side(Session(a, trace=self._tracer("a")))
        self.b = Side(Session(b, trace=self._tracer("b")))
        self.up = False  # a TCP connection exists between the two
        self.dead = False  # the link silently drops everything
        self.chunk = chunk  # deliver bytes this many at a time (0: all at once)

    def _tracer(self, name: str) -> Any:
        def record(now: float, kind: str, fields: dict[str, Any]) -> None:
            side = self.a if name == "a" else self.b
            side.trace.append((now, kind, fields))

        return record

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a

    def start(self, a_passive: bool | None = None, b_passive: bool | None = None) -> None:
        self.b.session.start(self.now, b_passive)
        self.a.session.start(self.now, a_passive)
        self.pump()

    def cut(self) -> None:
        self.dead = True

    def pump(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            busy = False
            for side in (self.a, self.b):
                if self._step(side):
                    busy = True
            if not busy:
                return
        raise AssertionError("the link did not settle")

    def _deliver(self, side: Side, data: bytes) -> None:
        other = self.other(side)
        if not data or self.dead or not self.up or not other.session.connected:
            return
        if self.chunk:
            for i in range(0, len(data), self.chunk):
                other.session.receive_data(data[i : i + self.chunk], self.now)
        else:
            other.session.receive_data(data, self.now)

    def _step(self, side: Side) -> bool:
        data = side.session.data_to_send()
        self._deliver(side, data)
        events = side.session.next_events()
        side.events.extend(events)
        for event in events:
            if isinstance(event, ConnectRequested):
                self._connect(side)
            elif isinstance(event, CloseRequested) and self.up and not side.session.connected:
                self.up = False
                other = self.other(side)
                if other.session.connected and not self.dead:
                    other.session.connection_lost(self.now)
        return bool(data or events)

    def _connect(self, side: Side) -> None:
        other = self.other(side)
        listening = other.session.state in (State.CONNECT, State.ACTIVE) and not other.session.connected
        if self.up or self.dead or not listening:
            side.session.connection_failed(self.now)
            return
        self.up = True
        side.session.connection_made(self.now, incoming=False)
        other.session.connection_made(self.now, incoming=True)

    def run(self, until: float) -> None:
        """Advance fake time to ``until``, firing every timer on the way."""
        while True:
            deadlines = [d for d in (self.a.session.get_timer(), self.b.session.get_timer()) if d is not None]
            if not deadlines or min(deadlines) > until:
                break
            self.now = max(self.now, min(deadlines))
            for side in (self.a, self.b):
                side.session.handle_timer(self.now)
            self.pump()
        self.now = until

    def downs(self, side: Side) -> list[SessionDown]:
        return of(side.events, SessionDown)
