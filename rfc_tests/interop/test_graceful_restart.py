"""Graceful restart, pyspeaker as the helper (RFC 4724 4.2, RFC 8538), against real daemons.

pyspeaker is an iBGP route reflector (as in test_reflector.py); a daemon is one client and an
observer written here (pyspeaker.wire, over loopback) is the other: it records every UPDATE
pyspeaker sends it, with the time, so "no withdrawal" means none on the wire. The daemon
originates A (kept across its restart) and B (gone from its config when it comes back), in
both families. Checked:

1. per daemon, a graceful restart (BIRD 2 `birdc graceful restart` + `bird -R`; BIRD 1.6
   SIGKILL + `bird -R` and `bird6 -R`; GoBGP SIGKILL + `gobgpd -r`; FRR SIGKILL of bgpd + bgpd
   again, with `preserve-fw-state`): pyspeaker keeps A and B stale (its retained state and its
   Loc-RIB), the observer is sent nothing until the daemon's End-of-RIB, then the withdrawal
   of B only; A is neither withdrawn nor sent again;
2. per daemon, one that never comes back: its routes go when its restart time (5 s,
   configured on the daemon) runs out, not before;
3. a daemon back with F=0 for a family, or without the family in its GR capability (FRR
   without `preserve-fw-state`, BIRD 2 without -R, bird6 without -R beside bird -R, GoBGP -r
   with mp-graceful-restart for IPv4 only): that family's routes go the moment the session
   is up, the others wait for End-of-RIB;
4. RFC 8538: with N on both sides (FRR always, GoBGP with notification-enabled) FRR's
   `clear bgp` (Cease/Administrative Reset), GoBGP's `neighbor X reset` (the same) and
   pyspeaker's own hold timer NOTIFICATION keep the routes; FRR's default
   `bgp hard-administrative-reset` (Cease/Hard Reset) and BIRD 2's `restart` (no N) do not.

Two pyspeaker bugs were found here and fixed: the LLGR F bit overriding a GR F=0 (test 3,
FRR) and a connect/accept race (test_connect_accept_race: our own connection, made but not
yet started, wins over the peer's).

A failing test prints a timeline: the daemon's sessions, its End-of-RIBs and capability
bytes, when each of its routes became stale, fresh again or absent in pyspeaker, and every
route the observer was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeGuard

import pytest

from pyspeaker.fsm import types as ft
from pyspeaker.router import PeerState
from pyspeaker.runtime.peer import PeerRunner, Transport
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import (
    IPV4_UNICAST,
    IPV6_UNICAST,
    Context,
    Decoder,
    Family,
    Framer,
    Keepalive,
    Open,
    Update,
    prefix,
)
from pyspeaker.wire.open import GracefulRestart, four_octet_as, multiprotocol, route_refresh

from .checks import HOLD, KEEPALIVE
from .conftest import DaemonFactory, SpeakerFactory, _failed
from .daemons import Bird16, Daemon
from .pyside import DUAL, LOCAL_AS, V4_ONLY, V6_ONLY, client_neighbor, client_range, reflector_config

KINDS = ["bird2", "bird16", "gobgp", "frr"]
UP_TIMEOUT = 20.0  # GoBGP's first session may take several seconds
ROUTE_TIMEOUT = 15.0
SHORT_RESTART = 5  # the restart time the daemon announces where its expiry is the point
AT_ONCE = 1.0  # "at once": what pyspeaker sends within this of the event that caused it
EARLY = 0.05  # a timer's expiry seen this much before the SessionDown was recorded still counts

A4, B4 = "10.30.1.0/24", "10.30.2.0/24"
A6, B6 = "2001:db8:301::/48", "2001:db8:302::/48"
KEPT = {IPV4_UNICAST: A4, IPV6_UNICAST: A6}  # originated before and after the restart
DROPPED = {IPV4_UNICAST: B4, IPV6_UNICAST: B6}  # originated before the restart only
FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)

LLGR_CODE = 71  # Long-Lived Graceful Restart capability (RFC 9494)
END_OF_RIB_V4 = b"\xff" * 16 + b"\x00\x17\x02" + b"\x00" * 4  # an UPDATE with nothing in it
OBSERVER = "127.0.0.4"  # the observer connects from here to pyspeaker on 127.0.0.1
OBSERVER_ID = "10.77.99.4"


def is_up(e: ft.Event) -> TypeGuard[ft.SessionUp]:
    return isinstance(e, ft.SessionUp)


def is_down(e: ft.Event) -> TypeGuard[ft.SessionDown]:
    return isinstance(e, ft.SessionDown)


def text_of(fam: Family, p: bytes) -> str:
    return prefix.to_text(p, 4 if fam == IPV4_UNICAST else 16)


def family_of(text: str) -> Family:
    return IPV6_UNICAST if ":" in text else IPV4_UNICAST


# -- the timeline printed when a test fails ---------------------------------------------------------
class Timeline:
    def __init__(self) -> None:
        self.entries: list[tuple[float, str, str]] = []

    def note(self, who: str, text: str) -> None:
        self.entries.append((asyncio.get_running_loop().time(), who, text))

    def render(self) -> str:
        if not self.entries:
            return "(empty)"
        t0 = self.entries[0][0]
        return "\n".join(f"  +{t - t0:7.3f}s {who:10} {text}" for t, who, text in self.entries)


@pytest.fixture
def timeline(request: pytest.FixtureRequest) -> Iterator[Timeline]:
    tl = Timeline()
    yield tl
    if _failed(request) or os.environ.get("PYSPEAKER_INTEROP_LOGS") == "1":
        print(f"=== graceful restart timeline\n{tl.render()}")


# -- the observer: a second client that records what pyspeaker sends it -----------------------------
@dataclass
class Seen:
    t: float
    kind: str  # "announce", "withdraw", "eor"
    family: Family
    prefix: str = ""


class Observer:
    """An iBGP client of pyspeaker (IPv4 + IPv6, no GR) over loopback: OPEN, KEEPALIVE every
    3 s, and every route it is sent recorded with the loop time."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.seen: list[Seen] = []
        self.routes: set[str] = set()
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.writer: asyncio.StreamWriter | None = None
        self.on_change: Callable[[], None] = lambda: None

    async def establish(self, timeout: float = 10.0) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", 179, local_addr=(OBSERVER, 0)), timeout
        )
        self.writer = writer
        caps = [multiprotocol(IPV4_UNICAST), multiprotocol(IPV6_UNICAST), route_refresh(), four_octet_as(LOCAL_AS)]
        writer.write(Open.build(LOCAL_AS, HOLD, OBSERVER_ID, caps).encode())
        opened = asyncio.Event()
        self.tasks.append(asyncio.create_task(self._read(reader, opened)))
        await asyncio.wait_for(opened.wait(), timeout)
        writer.write(Keepalive().encode())
        self.tasks.append(asyncio.create_task(self._keepalives()))

    async def _read(self, reader: asyncio.StreamReader, opened: asyncio.Event) -> None:
        framer, decoder = Framer(), Decoder(Context(asn4=True, ibgp=True, peer_as=LOCAL_AS))
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(65536):
                for msg_type, raw in framer.feed(data):
                    msg = decoder.decode_one(msg_type, raw)
                    if isinstance(msg, Open):
                        opened.set()
                    elif isinstance(msg, Update):
                        self._file(loop.time(), msg)
        finally:
            self.closed.set()
            self.changed.set()
            self.timeline.note("observer", "connection closed")

    def _file(self, t: float, update: Update) -> None:
        eor = update.end_of_rib
        if eor is not None:
            self.seen.append(Seen(t, "eor", eor))
            self.timeline.note("observer", f"End-of-RIB {eor}")
        for fam, ps in update.withdrawals().items():
            for p in ps:
                text = text_of(fam, p)
                self.seen.append(Seen(t, "withdraw", fam, text))
                self.routes.discard(text)
                self.timeline.note("observer", f"withdrawn {text}")
        for fam, ps in update.announced().items():
            for p in ps:
                text = text_of(fam, p)
                self.seen.append(Seen(t, "announce", fam, text))
                self.routes.add(text)
                self.timeline.note("observer", f"announced {text}")
        self.on_change()
        self.changed.set()

    async def _keepalives(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(KEEPALIVE)  # the observer's own keepalive timer
            if self.writer is not None and not self.closed.is_set():
                self.writer.write(Keepalive().encode())

    def about(self, text: str, kind: str, since: float = 0.0) -> list[Seen]:
        return [s for s in self.seen if s.prefix == text and s.kind == kind and s.t >= since]

    def holds(self, text: str) -> Callable[[], bool]:
        return lambda: text in self.routes

    def lacks(self, text: str) -> Callable[[], bool]:
        return lambda: text not in self.routes

    def withdrawn(self, text: str, since: float) -> Callable[[], bool]:
        return lambda: bool(self.about(text, "withdraw", since))

    async def until(self, pred: Callable[[], bool], what: str, timeout: float = ROUTE_TIMEOUT) -> None:
        async def wait() -> None:
            while not pred():
                if self.closed.is_set():
                    raise AssertionError(f"{what}: the observer's connection closed first")
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{what}: not within {timeout} s; the observer holds {sorted(self.routes)}") from None

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await t
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()


@pytest.fixture
async def observer(timeline: Timeline) -> AsyncIterator[Observer]:
    obs = Observer(timeline)
    yield obs
    await obs.close()


# -- pyspeaker's view of the daemon's routes -----------------------------------------------------------
@dataclass
class Watch:
    """pyspeaker reflecting for one daemon: the session address per family (BIRD 1.6 has two
    sessions), the events of those sessions, and each tracked route's state in pyspeaker
    (fresh, stale, absent), noted in the timeline whenever it changes."""

    speaker: Speaker
    daemon: Daemon
    timeline: Timeline
    session: dict[Family, str]
    events: list[tuple[float, str, ft.Event]] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    # the routes' states right after pyspeaker handled each of the daemon's session events
    states_at: dict[int, dict[str, str]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def addresses(self) -> list[str]:
        return sorted(set(self.session.values()))

    def peer_state(self, fam: Family) -> PeerState | None:
        """The state of the family's session in pyspeaker's router: retained while the
        daemon is away, the live one otherwise."""
        addr = self.session[fam]
        router = self.speaker.router
        return router.retained.get(addr) or router.peer(addr)

    def state(self, text: str) -> str:
        fam = family_of(text)
        p = prefix.parse(text)
        loc = self.speaker.router.locs.get(fam)
        best = loc.best(p) if loc is not None else None
        st = self.peer_state(fam)
        if st is not None and p in st.stale.get(fam, {}):
            return "stale" if best is not None else "stale, NOT in the Loc-RIB"
        if st is not None and p in st.adj_in.get(fam, {}):
            return "fresh" if best is not None else "fresh, NOT in the Loc-RIB"
        return "absent" if best is None else f"in the Loc-RIB from {best.source.address}"

    def snapshot(self) -> None:
        for text in (*KEPT.values(), *DROPPED.values()):
            now = self.state(text)
            if self.states.get(text) != now:
                self.timeline.note("pyspeaker", f"{text}: {self.states.get(text, '-')} -> {now}")
                self.states[text] = now

    def states_after(self, event: ft.Event) -> dict[str, str]:
        """The routes' states in pyspeaker right after it handled ``event``."""
        return self.states_at[id(event)]

    def stale_count(self, fam: Family) -> int:
        st = self.speaker.router.retained.get(self.session[fam])
        return st.stale_count(fam) if st is not None else -1

    def on_event(self, address: str, event: ft.Event) -> None:
        if address not in self.session.values():
            return
        t = asyncio.get_running_loop().time()
        self.events.append((t, address, event))
        if isinstance(event, ft.SessionUp):
            neg = event.negotiated
            codes = [cap.code for cap in neg.peer_open.capabilities]
            llgr = [cap.raw.hex(" ") for cap in neg.peer_open.capabilities if cap.code == LLGR_CODE]
            self.timeline.note(
                address,
                f"SessionUp, its GR capability: {describe_gr(neg.graceful_restart)}; LLGR {llgr}; capabilities {codes}",
            )
        elif isinstance(event, ft.SessionDown):
            self.timeline.note(address, f"SessionDown ({event.reason}; sent {event.sent}, received {event.received})")
        elif isinstance(event, ft.UpdateReceived):
            u = event.update
            if u.end_of_rib is not None:
                self.timeline.note(address, f"End-of-RIB {u.end_of_rib}")
            for fam, ps in u.withdrawals().items():
                self.timeline.note(address, f"withdraws {[text_of(fam, p) for p in ps]}")
            for fam, ps in u.announced().items():
                self.timeline.note(address, f"announces {[text_of(fam, p) for p in ps]}")
        self.snapshot()
        self.states_at[id(event)] = dict(self.states)
        self.changed.set()

    async def wait(
        self, pred: Callable[[str, ft.Event], bool], what: str, since: float, timeout: float = UP_TIMEOUT
    ) -> tuple[float, ft.Event]:
        """The first event (at or after ``since``) matching ``pred``, with its time."""

        async def scan() -> tuple[float, ft.Event]:
            while True:
                for t, addr, ev in self.events:
                    if t >= since and pred(addr, ev):
                        return t, ev
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"{what}: not seen within {timeout} s") from None

    async def up(self, fam: Family, since: float, timeout: float = UP_TIMEOUT) -> tuple[float, ft.SessionUp]:
        addr = self.session[fam]
        t, ev = await self.wait(lambda a, e: a == addr and is_up(e), f"SessionUp with {addr}", since, timeout)
        assert isinstance(ev, ft.SessionUp)
        return t, ev

    async def down(self, fam: Family, since: float, timeout: float = 10.0) -> tuple[float, ft.SessionDown]:
        addr = self.session[fam]
        t, ev = await self.wait(
            lambda a, e: a == addr and is_down(e) and e.was_established,
            f"end of the session with {addr}",
            since,
            timeout,
        )
        assert isinstance(ev, ft.SessionDown)
        return t, ev

    async def end_of_rib(self, fam: Family, since: float, timeout: float = ROUTE_TIMEOUT) -> float:
        addr = self.session[fam]

        def eor(a: str, e: ft.Event) -> bool:
            return a == addr and isinstance(e, ft.UpdateReceived) and e.update.end_of_rib == fam

        t, _ = await self.wait(eor, f"the daemon's End-of-RIB for {fam}", since, timeout)
        return t

    def first_update(self, fam: Family, since: float) -> float | None:
        """When the first UPDATE of that family (routes or End-of-RIB) came from the daemon."""
        for t, addr, ev in self.events:
            if t >= since and addr == self.session[fam] and isinstance(ev, ft.UpdateReceived):
                u = ev.update
                if u.end_of_rib == fam or fam in u.announced() or fam in u.withdrawals():
                    return t
        return None


def describe_gr(gr: GracefulRestart | None) -> str:
    if gr is None:
        return "none"
    fams = ", ".join(f"{f} F={int(bool(flags & 0x80))}" for f, flags in gr.families) or "no families"
    return f"{gr.raw.hex(' ')} (R={int(gr.restarting)} N={int(gr.notification)} time={gr.restart_time}; {fams})"


def client_blocks(d: Daemon) -> tuple[list[str], list[str], dict[Family, str]]:
    link = d.link
    if isinstance(d, Bird16):
        blocks = [client_neighbor(link.their4, link.our4, V4_ONLY), client_neighbor(link.their6, link.our6, V6_ONLY)]
        return [link.our4, link.our6], blocks, {IPV4_UNICAST: link.their4, IPV6_UNICAST: link.their6}
    return [link.our4], [client_neighbor(link.their4, link.our4, DUAL)], dict.fromkeys(FAMILIES, link.their4)


async def reflector_for(
    kind: str, lab: DaemonFactory, speakers: SpeakerFactory, timeline: Timeline, observer: Observer, **opts: object
) -> Watch:
    """The daemon (GR on, originating A and B in both families, iBGP) as pyspeaker's client,
    the observer as another; returns once the observer holds all four routes.

    The daemon is passive: only pyspeaker dials. A restarted daemon that dials too does so
    at the moment pyspeaker's idle hold (1 s) ends, and a connection accepted while
    pyspeaker's own connect is completing hits the race that test_connect_accept_race
    below shows (both connections end up driving one Session); it is not what these
    tests are about, so they keep out of its way."""
    d = lab(
        kind, local_as=LOCAL_AS, peer_as=LOCAL_AS, prefix4=A4, prefix6=A6, more4=(B4,), more6=(B6,),
        graceful_restart=True, passive=True, **opts,
    )  # fmt: skip
    listen, blocks, session = client_blocks(d)
    speaker, rec = await speakers(reflector_config(["127.0.0.1", *listen], [*blocks, client_range("127.0.0.0/24")]))
    watch = Watch(speaker, d, timeline, session)

    def both(address: str, event: ft.Event) -> None:
        rec(address, event)
        watch.on_event(address, event)

    speaker.on_event = both
    # the recorder may have seen a session come up already
    for address, event, t in rec.events:
        if address in session.values():
            watch.events.append((t, address, event))
    for fam in FAMILIES:
        await watch.up(fam, 0.0)
    observer.on_change = watch.snapshot
    await observer.establish()
    everything = {*KEPT.values(), *DROPPED.values()}
    await observer.until(lambda: everything <= observer.routes, f"the observer holds {kind}'s four routes")
    return watch


def now() -> float:
    return asyncio.get_running_loop().time()


def assert_kept_stale(w: Watch, fams: tuple[Family, ...] = FAMILIES) -> None:
    """While the daemon is away: its A and B of ``fams`` are stale in pyspeaker and in the
    Loc-RIB."""
    for fam in fams:
        assert w.stale_count(fam) == 2, f"{fam}: {w.stale_count(fam)} stale routes retained, not 2"
        for text in (KEPT[fam], DROPPED[fam]):
            assert w.state(text) == "stale", f"{text}: {w.state(text)}"


def assert_states(states: dict[str, str], fam: Family, want: str, when: str) -> None:
    for text in (KEPT[fam], DROPPED[fam]):
        assert states.get(text) == want, f"{text} {when}: {states.get(text)}, not {want}"


def assert_nothing_withdrawn(obs: Observer, since: float, texts: list[str]) -> None:
    for text in texts:
        gone = obs.about(text, "withdraw", since)
        assert not gone, f"the observer was sent a withdrawal of {text} at {[s.t - since for s in gone]} s"


# -- 1. a graceful restart -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_graceful_restart_keeps_routes_until_end_of_rib(
    kind: str, lab: DaemonFactory, speakers: SpeakerFactory, timeline: Timeline, observer: Observer
) -> None:
    """The daemon restarts gracefully and comes back originating A only: A and B stay stale
    in pyspeaker meanwhile, the observer is sent nothing; after the daemon's End-of-RIB of a
    family that family's B is withdrawn and A stays, never withdrawn nor sent again."""
    w = await reflector_for(kind, lab, speakers, timeline, observer, preserve_fw_state=True)
    d = w.daemon
    for fam in FAMILIES:
        _, up = await w.up(fam, 0.0)
        gr = up.negotiated.graceful_restart
        assert gr is not None and gr.forwarding(fam) is not None, f"{kind} lists no {fam} in {describe_gr(gr)}"
    start = now()
    timeline.note("test", f"{kind} goes down for a graceful restart")
    await d.stop_for_restart()
    for fam in FAMILIES:
        _, down = await w.down(fam, start)
        assert down.sent is None and down.received is None, down
        assert_states(w.states_after(down), fam, "stale", "at the session's end")
    assert_kept_stale(w)
    d.opts.more4, d.opts.more6 = (), ()  # back with A only
    timeline.note("test", f"{kind} restarts")
    d.restart(graceful=True)
    back: dict[Family, float] = {}
    for fam in FAMILIES:
        back[fam], up = await w.up(fam, start)
        gr = up.negotiated.graceful_restart
        assert gr is not None and gr.restarting and gr.forwarding(fam), f"{fam}: {describe_gr(gr)}"
        assert_states(w.states_after(up), fam, "stale", "when it came back")
    eor = {fam: await w.end_of_rib(fam, back[fam]) for fam in FAMILIES}
    for fam in FAMILIES:
        await observer.until(observer.lacks(DROPPED[fam]), f"{DROPPED[fam]} withdrawn")
        (gone,) = observer.about(DROPPED[fam], "withdraw", start)
        assert gone.t >= eor[fam], f"{DROPPED[fam]} withdrawn {eor[fam] - gone.t:.3f} s before the End-of-RIB"
        assert gone.t - eor[fam] <= AT_ONCE, f"{DROPPED[fam]} withdrawn {gone.t - eor[fam]:.3f} s after the End-of-RIB"
        st = w.peer_state(fam)
        assert st is not None and st.stale_count(fam) == 0, st
        assert w.state(KEPT[fam]) == "fresh" and w.state(DROPPED[fam]) == "absent"
    # A: never withdrawn, never sent again; nothing at all before the first End-of-RIB
    assert_nothing_withdrawn(observer, start, list(KEPT.values()))
    for text in KEPT.values():
        again = observer.about(text, "announce", start)
        assert not again, f"{text} was sent to the observer again at {[s.t - start for s in again]} s"
    quiet = [s for s in observer.seen if start <= s.t < min(eor.values())]
    assert not quiet, f"the observer was sent {quiet} during the restart"


