"""pyspeaker as an iBGP route reflector (RFC 4456) for real daemons, each in its own namespace
and all in AS 65001: BIRD 2, FRR, GoBGP and BIRD 1.6 (bird + bird6) as clients see each other's
routes, both families, with ORIGINATOR_ID, CLUSTER_LIST and the originating client's next hop,
and lose them when that client withdraws them or dies; clients that only a ``[[listen_range]]``
admits are accepted, served, and forgotten when their session ends; and a raw BGP peer written
here (pyspeaker.wire builds its bytes) sends malformed UPDATEs whose RFC 7606 handling the
daemons downstream show: treat-as-withdraw removes the route, attribute discard keeps it
without the attribute, and the raw peer's session stays up; a second raw peer checks what no
daemon client sends: ORIGINATOR_ID and CLUSTER_LIST already set, the two RFC 4456 loops, and
a 32-octet IPv6 next hop.

Every client has routes to 10.77.0.0/16 and fd00:77::/32 via pyspeaker (``lab_routes``): a
reflected route keeps its next hop, an address on another client's link.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Callable
from typing import TypeGuard

import pytest

from pyspeaker.fsm import types as ft
from pyspeaker.rib.path import Path
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import (
    IPV4_UNICAST,
    IPV6_UNICAST,
    Context,
    Decoder,
    Family,
    Framer,
    Keepalive,
    Message,
    Notification,
    Open,
    Update,
    pack,
    prefix,
)
from pyspeaker.wire import constants as c
from pyspeaker.wire.attrs import attribute
from pyspeaker.wire.open import four_octet_as, multiprotocol, route_refresh

from .checks import HOLD, KEEPALIVE, daemon_lost_route, daemon_shows_route
from .conftest import DaemonFactory, SpeakerFactory
from .daemons import DAEMON_COMMUNITY, Bird2, Daemon, RouteView
from .netns import poll
from .pyside import (
    DUAL,
    LOCAL_AS,
    OUR_V4,
    OUR_V6,
    RR_CLUSTER_ID,
    RR_ROUTER_ID,
    V4_ONLY,
    V6_ONLY,
    Recorder,
    client_neighbor,
    client_range,
    community_texts,
    reflector_config,
)

CLIENT_KINDS = ["bird2", "frr", "gobgp", "bird16"]
UP_TIMEOUT = 20.0  # GoBGP may take several seconds; the others well under 2 s
ROUTE_TIMEOUT = 15.0
IBGP = {"local_as": LOCAL_AS, "peer_as": LOCAL_AS, "lab_routes": True}


def client_prefixes(i: int) -> tuple[str, str]:
    """The IPv4 and IPv6 prefix client ``i`` originates."""
    return f"10.20.{i}.0/24", f"2001:db8:20{i}::/48"


def is_up(e: ft.Event) -> TypeGuard[ft.SessionUp]:
    return isinstance(e, ft.SessionUp)


def is_down(e: ft.Event) -> TypeGuard[ft.SessionDown]:
    return isinstance(e, ft.SessionDown)


def session_addresses(d: Daemon) -> list[str]:
    """pyspeaker's sessions with a daemon: BIRD 1.6 has one per family."""
    return [d.link.their4, d.link.their6] if d.kind == "bird16" else [d.link.their4]


def client_blocks(d: Daemon) -> tuple[list[str], list[str]]:
    """(addresses pyspeaker listens on, [[neighbor]] blocks) for a daemon as an RR client."""
    link = d.link
    if d.kind == "bird16":
        blocks = [client_neighbor(link.their4, link.our4, V4_ONLY), client_neighbor(link.their6, link.our6, V6_ONLY)]
        return [link.our4, link.our6], blocks
    return [link.our4], [client_neighbor(link.their4, link.our4, DUAL)]


def loc_best(speaker: Speaker, text: str) -> Path | None:
    """The best path of pyspeaker's Loc-RIB for a prefix."""
    fam = IPV6_UNICAST if ":" in text else IPV4_UNICAST
    loc = speaker.router.locs.get(fam)
    return loc.best(prefix.parse(text)) if loc is not None else None


