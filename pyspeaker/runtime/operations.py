"""What an operator asks of a running speaker, as plain values: one neighbor in detail,
resetting / shutting down / enabling a neighbor, the RIBs, routes of our own, and the
route-change events. :class:`~pyspeaker.runtime.speaker.Speaker` has a thin method for each
(the same names as the ``pyspeaker`` CLI verbs); the control API (``pyspeaker.api``) calls
those.

Everything returned is made of ``str``, ``int``, ``float``, ``bool``, ``None``, lists and
dicts with string keys, so it goes as it is into JSON or msgpack."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..fsm import types as ft
from ..rib.bestpath import best_with_reason
from ..rib.path import Kind, Path, Source
from ..router import PeerState
from ..wire import Context
from ..wire.attrs import AttrSet, build, parse_block
from ..wire.constants import ORIGIN_EGP, ORIGIN_IGP, ORIGIN_INCOMPLETE
from ..wire.family import CODECS, IPV4_UNICAST, IPV6_UNICAST, Family
from ..wire.notification import CEASE_ADMIN_RESET, Notification
from ..wire.open import Capability
from ..wire.prefix import from_network, to_text
from ..wire.values import AsPath, community_text, large_community_text, parse_community, parse_large_community
from .stats import LastNotification

if TYPE_CHECKING:
    from ..export.groups import Bucket
    from .peer import PeerRunner
    from .speaker import Speaker

ORIGINS = {"igp": ORIGIN_IGP, "egp": ORIGIN_EGP, "incomplete": ORIGIN_INCOMPLETE}
ORIGIN_TEXT = {v: k for k, v in ORIGINS.items()}
DIRECTIONS = ("loc", "in", "out")
_TIMER_NAMES = {
    ft.Timer.CONNECT_RETRY: "connect_retry",
    ft.Timer.HOLD: "hold",
    ft.Timer.KEEPALIVE: "keepalive",
    ft.Timer.DELAY_OPEN: "delay_open",
    ft.Timer.IDLE_HOLD: "idle_hold",
}


# -- neighbors ------------------------------------------------------------------------------
def canonical(address: str) -> str:
    """The address as the speaker keys its neighbors (``2001:DB8::1`` -> ``2001:db8::1``);
    ValueError naming the text if it is not an address."""
    try:
        return str(ipaddress.ip_address(str(address).strip()))
    except ValueError:
        raise ValueError(f"not an IP address: {address!r}") from None


def runner_of(sp: Speaker, address: str) -> PeerRunner:
    """The neighbor's runner; KeyError with a clear message if there is none."""
    addr = canonical(address)
    runner = sp.peers.get(addr)
    if runner is None:
        known = ", ".join(sorted(sp.peers)) or "none"
        raise KeyError(f"unknown neighbor {addr} (neighbors: {known})")
    return runner


def _capabilities(caps: Iterable[Capability]) -> list[dict[str, Any]]:
    return [{"code": c.code, "name": c.name, "raw": c.raw.hex(), "decoded": c.describe()} for c in caps]


def _notification(last: LastNotification | None) -> dict[str, Any] | None:
    if last is None:
        return None
    return {"code": last.code, "subcode": last.subcode, "data": last.data.hex(), "text": last.text, "time": last.time}