# -- 2. a daemon that does not come back ---------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_routes_go_when_the_restart_time_runs_out(
    kind: str, lab: DaemonFactory, speakers: SpeakerFactory, timeline: Timeline, observer: Observer
) -> None:
    """The daemon announces a restart time of 5 s, goes down as for a graceful restart and
    stays down: its routes stay (stale) for 5 s after pyspeaker saw the session end, and
    are withdrawn then."""
    w = await reflector_for(kind, lab, speakers, timeline, observer, restart_time=SHORT_RESTART)
    for fam in FAMILIES:
        _, up = await w.up(fam, 0.0)
        gr = up.negotiated.graceful_restart
        assert gr is not None and gr.restart_time == SHORT_RESTART, describe_gr(gr)
    start = now()
    timeline.note("test", f"{kind} goes down for good")
    await w.daemon.stop_for_restart()
    lost = {fam: (await w.down(fam, start))[0] for fam in FAMILIES}
    assert_kept_stale(w)
    every = [*KEPT.values(), *DROPPED.values()]
    await observer.until(lambda: not set(every) & observer.routes, "every route withdrawn", SHORT_RESTART + 5)
    for text in every:
        fam = family_of(text)
        (gone,) = observer.about(text, "withdraw", start)
        after = gone.t - lost[fam]
        assert SHORT_RESTART - EARLY <= after <= SHORT_RESTART + AT_ONCE, f"{text} withdrawn {after:.3f} s after loss"
        assert w.state(text) == "absent"
    for addr in w.addresses:
        assert addr not in w.speaker.router.retained