async def wait_up(rec: Recorder, address: str, timeout: float = UP_TIMEOUT, since: int = 0) -> ft.SessionUp:
    up = await rec.wait_for(is_up, timeout, f"SessionUp with {address}", since=since, address=address)
    assert isinstance(up, ft.SessionUp)
    assert up.negotiated.ibgp and up.negotiated.peer_as == LOCAL_AS, up
    return up


async def wait_forgotten(speaker: Speaker, address: str, label: str, timeout: float = 10.0) -> None:
    """A dynamic neighbor's session ended: nothing of it is left in the speaker or its router."""

    async def probe() -> tuple[bool, str]:
        runner = speaker.peers.get(address)
        state = speaker.router.peer(address)
        left = [st for st in speaker.router.peers.values() if st.address == address]
        seen = f"speaker.peers[{address}] = {runner!r} (state {runner.state if runner else None}); router: {left}"
        return runner is None and state is None and not left, seen

    await poll(probe, f"{label}'s state gone from speaker.peers and speaker.router.peers", timeout)


def assert_reflected(view: RouteView, origin: Daemon, afi: int, label: str) -> None:
    """A route another client originated, as reflected by pyspeaker: ORIGINATOR_ID is that
    client's router id (10.77.n.2), CLUSTER_LIST is our cluster id, the next hop is the
    client's own address (unchanged), and its community came along."""
    nh = origin.link.their6 if afi == 2 else origin.link.their4
    where = f"{label}: {view.prefix} from {origin.kind}:\n{view.raw}"
    assert view.originator_id == origin.link.their4, where
    assert view.cluster_list == [RR_CLUSTER_ID], where
    assert view.next_hop == nh, where
    assert f"{DAEMON_COMMUNITY[0]}:{DAEMON_COMMUNITY[1]}" in view.communities, where