def neighbor_details(sp: Speaker, address: str) -> dict[str, Any]:
    """What :meth:`Speaker.neighbor` adds to the session and prefix counts: uptime, the
    capabilities sent and received (byte-exact and decoded), negotiated timers and what is
    left of them, message counters, the last NOTIFICATION each way decoded, the last error,
    and the configuration (description, policies, route reflector client, listen range)."""
    runner = sp.peers.get(address)
    n = sp.neighbor_config.get(address)
    out: dict[str, Any] = {}
    if n is not None:
        out["description"] = n.description
        out["import_policy"] = n.import_policy.name if n.import_policy is not None else None
        out["export_policy"] = n.export_policy.name if n.export_policy is not None else None
        out["rr_client"] = n.rr_client
        out["passive"] = n.passive
        out["port"] = n.port
    listen_range = sp.config.listen_range(address) if runner is not None and runner.dynamic else None
    out["listen_range"] = str(listen_range.network) if listen_range is not None else None
    if runner is None:
        return out
    now = runner.now()
    session = runner.session
    neg = session.negotiated
    stats = runner.stats
    up = runner.state is ft.State.ESTABLISHED and stats.established_at is not None
    out["admin_state"] = "up" if runner.running else "down"
    out["uptime"] = round(time.time() - stats.established_at, 3) if up and stats.established_at else None
    out["established_at"] = stats.established_at
    out["established_count"] = stats.established_count
    out["local_as"] = runner.settings.local_as
    out["router_id"] = neg.peer_id if neg is not None else session.peer_id
    link = runner.link
    t = link.transport if link is not None else None
    local = t.get_extra_info("sockname") if t is not None else None
    remote = t.get_extra_info("peername") if t is not None else None
    out["local"] = f"{local[0]} port {local[1]}" if local else None
    out["remote"] = f"{remote[0]} port {remote[1]}" if remote else None
    peer_open = neg.peer_open if neg is not None else session.peer_open
    out["capabilities"] = {
        "sent": _capabilities(session.local_open.capabilities),
        "received": _capabilities(peer_open.capabilities) if peer_open is not None else None,
    }
    timers: dict[str, Any] = {
        "hold_time": neg.hold_time if neg is not None else None,
        "keepalive_time": neg.keepalive_time if neg is not None else None,
        "configured_hold_time": runner.settings.hold_time,
        "configured_keepalive_time": runner.settings.keepalive,
    }
    timers["remaining"] = {
        _TIMER_NAMES[timer]: round(max(0.0, deadline - now), 3) for timer, deadline in session.timers().items()
    }
    out["timers"] = timers
    out["messages"] = {"received": stats.messages_in, "sent": stats.messages_out}
    out["notifications"] = {
        "received": {_code_key(k): v for k, v in sorted(stats.notifications_in.items())},
        "sent": {_code_key(k): v for k, v in sorted(stats.notifications_out.items())},
        "last_received": _notification(stats.last_notification_in),
        "last_sent": _notification(stats.last_notification_out),
    }
    out["last_error_time"] = stats.last_error_time
    if stats.last_error is not None:
        out["last_error"] = stats.last_error
    return out


def _code_key(key: tuple[int, int]) -> str:
    return f"{key[0]}/{key[1]}"


def neighbor_reset(sp: Speaker, address: str, message: str = "") -> dict[str, Any]:
    """Cease/Administrative Reset with the RFC 9003 text; the session starts again at once
    (a passive neighbor waits for the peer to connect)."""
    runner = runner_of(sp, address)
    runner.reset(Notification.shutdown(message, CEASE_ADMIN_RESET))
    return {"address": runner.address, "state": runner.state.value}


def neighbor_shutdown(sp: Speaker, address: str, message: str = "") -> dict[str, Any]:
    """Cease/Administrative Shutdown with the RFC 9003 text; the neighbor stays down (no
    connection made or taken) until :func:`neighbor_enable`. A neighbor from a listen range
    is forgotten as its session ends, and its address refused until enabled."""
    runner = runner_of(sp, address)
    if runner.dynamic:
        sp.admin_down.add(runner.address)
    runner.stop(Notification.shutdown(message))
    return {"address": runner.address, "state": runner.state.value}


def neighbor_enable(sp: Speaker, address: str) -> dict[str, Any]:
    """Start a neighbor that was shut down (or configured with ``enabled = false``); a
    listen-range peer that was shut down may connect again."""
    addr = canonical(address)
    if addr in sp.admin_down:
        sp.admin_down.discard(addr)
        runner = sp.peers.get(addr)
        if runner is None or not runner.dynamic:
            return {"address": addr, "state": "Idle" if runner is None else runner.state.value}
    runner = runner_of(sp, addr)
    runner.enable()
    return {"address": runner.address, "state": runner.state.value}


# -- routes as plain values -----------------------------------------------------------------
def family_of(name: str | Family) -> Family:
    if isinstance(name, Family):
        return name
    fam = Family.from_name(str(name))
    if fam not in CODECS:
        raise ValueError(f"address family {name!r} is not supported here")
    return fam