# -- 3. back with F=0 (or without the family) -------------------------------------------------------
@dataclass(frozen=True)
class ComingBack:
    """How the daemon comes back in test 3, and which families it keeps forwarding state for."""

    restart: dict[str, bool]  # keyword arguments of Daemon.restart
    kept: tuple[Family, ...]  # F=1 in the new OPEN: stale until End-of-RIB
    flushed: tuple[Family, ...]  # F=0 or not listed: stale routes go at once
    after: dict[str, object] = field(default_factory=dict)  # Options changed for the restart
    how: str = ""


V4, V6 = (IPV4_UNICAST,), (IPV6_UNICAST,)
F0_CASES = {
    "frr": ComingBack({}, (), FAMILIES, how="bgpd again without preserve-fw-state: F=0 for both"),
    "bird2": ComingBack({"graceful": False}, (), FAMILIES, how="bird without -R: F=0 for both"),
    "bird16": ComingBack({"graceful": True, "graceful6": False}, V4, V6, how="bird -R (F=1), bird6 without -R (F=0)"),
    "gobgp": ComingBack(
        {"graceful": True}, V4, V6, {"gr_families": (1,)}, "gobgpd -r, mp-graceful-restart for IPv4 only"
    ),
}


@pytest.mark.parametrize(
    "kind",
    [k for k in F0_CASES],
)
async def test_forwarding_state_not_kept_flushes_at_once(
    kind: str, lab: DaemonFactory, speakers: SpeakerFactory, timeline: Timeline, observer: Observer
) -> None:
    """The daemon restarts but its new OPEN has F=0 for a family (or leaves the family out of
    its GR capability): that family's stale routes are withdrawn the moment the session is
    up, before the daemon sends anything, and come back when it re-announces them; a family
    with F=1 keeps its routes until its End-of-RIB as in test 1."""
    case = F0_CASES[kind]
    w = await reflector_for(kind, lab, speakers, timeline, observer)
    d = w.daemon
    start = now()
    timeline.note("test", f"{kind} goes down; it comes back as {case.how}")
    await d.stop_for_restart()
    for fam in FAMILIES:
        _, down = await w.down(fam, start)
        assert_states(w.states_after(down), fam, "stale", "at the session's end")
    assert_kept_stale(w)
    d.opts.more4, d.opts.more6 = (), ()
    for key, value in case.after.items():
        setattr(d.opts, key, value)
    d.restart(**case.restart)
    back: dict[Family, float] = {}
    for fam in FAMILIES:
        back[fam], up = await w.up(fam, start)
        gr = up.negotiated.graceful_restart
        f_bit = gr.forwarding(fam) if gr is not None else None
        assert bool(f_bit) == (fam in case.kept), f"{fam}: {describe_gr(gr)}"
        want = "stale" if fam in case.kept else "absent"
        # FRR 8.4 sends LLGR F=1 with stale time 0 beside GR F=0: the GR F bit decides
        assert_states(w.states_after(up), fam, want, "when it came back")
    for fam in case.flushed:
        for text in (KEPT[fam], DROPPED[fam]):
            await observer.until(observer.withdrawn(text, start), f"{text} withdrawn")
            (gone,) = observer.about(text, "withdraw", start)
            assert back[fam] <= gone.t <= back[fam] + AT_ONCE, f"{text} withdrawn {gone.t - back[fam]:.3f} s after up"
            first = w.first_update(fam, back[fam])
            assert first is None or gone.t <= first + 0.1, f"{text} withdrawn after the daemon's first UPDATE"
        # A comes back when the daemon announces it again; B does not
        await observer.until(observer.holds(KEPT[fam]), f"{KEPT[fam]} announced again")
        assert DROPPED[fam] not in observer.routes
    for fam in case.kept:
        eor = await w.end_of_rib(fam, back[fam])
        await observer.until(observer.lacks(DROPPED[fam]), f"{DROPPED[fam]} withdrawn")
        (gone,) = observer.about(DROPPED[fam], "withdraw", start)
        assert eor <= gone.t <= eor + AT_ONCE, f"{DROPPED[fam]} withdrawn {gone.t - eor:.3f} s after End-of-RIB"
        assert not observer.about(KEPT[fam], "withdraw", start) and not observer.about(KEPT[fam], "announce", start)
    for fam in FAMILIES:
        assert w.state(KEPT[fam]) == "fresh" and w.state(DROPPED[fam]) == "absent"