# -- 1. reflection between BIRD 2, FRR, GoBGP and BIRD 1.6 -------------------------------------------
async def test_reflects_routes_between_daemon_clients(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    """Four clients, five sessions (BIRD 1.6 has one per family); each client originates one
    IPv4 and one IPv6 prefix; every other client must hold both with the RFC 4456 attributes.
    Then GoBGP is killed (SIGKILL) and the others withdraw theirs from their CLI, one after the
    other: each time the routes go from pyspeaker's Loc-RIB and from every remaining client."""
    clients: list[Daemon] = []
    prefixes: dict[Daemon, tuple[str, str]] = {}
    for i, kind in enumerate(CLIENT_KINDS, 1):
        v4, v6 = client_prefixes(i)
        d = lab(kind, prefix4=v4, prefix6=v6, **IBGP)
        clients.append(d)
        prefixes[d] = (v4, v6)
    listen: list[str] = []
    blocks: list[str] = []
    for d in clients:
        addrs, bl = client_blocks(d)
        listen += addrs
        blocks += bl
    speaker, rec = await speakers(reflector_config(listen, blocks))
    for d in clients:
        for addr in session_addresses(d):
            await wait_up(rec, addr)

    # pyspeaker's Loc-RIB: all eight prefixes, each from the session it was originated on
    async def loc_complete() -> tuple[bool, str]:
        missing = [t for d in clients for t in prefixes[d] if loc_best(speaker, t) is None]
        return not missing, f"missing from the Loc-RIB: {missing}"

    await poll(loc_complete, "pyspeaker's Loc-RIB holds every client's routes", ROUTE_TIMEOUT)
    for d in clients:
        v4, v6 = prefixes[d]
        p4, p6 = loc_best(speaker, v4), loc_best(speaker, v6)
        assert p4 is not None and p4.source.address == d.link.their4, p4
        assert p6 is not None and p6.source.address == session_addresses(d)[-1], p6
    # FRR sends its IPv6 next hop as global + link-local (32 octets): the one the others must
    # get as its global address alone (see assert_reflected and docs/interop.md)
    frr = next(d for d in clients if d.kind == "frr")
    hops = rec.received.next_hops[(IPV6_UNICAST, prefixes[frr][1])]
    assert len(hops) == 2 and ipaddress.IPv6Address(hops[1]).is_link_local, hops

    # every client holds every other client's routes, both families
    for receiver in clients:
        for origin in clients:
            if origin is receiver:
                continue
            for afi, text in zip((1, 2), prefixes[origin], strict=True):
                label = f"{receiver.kind} (from {origin.kind})"
                view = await daemon_shows_route(receiver, afi, text, label, ROUTE_TIMEOUT)
                assert_reflected(view, origin, afi, receiver.kind)

    # clients do not pass reflected routes back: each session's Adj-RIB-In holds its own only
    for d in clients:
        for addr in session_addresses(d):
            st = speaker.router.peer(addr)
            assert st is not None, addr
            held = {prefix.to_text(p, 4 if fam == IPV4_UNICAST else 16) for fam, adj in st.adj_in.items() for p in adj}
            assert held <= set(prefixes[d]) and held, f"{d.kind} ({addr}) sent {held}"

    # withdrawals: GoBGP dies; the others withdraw from their CLI
    remaining = list(clients)
    for origin in [d for d in clients if d.kind == "gobgp"] + [d for d in clients if d.kind != "gobgp"]:
        remaining.remove(origin)
        mark = len(rec.events)
        if origin.kind == "gobgp":
            assert origin.main is not None
            origin.main.kill()  # the kernel closes its TCP connection: no NOTIFICATION
            addr = origin.link.their4
            down = await rec.wait_for(is_down, 10, "SessionDown with the killed GoBGP", since=mark, address=addr)
            assert isinstance(down, ft.SessionDown) and down.was_established and down.received is None, down
        else:
            for afi in (1, 2):
                out = await origin.withdraw(afi)
                assert "rror" not in out and "nknown" not in out, out
        for text in prefixes[origin]:

            async def gone(text: str = text) -> tuple[bool, str]:
                return loc_best(speaker, text) is None, repr(loc_best(speaker, text))

            await poll(gone, f"{text} gone from pyspeaker's Loc-RIB after {origin.kind} withdrew it", ROUTE_TIMEOUT)
        for receiver in remaining:
            for afi, text in zip((1, 2), prefixes[origin], strict=True):
                await daemon_lost_route(receiver, afi, text, f"{receiver.kind} (from {origin.kind})", ROUTE_TIMEOUT)
        # and the other clients' routes are still there
        for receiver in remaining:
            for other in remaining:
                if other is not receiver:
                    still, raw = await receiver.rib_route(1, prefixes[other][0])
                    assert still is not None, f"{receiver.kind} lost {other.kind}'s route too:\n{raw}"
    # every session but GoBGP's is still up
    downs = [a for a, e, _ in rec.events if is_down(e) and e.was_established]
    assert downs == [next(d for d in clients if d.kind == "gobgp").link.their4], rec.timeline()


# -- 2. listen range: clients configured by no [[neighbor]] -----------------------------------------
async def test_listen_range_clients(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    """BIRD 2 and FRR connect to pyspeaker, which knows them only from a listen range
    (10.77.0.0/16): they are accepted (never dialled), get pyspeaker's own routes and each
    other's, and when a session ends the dynamic neighbor is forgotten (speaker.peers and
    speaker.router.peers); BIRD, enabled again, is accepted again."""
    bird = lab("bird2", prefix4="10.20.1.0/24", prefix6="2001:db8:201::/48", **IBGP)
    frr = lab("frr", prefix4="10.20.2.0/24", prefix6="2001:db8:202::/48", **IBGP)
    assert isinstance(bird, Bird2)
    speaker, rec = await speakers(reflector_config([bird.link.our4, frr.link.our4], [client_range("10.77.0.0/16")]))
    own_nh4, own_nh6 = "10.77.0.1", "fd00:77::1"  # on no link: the clients reach them via their lab routes
    speaker.originate(OUR_V4, next_hop=own_nh4)
    speaker.originate(OUR_V6, next_hop=own_nh6)

    for d in (bird, frr):
        await wait_up(rec, d.link.their4)
        runner = speaker.peers[d.link.their4]
        assert runner.dynamic and runner.link is not None and runner.link.incoming, runner
        assert speaker.router.peer(d.link.their4) is not None
    # no outgoing connection was ever tried
    assert not [e for _, e, _ in rec.events if isinstance(e, ft.StateChanged) and e.new is ft.State.CONNECT]

    for d, other in ((bird, frr), (frr, bird)):
        for afi, text, nh in ((1, OUR_V4, own_nh4), (2, OUR_V6, own_nh6)):
            view = await daemon_shows_route(d, afi, text, f"{d.kind} (pyspeaker's own)", ROUTE_TIMEOUT)
            assert view.next_hop == nh and not view.originator_id and not view.cluster_list, view.raw
        for afi, text in ((1, other.opts.prefix4), (2, other.opts.prefix6)):
            view = await daemon_shows_route(d, afi, text, f"{d.kind} (from {other.kind})", ROUTE_TIMEOUT)
            assert_reflected(view, other, afi, d.kind)

    # BIRD shuts its session down (Cease): forgotten, its routes gone from FRR
    mark = len(rec.events)
    await bird.cli("disable", "p1")
    down = await rec.wait_for(is_down, 10, "SessionDown with BIRD", since=mark, address=bird.link.their4)
    assert isinstance(down, ft.SessionDown) and down.received is not None and down.received.code == 6, down
    await wait_forgotten(speaker, bird.link.their4, "BIRD")
    await daemon_lost_route(frr, 1, bird.opts.prefix4, "FRR (BIRD's, after BIRD's shutdown)", ROUTE_TIMEOUT)
    await daemon_lost_route(frr, 2, bird.opts.prefix6, "FRR (BIRD's, after BIRD's shutdown)", ROUTE_TIMEOUT)

    # BIRD comes back: accepted again as a new dynamic neighbor
    mark = len(rec.events)
    await bird.cli("enable", "p1")
    await wait_up(rec, bird.link.their4, since=mark)
    assert speaker.peers[bird.link.their4].dynamic
    view = await daemon_shows_route(frr, 1, bird.opts.prefix4, "FRR (BIRD's, after it came back)", ROUTE_TIMEOUT)
    assert_reflected(view, bird, 1, "frr")

    # FRR dies: forgotten too, its routes gone from BIRD
    assert frr.main is not None
    frr.main.kill()
    await wait_forgotten(speaker, frr.link.their4, "FRR (killed)")
    await daemon_lost_route(bird, 1, frr.opts.prefix4, "BIRD (FRR's, after FRR died)", ROUTE_TIMEOUT)
    await daemon_lost_route(bird, 2, frr.opts.prefix6, "BIRD (FRR's, after FRR died)", ROUTE_TIMEOUT)
    assert set(speaker.peers) == {bird.link.their4}
    assert [st.address for st in speaker.router.peers.values()] == [bird.link.their4]


# -- 3. malformed UPDATEs from a raw peer, seen downstream --------------------------------------------
RAW_LOCAL = "127.0.0.2"  # the raw peer connects from here to pyspeaker on 127.0.0.1 (loopback)
RAW_LOCAL_DUAL = "127.0.0.3"  # the IPv4 + IPv6 raw peer of test 4
RAW_ID = "10.77.99.9"
RAW_PREFIX = "10.66.0.0/24"
RAW_NH = "10.77.250.1"  # resolves at every client through its lab route
RAW_AGGREGATOR = (65001, "10.77.99.9")


def raw_attrs(
    *,
    origin: int = 0,
    next_hop: str | None = RAW_NH,
    aggregator: bytes | None = None,
    community: int = (65001 << 16) | 7,
    originator_id: str | None = None,
    cluster_list: tuple[str, ...] = (),
) -> bytes:
    """An iBGP attribute block written out attribute by attribute, so any of them can be
    made malformed: ORIGIN, empty AS_PATH, [NEXT_HOP], LOCAL_PREF, [AGGREGATOR], COMMUNITIES,
    [ORIGINATOR_ID], [CLUSTER_LIST]. No NEXT_HOP for MP_REACH_NLRI announcements."""
    t, o = c.FLAG_TRANSITIVE, c.FLAG_OPTIONAL
    block = attribute(t, c.ORIGIN, bytes((origin,))) + attribute(t, c.AS_PATH, b"")
    if next_hop is not None:
        block += attribute(t, c.NEXT_HOP, ipaddress.IPv4Address(next_hop).packed)
    block += attribute(t, c.LOCAL_PREF, (100).to_bytes(4, "big"))
    if aggregator is not None:
        block += attribute(o | t, c.AGGREGATOR, aggregator)
    block += attribute(o | t, c.COMMUNITIES, community.to_bytes(4, "big"))
    if originator_id is not None:
        block += attribute(o, c.ORIGINATOR_ID, ipaddress.IPv4Address(originator_id).packed)
    if cluster_list:
        block += attribute(o, c.CLUSTER_LIST, b"".join(ipaddress.IPv4Address(x).packed for x in cluster_list))
    return block


def good_aggregator() -> bytes:
    asn, address = RAW_AGGREGATOR
    return asn.to_bytes(4, "big") + ipaddress.IPv4Address(address).packed


class RawPeer:
    """A minimal iBGP speaker over asyncio streams: OPEN, KEEPALIVE every 3 s, UPDATEs as
    given; records every message pyspeaker sends it (decoded) and the end of the connection."""

    def __init__(self, local: str, remote: str, router_id: str, families: tuple[Family, ...] = (IPV4_UNICAST,)) -> None:
        self.local, self.remote, self.router_id, self.families = local, remote, router_id, families
        self.received: list[Message] = []
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.writer: asyncio.StreamWriter | None = None

    async def establish(self, timeout: float) -> Open:
        reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.remote, 179, local_addr=(self.local, 0)), timeout
        )
        caps = [*map(multiprotocol, self.families), route_refresh(), four_octet_as(LOCAL_AS)]
        self.send(Open.build(LOCAL_AS, HOLD, self.router_id, caps).encode())
        self.tasks.append(asyncio.create_task(self._read(reader)))
        theirs = await self.wait_for(lambda m: isinstance(m, Open), timeout, "pyspeaker's OPEN")
        assert isinstance(theirs, Open)
        self.send(Keepalive().encode())
        await self.wait_for(lambda m: isinstance(m, Keepalive), timeout, "pyspeaker's KEEPALIVE")
        self.tasks.append(asyncio.create_task(self._keepalives()))
        return theirs

    def send(self, data: bytes) -> None:
        assert self.writer is not None and not self.closed.is_set(), "the raw peer's connection is closed"
        self.writer.write(data)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer, decoder = Framer(), Decoder(Context(asn4=True, ibgp=True, peer_as=LOCAL_AS))
        try:
            while data := await reader.read(65536):
                for msg_type, msg in framer.feed(data):
                    self.received.append(decoder.decode_one(msg_type, msg))
                    self.changed.set()
        finally:
            self.closed.set()
            self.changed.set()

    async def _keepalives(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(KEEPALIVE)  # the raw peer's own keepalive timer
            if not self.closed.is_set():
                self.send(Keepalive().encode())

    async def wait_for(self, pred: Callable[[Message], bool], timeout: float, what: str, since: int = 0) -> Message:
        async def scan() -> Message:
            seen = since
            while True:
                for msg in self.received[seen:]:
                    if pred(msg):
                        return msg
                seen = len(self.received)
                if self.closed.is_set():
                    raise AssertionError(f"{what}: the connection closed first; received: {self.received!r}")
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"{what}: not seen within {timeout} s; received: {self.received!r}") from None

    def notifications(self) -> list[Notification]:
        return [m for m in self.received if isinstance(m, Notification)]

    def announced(self) -> dict[str, Update]:
        """The last UPDATE that announced each IPv4/IPv6 prefix (minus later withdrawals)."""
        routes: dict[str, Update] = {}
        for m in self.received:
            if isinstance(m, Update):
                for fam, ps in m.withdrawals().items():
                    for p in ps:
                        routes.pop(prefix.to_text(p, 4 if fam == IPV4_UNICAST else 16), None)
                for fam, ps in m.announced().items():
                    for p in ps:
                        routes[prefix.to_text(p, 4 if fam == IPV4_UNICAST else 16)] = m
        return routes

    def families_received(self) -> set[Family]:
        out: set[Family] = set()
        for m in self.received:
            if isinstance(m, Update):
                out |= set(m.announced()) | set(m.withdrawals())
        return out

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
async def raw_peer() -> AsyncIterator[RawPeer]:
    """An IPv4-only raw peer on 127.0.0.2, closed at teardown."""
    peer = RawPeer(RAW_LOCAL, "127.0.0.1", RAW_ID)
    yield peer
    await peer.close()