def _next_hop(attrs: AttrSet, nh: bytes) -> str | None:
    if len(nh) == 4 or len(nh) == 16:
        return str(ipaddress.ip_address(nh))
    if len(nh) == 32:  # global and link-local (RFC 2545)
        return f"{ipaddress.IPv6Address(nh[:16])} ({ipaddress.IPv6Address(nh[16:])})"
    v4 = attrs.next_hop
    return str(v4) if v4 is not None else None


def route_values(fam: Family, prefix: bytes, attrs: AttrSet, nh: bytes, source: Source | None) -> dict[str, Any]:
    """One route: prefix, next hop, attributes and where it came from."""
    out: dict[str, Any] = {"prefix": to_text(prefix, CODECS[fam].address_len)}
    out.update(_attr_values(fam, attrs, nh, source))
    return out


def _attr_values(fam: Family, attrs: AttrSet, nh: bytes, source: Source | None) -> dict[str, Any]:
    """Everything of a route but its prefix (the same for every prefix of a Path)."""
    originator = attrs.originator_id
    return {
        "family": fam.name,
        "next_hop": _next_hop(attrs, nh),
        "as_path": str(attrs.as_path),
        "origin": ORIGIN_TEXT.get(attrs.origin, attrs.origin) if attrs.origin is not None else None,
        "med": attrs.med,
        "local_pref": attrs.local_pref,
        "communities": [community_text(v) for v in attrs.communities],
        "large_communities": [large_community_text(v) for v in attrs.large_communities],
        "originator_id": str(originator) if originator is not None else None,
        "cluster_list": [str(v) for v in attrs.cluster_list],
        "from": (source.address or "local") if source is not None else None,
        "from_as": source.asn if source is not None and source.kind is not Kind.LOCAL else None,
    }