# -- 4. RFC 8538: a NOTIFICATION with N -----------------------------------------------------------------
@dataclass(frozen=True)
class Reset:
    """A session end by NOTIFICATION (test 4): a daemon CLI command, or the daemon frozen until
    pyspeaker's hold timer fires; and what must happen to its routes."""

    kind: str
    opts: dict[str, object]
    command: tuple[str, ...]  # Daemon.cli_command words ({peer}: pyspeaker's address); () = freeze
    notification: tuple[int, int]  # received by pyspeaker, or sent by it when command is ()
    routes_go: str  # "never" (stale until End-of-RIB), "restart time" (stale until it runs out), "at once"


CLEAR = ("clear bgp {peer}",)
RESETS = {
    # N on both sides, not a Hard Reset: kept; FRR comes back with F=1 (preserve-fw-state)
    "frr-admin-reset-N": Reset("frr", {"preserve_fw_state": True, "hard_admin_reset": False}, CLEAR, (6, 4), "never"),
    # `bgp hard-administrative-reset` (FRR's default): Cease/Hard Reset, withdrawn at once
    "frr-hard-reset": Reset("frr", {"preserve_fw_state": True}, CLEAR, (6, 9), "at once"),
    # pyspeaker's own hold timer NOTIFICATION with N negotiated (RFC 8538 4): kept
    "frr-hold-timer-N": Reset("frr", {"preserve_fw_state": True}, (), (4, 0), "never"),
    # GoBGP with notification-enabled announces N and resets with Cease/Administrative Reset:
    # kept; it stays Idle 30 s after a reset, so they go when its restart time (5 s) runs out
    "gobgp-reset-N": Reset(
        "gobgp",
        {"gr_notification": True, "restart_time": SHORT_RESTART},
        ("neighbor", "{peer}", "reset"),
        (6, 4),
        "restart time",
    ),
    # BIRD 2 has no N: its Cease/Administrative Reset ends graceful restart, withdrawn at once
    "bird2-restart-no-N": Reset("bird2", {}, ("restart", "p1"), (6, 4), "at once"),
}