@pytest.fixture
async def raw_peer_dual() -> AsyncIterator[RawPeer]:
    """A raw peer on 127.0.0.3 offering IPv4 and IPv6 unicast, closed at teardown."""
    peer = RawPeer(RAW_LOCAL_DUAL, "127.0.0.1", RAW_ID, (IPV4_UNICAST, IPV6_UNICAST))
    yield peer
    await peer.close()


async def downstream_of_raw_peer(
    lab: DaemonFactory, speakers: SpeakerFactory
) -> tuple[Daemon, Daemon, Speaker, Recorder]:
    """BIRD 2 and FRR as configured clients (originating 10.20.{1,2}.0/24 and
    2001:db8:20{1,2}::/48), and pyspeaker also listening on 127.0.0.1 with a listen range
    127.0.0.0/24 offering both families, for the raw peers."""
    bird = lab("bird2", prefix4="10.20.1.0/24", prefix6="2001:db8:201::/48", **IBGP)
    frr = lab("frr", prefix4="10.20.2.0/24", prefix6="2001:db8:202::/48", **IBGP)
    listen, blocks = ["127.0.0.1"], [client_range("127.0.0.0/24", DUAL)]
    for d in (bird, frr):
        addrs, bl = client_blocks(d)
        listen += addrs
        blocks += bl
    speaker, rec = await speakers(reflector_config(listen, blocks))
    for d in (bird, frr):
        await wait_up(rec, d.link.their4)
    return bird, frr, speaker, rec