def path_values(
    fam: Family, prefix: bytes, path: Path, cache: dict[Path, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One route of the RIB. ``cache`` (path -> values, kept by the caller for one listing)
    makes a table of many prefixes per Path cost one dict copy each. It holds the paths
    themselves, not their ids: a listing gives the event loop turns, and a path freed meanwhile
    must not lend its id, and so its values, to a new one."""
    base = cache.get(path) if cache is not None else None
    if base is None:
        base = _attr_values(fam, path.attrs, path.nh, path.source)
        base["llgr_stale"] = path.llgr
        if cache is not None:
            cache[path] = base
    out: dict[str, Any] = {"prefix": to_text(prefix, CODECS[fam].address_len)}
    out.update(base)
    return out


class _Stale:
    """Which paths are kept stale (graceful restart): per source, the stale table of a family."""

    def __init__(self, sp: Speaker, fam: Family) -> None:
        states: list[PeerState] = [*sp.router.peers.values(), *sp.router.retained.values()]
        self.by_source = {id(st.source): st.stale[fam] for st in states if st.stale.get(fam)}

    def __call__(self, prefix: bytes, path: Path) -> bool:
        table = self.by_source.get(id(path.source))
        return table is not None and table.get(prefix) is path


def _lookup(keys: dict[bytes, Any], fam: Family, text: str) -> list[bytes]:
    """The key for an exact prefix, or the longest prefix holding an address; [] if none."""
    bits = CODECS[fam].max_bits
    text = text.strip()
    if "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"not a prefix or address: {text!r}") from None
        if net.max_prefixlen != bits:
            raise ValueError(f"{text} is not a {fam.name} prefix")
        key = from_network(net)
        return [key] if key in keys else []
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"not a prefix or address: {text!r}") from None
    if addr.max_prefixlen != bits:
        raise ValueError(f"{text} is not a {fam.name} address")
    for length in range(bits, -1, -1):
        key = from_network(ipaddress.ip_network((addr, length), strict=False))
        if key in keys:
            return [key]
    return []


def rib(
    sp: Speaker,
    prefix: str | None = None,
    family: str | Family = IPV4_UNICAST,
    neighbor: str | None = None,
    direction: str = "loc",
) -> list[dict[str, Any]]:
    """Routes as plain values. ``loc``: every candidate of the Loc-RIB, the best marked with
    the step of the decision that chose it (with ``neighbor``, only that neighbor's);
    ``in``: a neighbor's Adj-RIB-In (the routes its import policy accepted, stale ones
    included); ``out``: what the neighbor's update group holds for it (its Adj-RIB-Out).
    ``prefix`` is an exact prefix or an address (longest match)."""
    return list(iter_rib(sp, prefix, family, neighbor, direction))


def iter_rib(
    sp: Speaker,
    prefix: str | None = None,
    family: str | Family = IPV4_UNICAST,
    neighbor: str | None = None,
    direction: str = "loc",
) -> Iterator[dict[str, Any]]:
    """:func:`rib` one route at a time: the arguments are checked at once (errors raise
    before the first route), and a caller may give the event loop a turn between routes (a
    route removed meanwhile is left out)."""
    fam = family_of(family)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r}: one of loc, in, out")
    if direction != "loc" and neighbor is None:
        raise ValueError(f"the {direction} direction needs a neighbor")
    if prefix is not None:
        _lookup({}, fam, prefix)  # a bad prefix is an error even where there are no routes
    st: PeerState | None = None
    if neighbor is not None:
        addr = canonical(neighbor)
        if addr not in sp.peers and addr not in sp.router.retained:
            runner_of(sp, addr)  # raises the clear KeyError
        st = sp.router.peer(addr) or sp.router.retained.get(addr)
    if direction == "out":
        return _adj_out(sp, fam, st, prefix)
    if direction == "in":
        return _adj_in(sp, fam, st, prefix)
    return _loc(sp, fam, st, prefix)


def _adj_in(sp: Speaker, fam: Family, st: PeerState | None, prefix: str | None) -> Iterator[dict[str, Any]]:
    if st is None:
        return
    loc = sp.router.locs.get(fam)
    stale = _Stale(sp, fam)
    table: dict[bytes, Path] = dict(st.stale.get(fam, {}))
    table.update(st.adj_in.get(fam, {}))
    keys = _lookup(table, fam, prefix) if prefix is not None else sorted(table, key=_order)
    cache: dict[Path, dict[str, Any]] = {}
    for key in keys:
        path = table[key]
        v = path_values(fam, key, path, cache)
        v["best"] = loc is not None and loc.best(key) is path
        v["stale"] = stale(key, path)
        yield v


def _loc(sp: Speaker, fam: Family, st: PeerState | None, prefix: str | None) -> Iterator[dict[str, Any]]:
    loc = sp.router.locs.get(fam)
    if loc is None:
        return
    stale = _Stale(sp, fam)
    keys = _lookup(loc.routes, fam, prefix) if prefix is not None else sorted(loc.routes, key=_order)
    paths: dict[Path, dict[str, Any]] = {}
    for key in keys:
        cands = loc.candidates(key)
        reason = best_with_reason(cands, loc.always_compare_med)[1] if cands else ""
        for i, path in enumerate(cands):
            if st is not None and path.source is not st.source:
                continue
            v = path_values(fam, key, path, paths)
            v["best"] = i == 0
            v["reason"] = reason if i == 0 else None
            v["stale"] = stale(key, path)
            yield v


def _order(prefix: bytes) -> tuple[bytes, int]:
    """Network order, shorter prefixes first."""
    n = prefix[0]
    return prefix[1:].ljust(16, b"\0"), n


def _adj_out(sp: Speaker, fam: Family, st: PeerState | None, prefix: str | None) -> Iterator[dict[str, Any]]:
    if st is None or fam not in st.members:
        return
    member = st.members[fam]
    group = member.group
    where = group.where
    keys = _lookup(where, fam, prefix) if prefix is not None else sorted(where, key=_order)
    ctx = Context(asn4=group.view.asn4)
    alen = CODECS[fam].address_len
    decoded: dict[Bucket, dict[str, Any]] = {}  # by the bucket itself (see path_values)
    for key in keys:
        b = where.get(key)
        if b is None or b.source is st.source:
            continue  # never sent back to the peer it came from
        base = decoded.get(b)
        if base is None:
            attrs = parse_block(b.out.attrs, ctx).attrs if not group.view.asn4 else AttrSet(b.out.attrs)
            base = decoded[b] = _attr_values(fam, attrs, b.out.nh, b.source)
        v: dict[str, Any] = {"prefix": to_text(key, alen)}
        v.update(base)
        v["pending"] = key in member.dirty or member.dump is not None
        yield v


# -- routes of our own ----------------------------------------------------------------------
def _ints(values: Iterable[Any], parse: Any, what: str) -> list[Any]:
    if isinstance(values, (str, int)):
        values = [values]
    out = []
    for v in values:
        if isinstance(v, str):
            out.append(parse(v))
        elif isinstance(v, int) and what == "community" and 0 <= v <= 0xFFFFFFFF:
            out.append(v)
        elif isinstance(v, (list, tuple)) and what == "large community" and len(v) == 3:
            out.append(parse_large_community(":".join(str(int(x)) for x in v)))
        else:
            raise ValueError(f"not a {what}: {v!r}")
    return out


def route_add(
    sp: Speaker,
    prefix: str,
    next_hop: str | None = None,
    *,
    communities: Iterable[str | int] = (),
    large_communities: Iterable[str | tuple[int, int, int]] = (),
    med: int | None = None,
    local_pref: int | None = None,
    as_path: Iterable[int] = (),
    origin: str = "igp",
) -> dict[str, Any]:
    """Announce a route of our own (replacing one for the same prefix): communities as
    ``"65000:1"`` (or well-known names such as ``"no-export"``), large ones as ``"A:B:C"``."""
    try:
        net = ipaddress.ip_network(str(prefix).strip(), strict=False)
    except ValueError:
        raise ValueError(f"not a prefix: {prefix!r}") from None
    if origin not in ORIGINS:
        raise ValueError(f"origin {origin!r}: one of igp, egp, incomplete")
    for name, value in (("med", med), ("local_pref", local_pref)):
        if value is not None and (not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF):
            raise ValueError(f"{name} {value!r}: a number from 0 to 4294967295")
    asns = [int(a) for a in as_path]
    if any(not 0 < a <= 0xFFFFFFFF for a in asns):
        raise ValueError(f"as_path {asns}: AS numbers from 1 to 4294967295")
    if next_hop is not None:
        try:
            ipaddress.ip_address(str(next_hop).strip())
        except ValueError:
            raise ValueError(f"not a next hop address: {next_hop!r}") from None
        next_hop = str(next_hop).strip()
    attrs = build(
        origin=ORIGINS[origin],
        as_path=AsPath.sequence(*asns),
        med=med,
        local_pref=local_pref,
        communities=_ints(communities, parse_community, "community"),
        large_communities=_ints(large_communities, parse_large_community, "large community"),
    )
    try:
        sp.originate(str(net), attrs, next_hop)
    except ValueError as exc:
        raise ValueError(f"route add {net}: {exc}") from None
    fam = IPV4_UNICAST if net.version == 4 else IPV6_UNICAST
    path = sp.router.local_routes[fam][from_network(net)]
    return path_values(fam, from_network(net), path)


def route_del(sp: Speaker, prefix: str) -> dict[str, Any]:
    """Withdraw a route of our own; ValueError if there is none for the prefix."""
    try:
        net = ipaddress.ip_network(str(prefix).strip(), strict=False)
    except ValueError:
        raise ValueError(f"not a prefix: {prefix!r}") from None
    if not sp.withdraw(str(net)):
        raise ValueError(f"route del {net}: no route of this speaker for that prefix")
    return {"prefix": str(net), "withdrawn": True}


def local_routes(sp: Speaker) -> list[dict[str, Any]]:
    out = []
    for fam, routes in sorted(sp.router.local_routes.items()):
        for key in sorted(routes, key=_order):
            out.append(path_values(fam, key, routes[key]))
    return out


# -- status ---------------------------------------------------------------------------------
def status(sp: Speaker) -> dict[str, Any]:
    g = sp.config.global_
    states = [r.state for r in sp.peers.values()]
    return {
        "up": True,
        "asn": g.asn,
        "router_id": str(g.router_id),
        "cluster_id": str(g.cluster_id or g.router_id),
        "listen": [f"{a} port {sp.port}" for a in g.listen],
        "neighbors": len(states),
        "established": sum(s is ft.State.ESTABLISHED for s in states),
        "routes": {fam.name: len(loc) for fam, loc in sorted(sp.router.locs.items())},
        "deferring": sp.router.deferring,
        "admin_down": sorted(sp.admin_down),
        "config": sp.config.source,
    }


# -- route-change events --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RouteChanged:
    """The best path for a prefix changed (``route`` is the new best, as in :func:`rib`)
    or there is none any more (``route`` is None: withdrawn)."""

    family: str
    prefix: str
    route: dict[str, Any] | None

    @property
    def withdrawn(self) -> bool:
        return self.route is None


AnyEvent = ft.Event | RouteChanged


class RouteFeed:
    """Route-change events for the subscribers of :meth:`Speaker.events`: the Router's
    ``on_change`` hook is set only while someone listens, so nobody listening costs one
    ``if`` per family per flush."""

    def __init__(self, sp: Speaker) -> None:
        self.sp = sp
        self.queues: list[asyncio.Queue[tuple[str, AnyEvent]]] = []

    def add(self, q: asyncio.Queue[tuple[str, AnyEvent]]) -> None:
        self.queues.append(q)
        self.sp.router.on_change = self._changed

    def remove(self, q: asyncio.Queue[tuple[str, AnyEvent]]) -> None:
        if q in self.queues:
            self.queues.remove(q)
        if not self.queues:
            self.sp.router.on_change = None

    def _changed(self, fam: Family, prefixes: list[bytes]) -> None:
        loc = self.sp.router.locs.get(fam)
        if loc is None or fam not in CODECS:
            return
        alen = CODECS[fam].address_len
        cache: dict[Path, dict[str, Any]] = {}
        for key in prefixes:
            path = loc.best(key)
            if path is None:
                event = RouteChanged(fam.name, to_text(key, alen), None)
                address = ""
            else:
                route = path_values(fam, key, path, cache)
                route["best"] = True
                event = RouteChanged(fam.name, route["prefix"], route)
                address = path.source.address
            for q in self.queues:
                q.put_nowait((address, event))


def event_values(address: str, event: AnyEvent) -> dict[str, Any]:
    """An event as plain values (the control API's ``subscribe`` stream)."""
    out: dict[str, Any] = {"time": time.time(), "peer": address or None}
    if isinstance(event, RouteChanged):
        out.update(type="withdrawn" if event.route is None else "best", family=event.family, prefix=event.prefix)
        out["route"] = event.route
    elif isinstance(event, ft.StateChanged):
        out.update(type="state", old=event.old.value, new=event.new.value, reason=event.reason)
    elif isinstance(event, ft.SessionUp):
        neg = event.negotiated
        out.update(
            type="up",
            peer_as=neg.peer_as,
            router_id=neg.peer_id,
            hold_time=neg.hold_time,
            families=sorted(f.name for f in neg.families),
        )
    elif isinstance(event, ft.SessionDown):
        out.update(type="down", reason=event.reason, was_established=event.was_established)
        for key, n in (("sent", event.sent), ("received", event.received)):
            if n is not None:
                out[key] = n.to_json()
    elif isinstance(event, ft.UpdateReceived):
        u = event.update
        out.update(
            type="update",
            announced=sum(len(v) for v in u.announced().values()),
            withdrawn=sum(len(v) for v in u.withdrawals().values()),
        )
        if u.end_of_rib is not None:
            out["end_of_rib"] = u.end_of_rib.name
    elif isinstance(event, ft.RouteRefreshReceived):
        out.update(type="route-refresh", family=event.refresh.family.name, subtype=event.refresh.subtype)
    else:
        out["type"] = type(event).__name__
    return out


__all__ = [
    "DIRECTIONS",
    "RouteChanged",
    "RouteFeed",
    "event_values",
    "neighbor_details",
    "neighbor_enable",
    "neighbor_reset",
    "neighbor_shutdown",
    "rib",
    "route_add",
    "route_del",
    "status",
]