@pytest.mark.parametrize("case", list(RESETS))
async def test_notification_and_the_n_bit(
    case: str, lab: DaemonFactory, speakers: SpeakerFactory, timeline: Timeline, observer: Observer
) -> None:
    """A NOTIFICATION ends the session. With N announced by both sides and not a Hard Reset
    (RFC 8538), pyspeaker keeps the routes stale as for a lost connection: the observer is
    sent nothing, neither when the daemon is back (F=1) nor at its End-of-RIB (it re-sent
    everything), or nothing until the restart time runs out (GoBGP stays away); otherwise
    every route is withdrawn at once."""
    r = RESETS[case]
    w = await reflector_for(r.kind, lab, speakers, timeline, observer, **r.opts)
    d = w.daemon
    _, up = await w.up(IPV4_UNICAST, 0.0)
    gr, ours = up.negotiated.graceful_restart, up.negotiated.local_open.graceful_restart()
    assert gr is not None and ours is not None and ours.notification, describe_gr(ours)
    n_both = gr.notification and ours.notification
    assert n_both == (r.kind != "bird2"), describe_gr(gr)
    every = [*KEPT.values(), *DROPPED.values()]
    start = now()
    if r.command:
        out = await d.cli_command(*(a.format(peer=d.link.our4) for a in r.command))
        timeline.note("test", f"{' '.join(r.command)}: {out.strip()[:200]!r}")
        t_down, down = await w.down(IPV4_UNICAST, start)
        note = down.received
    else:
        timeline.note("test", f"{r.kind} frozen (SIGSTOP)")
        d.freeze()
        t_down, down = await w.down(IPV4_UNICAST, start, HOLD + 5)
        note = down.sent
        d.thaw()
        timeline.note("test", f"{r.kind} thawed")
    assert note is not None and (note.code, note.subcode) == r.notification, down
    if r.routes_go == "at once":
        for fam in FAMILIES:
            assert_states(w.states_after(down), fam, "absent", "after the NOTIFICATION")
        await observer.until(lambda: not set(every) & observer.routes, "every route withdrawn")
        for text in every:
            (gone,) = observer.about(text, "withdraw", start)
            assert t_down <= gone.t <= t_down + AT_ONCE, f"{text} withdrawn {gone.t - t_down:.3f} s after the reset"
        await w.up(IPV4_UNICAST, start)
        await observer.until(lambda: set(every) <= observer.routes, "every route announced again")
        return
    for fam in FAMILIES:
        assert_states(w.states_after(down), fam, "stale", "after the NOTIFICATION")
    if r.routes_go == "restart time":
        await observer.until(lambda: not set(every) & observer.routes, "every route withdrawn", SHORT_RESTART + 5)
        for text in every:
            (gone,) = observer.about(text, "withdraw", start)
            after = gone.t - t_down
            assert SHORT_RESTART - EARLY <= after <= SHORT_RESTART + AT_ONCE, (
                f"{text} withdrawn {after:.3f} s after reset"
            )
        return
    back, up = await w.up(IPV4_UNICAST, start)
    quiet = [s for s in observer.seen if s.t >= start and s.t < back]
    assert not quiet, f"the observer was sent {quiet} before {r.kind} came back"
    for fam in FAMILIES:
        assert_states(w.states_after(up), fam, "stale", "when it came back")
        await w.end_of_rib(fam, back)
    assert_nothing_withdrawn(observer, start, every)
    for text in every:
        assert w.state(text) == "fresh", f"{text}: {w.state(text)}"
        assert not observer.about(text, "announce", start), f"{text} was sent to the observer again"