async def test_malformed_updates_from_a_raw_peer(
    lab: DaemonFactory, speakers: SpeakerFactory, raw_peer: RawPeer
) -> None:
    """The raw peer (admitted by a listen range on loopback that offers both families; it
    offers IPv4 only) gets BIRD's and FRR's IPv4 routes reflected, and nothing of IPv6. It
    announces 10.66.0.0/24 with an AGGREGATOR: BIRD and FRR show it. Then ORIGIN 7 (RFC 7606
    7.1: treat-as-withdraw): gone from both, the session stays up. Then an AGGREGATOR of 5
    octets (RFC 7606 7.7: attribute discard): both show the route again, without AGGREGATOR.
    pyspeaker never sends the raw peer's route back to it, nor a NOTIFICATION. When the raw
    peer hangs up, it is forgotten and its route withdrawn downstream."""
    bird, frr, speaker, rec = await downstream_of_raw_peer(lab, speakers)
    downstream = (bird, frr)
    their_open = await raw_peer.establish(10)
    assert their_open.asn == LOCAL_AS and str(their_open.bgp_id) == RR_ROUTER_ID, their_open
    up = await wait_up(rec, RAW_LOCAL)
    assert up.negotiated.families == frozenset({IPV4_UNICAST}), up  # the range has both, the raw peer IPv4
    assert speaker.peers[RAW_LOCAL].dynamic

    # the clients' IPv4 routes reach the raw peer as reflected routes; no IPv6 at all
    for d in downstream:
        text = d.opts.prefix4

        async def has(text: str = text) -> tuple[bool, object]:
            return text in raw_peer.announced(), list(raw_peer.announced())

        await poll(has, f"the raw peer got {text} ({d.kind}'s)", ROUTE_TIMEOUT)
        attrs = raw_peer.announced()[text].attrs
        assert attrs is not None
        assert str(attrs.originator_id) == d.link.their4, attrs
        assert [str(x) for x in attrs.cluster_list] == [RR_CLUSTER_ID], attrs
        assert str(attrs.next_hop) == d.link.their4, attrs
    assert raw_peer.families_received() <= {IPV4_UNICAST}, raw_peer.received

    def raw_update(block: bytes) -> bytes:
        (msg,) = pack.announce_ipv4(block, [prefix.parse(RAW_PREFIX)])
        return msg

    def sessions_intact() -> None:
        assert not raw_peer.notifications(), raw_peer.notifications()
        assert not raw_peer.closed.is_set(), "pyspeaker closed the raw peer's connection"
        assert not [e for a, e, _ in rec.events if is_down(e)], rec.timeline()

    # a well-formed announcement: both clients show it, with the AGGREGATOR
    raw_peer.send(raw_update(raw_attrs(aggregator=good_aggregator())))
    for d in downstream:
        view = await daemon_shows_route(d, 1, RAW_PREFIX, f"{d.kind} (the raw peer's)", ROUTE_TIMEOUT)
        assert view.aggregator == f"{RAW_AGGREGATOR[0]} {RAW_AGGREGATOR[1]}", view.raw
        assert view.originator_id == RAW_ID and view.cluster_list == [RR_CLUSTER_ID], view.raw
        assert view.next_hop == RAW_NH and "65001:7" in view.communities, view.raw

    # ORIGIN 7: treat-as-withdraw
    raw_peer.send(raw_update(raw_attrs(origin=7, aggregator=good_aggregator())))
    for d in downstream:
        await daemon_lost_route(d, 1, RAW_PREFIX, f"{d.kind} (after ORIGIN 7)", ROUTE_TIMEOUT)
    assert loc_best(speaker, RAW_PREFIX) is None
    sessions_intact()

    # AGGREGATOR of 5 octets: attribute discard, the route is back without it
    raw_peer.send(raw_update(raw_attrs(aggregator=good_aggregator()[:5], community=(65001 << 16) | 8)))
    for d in downstream:
        view = await daemon_shows_route(d, 1, RAW_PREFIX, f"{d.kind} (bad AGGREGATOR)", ROUTE_TIMEOUT)
        assert not view.aggregator, view.raw
        assert "65001:8" in view.communities and view.originator_id == RAW_ID, view.raw
    best = loc_best(speaker, RAW_PREFIX)
    assert best is not None and best.attrs.aggregator is None and community_texts(best.attrs) == {"65001:8"}, best

    # still up: pyspeaker's next KEEPALIVE arrives, and nothing else went wrong
    mark = len(raw_peer.received)
    await raw_peer.wait_for(lambda m: isinstance(m, Keepalive), KEEPALIVE + 2, "a KEEPALIVE after the errors", mark)
    sessions_intact()
    assert RAW_PREFIX not in raw_peer.announced(), "pyspeaker sent the raw peer's route back to it"
    assert not [m for m in raw_peer.received if isinstance(m, Update) and RAW_PREFIX in repr(m)], raw_peer.received

    # the raw peer hangs up (no NOTIFICATION): forgotten, its route gone downstream
    await raw_peer.close()
    await wait_forgotten(speaker, RAW_LOCAL, "the raw peer")
    for d in downstream:
        await daemon_lost_route(d, 1, RAW_PREFIX, f"{d.kind} (after the raw peer left)", ROUTE_TIMEOUT)