# -- found on the way: a connect/accept race in pyspeaker/runtime/peer.py (fixed) --------------------------
async def test_connect_accept_race() -> None:
    """Over loopback, no daemon: a PeerRunner dials a listener; in the window between its
    connect completing and the transport's connection_made, the peer's own connection is
    accepted. Whatever wins, pyspeaker must not write the session's UPDATEs to a connection
    on which it never sent an OPEN."""
    loop = asyncio.get_running_loop()
    errors: list[object] = []
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx.get("exception") or ctx.get("message")))
    listener = socket.socket()
    other = socket.socket()
    peer_side: socket.socket | None = None
    runner: PeerRunner | None = None
    try:
        listener.bind(("127.0.0.2", 0))
        listener.listen()
        listener.setblocking(False)
        settings = ft.PeerSettings(local_as=LOCAL_AS, peer_as=LOCAL_AS, router_id="10.77.99.1", hold_time=HOLD)
        where = Transport(address="127.0.0.2", port=listener.getsockname()[1], connect_retry=1, connect_retry_max=1)
        runner = PeerRunner(settings, where)
        runner.start()
        window = False
        for _ in range(10000):  # the window: the outgoing link exists, its connection_made has not run
            await asyncio.sleep(0)
            if runner.link is not None and runner.link.transport is None:
                window = True
                break
        # the peer's own connection arrives now (a connected socket stands for it)
        other.bind(("127.0.0.3", 0))
        other.listen()
        peer_side = socket.create_connection(other.getsockname(), source_address=("127.0.0.2", 0))
        ours, _ = other.accept()
        if not runner.accept(ours):  # refusing it is one correct answer
            ours.close()
        # the peer answers on pyspeaker's outgoing connection: the session comes up on it
        conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 5)
        caps = [multiprotocol(IPV4_UNICAST), four_octet_as(LOCAL_AS)]
        await loop.sock_sendall(conn, Open.build(LOCAL_AS, HOLD, "10.77.99.2", caps).encode() + Keepalive().encode())
        for _ in range(100):
            if runner.state is ft.State.ESTABLISHED:
                break
            await asyncio.sleep(0.01)
        assert runner.state is ft.State.ESTABLISHED, runner.state
        runner.write(END_OF_RIB_V4)
        peer_side.setblocking(False)
        try:  # whatever arrives there within 0.5 s (over loopback it is there at once)
            stray = await asyncio.wait_for(loop.sock_recv(peer_side, 4096), 0.5)
        except TimeoutError:
            stray = b""
        conn.close()
        if stray or errors:
            raise AssertionError(
                f"sent on the peer's own connection, which never got an OPEN: {stray.hex(' ') or '-'}; "
                f"exceptions in callbacks: {errors} (accepted in the window: {window})"
            )
    finally:
        if runner is not None:
            runner.stop()
        for s in (listener, other, peer_side):
            if s is not None:
                s.close()
        await asyncio.sleep(0.05)
        loop.set_exception_handler(old_handler)