# -- 4. RFC 4456 attributes and loops, and the IPv6 next hop, from a raw peer -------------------------
async def test_reflection_rules_from_a_raw_peer(
    lab: DaemonFactory, speakers: SpeakerFactory, raw_peer_dual: RawPeer
) -> None:
    """A raw client (IPv4 + IPv6) sends what no daemon client would: a route that already has
    ORIGINATOR_ID and CLUSTER_LIST keeps the ORIGINATOR_ID and gets our cluster id in front
    (RFC 4456 8); routes with our cluster id in CLUSTER_LIST or our router id as
    ORIGINATOR_ID are ignored; an IPv6 route with a 32-octet next hop (global + link-local)
    reaches BIRD and FRR with the global address only; ORIGIN 9 in an UPDATE that carries
    MP_REACH_NLRI withdraws that IPv6 route (RFC 7606 2 and 7.1). The session stays up."""
    bird, frr, speaker, rec = await downstream_of_raw_peer(lab, speakers)
    raw = raw_peer_dual
    await raw.establish(10)
    up = await wait_up(rec, raw.local)
    assert up.negotiated.families == frozenset({IPV4_UNICAST, IPV6_UNICAST}), up

    def v4(text: str, block: bytes) -> None:
        (msg,) = pack.announce_ipv4(block, [prefix.parse(text)])
        raw.send(msg)

    def v6(text: str, next_hop: bytes, block: bytes) -> None:
        (msg,) = pack.announce_mp(IPV6_UNICAST, next_hop, block, [prefix.parse(text)])
        raw.send(msg)

    kept, cluster_loop, originator_loop, marker = "10.66.1.0/24", "10.66.2.0/24", "10.66.3.0/24", "10.66.4.0/24"
    v4(kept, raw_attrs(originator_id="10.9.9.9", cluster_list=("10.1.1.1",)))
    v4(cluster_loop, raw_attrs(cluster_list=("10.1.1.1", RR_CLUSTER_ID)))
    v4(originator_loop, raw_attrs(originator_id=RR_ROUTER_ID))
    v4(marker, raw_attrs())
    global6, link_local = ipaddress.IPv6Address("fd00:77::99"), ipaddress.IPv6Address("fe80::99")
    single, double = "2001:db8:66::/48", "2001:db8:67::/48"
    v6(single, global6.packed, raw_attrs(next_hop=None))
    v6(double, global6.packed + link_local.packed, raw_attrs(next_hop=None))

    for d in (bird, frr):
        view = await daemon_shows_route(d, 1, kept, f"{d.kind} (ORIGINATOR_ID and CLUSTER_LIST given)", ROUTE_TIMEOUT)
        assert view.originator_id == "10.9.9.9" and view.cluster_list == [RR_CLUSTER_ID, "10.1.1.1"], view.raw
        await daemon_shows_route(d, 1, marker, f"{d.kind} (the route sent after the loops)", ROUTE_TIMEOUT)
        for text in (cluster_loop, originator_loop):
            view_or_none, raw_text = await d.rib_route(1, text)
            assert view_or_none is None, f"{d.kind} got {text}, which pyspeaker must ignore:\n{raw_text}"
        for text in (single, double):
            view = await daemon_shows_route(d, 2, text, f"{d.kind} (IPv6 from the raw peer)", ROUTE_TIMEOUT)
            assert view.next_hop == str(global6), view.raw
            assert view.originator_id == RAW_ID and view.cluster_list == [RR_CLUSTER_ID], view.raw
    for text in (cluster_loop, originator_loop):
        assert loc_best(speaker, text) is None, loc_best(speaker, text)

    # ORIGIN 9 with MP_REACH_NLRI: the IPv6 route is withdrawn
    v6(double, global6.packed + link_local.packed, raw_attrs(next_hop=None, origin=9))
    for d in (bird, frr):
        await daemon_lost_route(d, 2, double, f"{d.kind} (after ORIGIN 9 in MP_REACH_NLRI)", ROUTE_TIMEOUT)
        view_or_none, raw_text = await d.rib_route(2, single)
        assert view_or_none is not None, f"{d.kind} lost {single} too:\n{raw_text}"
    assert not raw.notifications() and not raw.closed.is_set(), raw.received
    assert not [e for _, e, _ in rec.events if is_down(e)], rec.timeline()
