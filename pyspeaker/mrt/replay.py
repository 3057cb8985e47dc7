"""Replaying an MRT file into a BGP session.

:func:`updates` (pure) turns records into UPDATEs for a session with 4-octet AS numbers
and no ADD-PATH: the UPDATEs one peer sent in BGP4MP records (the first peer that sent
one, unless ``peer`` names another), or the routes of a TABLE_DUMP_V2 / TABLE_DUMP file
(one peer's, or the first route of each prefix), grouped by attribute set into full
UPDATEs. Messages recorded on a 2-octet session (BGP4MP_MESSAGE) have their AS_PATH
merged with AS4_PATH into 4-octet form (RFC 6793), ADD-PATH path identifiers are dropped,
and next hops can be rewritten (``next_hop_v4`` / ``next_hop_v6``), the AS path prepended
with our AS (``prepend``, for an eBGP session).

:func:`replay` (asyncio) sends them through an async ``send(bytes)`` at the recorded pace
(``speed=1.0``), a multiple of it, or as fast as the receiver takes them (``speed=None``:
each ``send`` is awaited, which should wait for the transport to drain).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..wire import pack
from ..wire.attrs import AttrSet, parse_block
from ..wire.constants import AS_PATH, MAX_MESSAGE_LEN, NEXT_HOP, UPDATE
from ..wire.context import Context
from ..wire.errors import WireError
from ..wire.family import CODECS, Family
from ..wire.update import UpdateDecoder
from .codec import Bgp4mpMessage, MrtError, PeerIndexTable, Record, RibRecord, TableDumpEntry
from .routes import normalize_flags

Send = Callable[[bytes], Awaitable[None]]


@dataclass
class ReplayStats:
    """What a replay sent (and what it left out of the file)."""

    updates: int = 0
    announced: int = 0
    withdrawn: int = 0
    records: int = 0
    skipped: int = 0  # records of other peers, messages we sent, OPENs, state changes...
    other_families: int = 0  # prefixes of families the session did not negotiate, left out
    peer: str | None = None
    peers_seen: set[str] = field(default_factory=set)
    bytes: int = 0


@dataclass(frozen=True)
class Rewrite:
    """How routes are changed on the way out."""

    next_hop_v4: bytes = b""  # 4 octets: IPv4 routes' next hop; 16: IPv6 routes' next hop
    next_hop_v6: bytes = b""
    prepend: int | None = None  # our AS, put first in every AS_PATH (eBGP)
    max_len: int = MAX_MESSAGE_LEN
    families: frozenset[Family] | None = None  # only these (the session's); None: all

    @property
    def changes(self) -> bool:
        return bool(self.next_hop_v4 or self.next_hop_v6 or self.prepend is not None)


def _with_rewrite(attrs: AttrSet, fam: Family, nh: bytes, rw: Rewrite) -> tuple[bytes, bytes]:
    """The attribute bytes and MP next hop to send for a route."""
    raw = attrs.raw
    if rw.prepend is not None:
        attrs = attrs.replace(as_path=attrs.as_path.prepend(rw.prepend)) if AS_PATH in attrs else attrs
        raw = attrs.raw
    v6 = fam.afi != 1
    if v6 and rw.next_hop_v6:
        nh = rw.next_hop_v6
    elif not v6 and rw.next_hop_v4:
        if nh:  # an IPv4 route with an IPv6 next hop (RFC 8950) goes back to a NEXT_HOP
            nh = b""
        if attrs.next_hop is None or attrs.next_hop.packed != rw.next_hop_v4:
            raw = attrs.replace(next_hop=ipaddress.IPv4Address(rw.next_hop_v4)).raw
    elif not v6 and not nh and NEXT_HOP not in attrs:
        raise MrtError("an IPv4 route without a next hop: give one to rewrite to")
    return raw, nh


class _Grouper:
    """Routes grouped by (family, attributes, next hop) into full UPDATEs, sent when a
    group has a message's worth (so memory stays bounded by the number of attribute sets)."""

    def __init__(self, rw: Rewrite) -> None:
        self.rw = rw
        self.groups: dict[tuple[Family, bytes, bytes], list[bytes]] = {}
        self.sizes: dict[tuple[Family, bytes, bytes], int] = {}

    def add(self, fam: Family, attrs: bytes, nh: bytes, prefix: bytes) -> list[bytes]:
        key = (fam, attrs, nh)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = []
            self.sizes[key] = 0
        group.append(prefix)
        self.sizes[key] += len(prefix)
        if self.sizes[key] + len(attrs) + len(nh) + 64 >= self.rw.max_len:
            del self.groups[key], self.sizes[key]
            return pack.announce(fam, attrs, group, nh, self.rw.max_len)
        return []

    def rest(self) -> list[bytes]:
        out = []
        for (fam, attrs, nh), group in self.groups.items():
            out.extend(pack.announce(fam, attrs, group, nh, self.rw.max_len))
        self.groups.clear()
        self.sizes.clear()
        return out


def _strip_path_id(prefixes: list[bytes], addpath: bool) -> list[bytes]:
    return [p[4:] for p in prefixes] if addpath else prefixes


def _message(rec: Bgp4mpMessage, rw: Rewrite, stats: ReplayStats, counter: UpdateDecoder) -> list[bytes]:
    """One recorded UPDATE for a 4-octet session without ADD-PATH (re-packed if needed)."""
    if rec.asn4 and not rec.addpath and not rw.changes and len(rec.message) <= rw.max_len:
        try:  # sent as recorded, byte for byte, when every family in it may be sent
            u = counter.decode(rec.message)
            wd, ann = u.withdrawals(), u.announced()
            eor = u.end_of_rib
        except (WireError, ValueError, IndexError) as exc:
            raise MrtError(f"UPDATE from {rec.peer_address} at {rec.timestamp}: {exc}") from None
        allowed = rw.families
        if allowed is None or (all(f in allowed for f in (*wd, *ann)) and (eor is None or eor in allowed)):
            stats.withdrawn += sum(map(len, wd.values()))
            stats.announced += sum(map(len, ann.values()))
            return [rec.message]
    addpath = rec.addpath
    fams = frozenset(CODECS) if addpath else frozenset()
    try:
        u = UpdateDecoder(Context(asn4=rec.asn4, addpath_rx=fams)).decode(rec.message)
        out: list[bytes] = []
        eor = u.end_of_rib
        allowed = rw.families
        if eor is not None:
            return [pack.end_of_rib(eor)] if allowed is None or eor in allowed else []
        for fam, prefixes in u.withdrawals().items():
            if allowed is not None and fam not in allowed:
                stats.other_families += len(prefixes)
                continue
            ps = _strip_path_id(prefixes, addpath)
            stats.withdrawn += len(ps)
            out.extend(pack.withdraw(fam, ps, rw.max_len))
        attrs = u.attrs
        for fam, prefixes in u.announced().items():
            if attrs is None:
                continue
            if allowed is not None and fam not in allowed:
                stats.other_families += len(prefixes)
                continue
            nh = u.reach.next_hop if u.reach is not None and u.reach.family == fam else b""
            raw, nh = _with_rewrite(attrs, fam, nh, rw)
            ps = _strip_path_id(prefixes, addpath)
            stats.announced += len(ps)
            out.extend(pack.announce(fam, raw, ps, nh, rw.max_len))
        return out
    except (WireError, ValueError, IndexError) as exc:
        if isinstance(exc, MrtError):
            raise
        raise MrtError(f"UPDATE from {rec.peer_address} at {rec.timestamp}: {exc}") from None


def _reach_next_hop(reach: bytes) -> bytes:
    if reach and reach[0] == len(reach) - 1:
        return reach[1:]  # RFC 6396 4.3.4: only the next hop
    if len(reach) < 4 or len(reach) < 4 + reach[3]:
        raise MrtError("MP_REACH_NLRI in a RIB entry too short for its next hop")
    return reach[4 : 4 + reach[3]]


def _rib_route(raw: bytes, asn4: bool) -> tuple[AttrSet, bytes]:
    try:
        parsed = parse_block(normalize_flags(raw), Context(asn4=asn4))
    except (WireError, ValueError, IndexError) as exc:
        raise MrtError(f"RIB entry attributes: {exc}") from None
    nh = _reach_next_hop(parsed.reach) if parsed.reach is not None else b""
    return parsed.attrs, nh


def updates(
    records: Iterable[Record],
    *,
    peer: str | None = None,
    rewrite: Rewrite | None = None,
    stats: ReplayStats | None = None,
) -> Iterator[tuple[float, bytes]]:
    """(time recorded, UPDATE bytes) to send, in file order."""
    rw = rewrite or Rewrite()
    st = stats if stats is not None else ReplayStats()
    peers: PeerIndexTable | None = None
    grouper = _Grouper(rw)
    if peer is not None:
        st.peer = peer
    counter = UpdateDecoder(Context(asn4=True))
    # a RIB's routes share few attribute sets: each is parsed and rewritten once
    seen: dict[tuple[bytes, Family, bool], tuple[bytes, bytes]] = {}
    last_ts = 0.0
    chosen = peer
    for rec in records:
        st.records += 1
        if isinstance(rec, Bgp4mpMessage):
            if rec.local or rec.message[18] != UPDATE:
                st.skipped += 1
                continue
            st.peers_seen.add(rec.peer_address)
            if chosen is None:
                chosen = st.peer = rec.peer_address
            if rec.peer_address != chosen:
                st.skipped += 1
                continue
            st.peer = chosen
            for data in _message(rec, rw, st, counter):
                st.updates += 1
                st.bytes += len(data)
                yield rec.timestamp, data
        elif isinstance(rec, PeerIndexTable):
            peers = rec
        elif isinstance(rec, RibRecord | TableDumpEntry):
            last_ts = rec.timestamp
            if rec.family not in CODECS:
                st.skipped += 1
                continue
            if rw.families is not None and rec.family not in rw.families:
                st.other_families += 1
                continue
            if isinstance(rec, RibRecord):
                if peers is None:
                    raise MrtError("a RIB record before any PEER_INDEX_TABLE")
                entries = rec.entries
                if peer is not None:
                    entries = tuple(
                        e
                        for e in entries
                        if e.peer_index < len(peers.peers) and peers.peers[e.peer_index].address == peer
                    )
                if not entries:
                    st.skipped += 1
                    continue
                for e in entries:
                    if e.peer_index < len(peers.peers):
                        st.peers_seen.add(peers.peers[e.peer_index].address)
                key = (entries[0].attrs, rec.family, True)
            else:
                st.peers_seen.add(rec.peer_address)
                if peer is not None and rec.peer_address != peer:
                    st.skipped += 1
                    continue
                key = (rec.attrs, rec.family, False)
            done = seen.get(key)
            if done is None:
                if len(seen) > 100_000:
                    seen.clear()
                attrs, nh = _rib_route(key[0], key[2])
                done = seen[key] = _with_rewrite(attrs, rec.family, nh, rw)
            raw, nh = done
            st.announced += 1
            for data in grouper.add(rec.family, raw, nh, rec.prefix):
                st.updates += 1
                st.bytes += len(data)
                yield rec.timestamp, data
        else:
            st.skipped += 1
    for data in grouper.rest():
        st.updates += 1
        st.bytes += len(data)
        yield last_ts, data


BATCH = 64 * 1024  # UPDATEs due at once are sent in writes of up to this much


async def replay(
    records: Iterable[Record],
    send: Send,
    *,
    speed: float | None = 1.0,
    peer: str | None = None,
    rewrite: Rewrite | None = None,
) -> ReplayStats:
    """Send the UPDATEs of ``records`` (see :func:`updates`) through ``send``: at the
    recorded pace divided by ``speed``, or, with ``speed=None``, back to back (each
    ``send`` awaited: a ``send`` that waits for the transport to drain sets the pace)."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive (or None: as fast as the receiver takes it)")
    loop = asyncio.get_running_loop()
    stats = ReplayStats()
    start = loop.time()
    first: float | None = None
    batch: list[bytes] = []
    size = 0
    for ts, data in updates(records, peer=peer, rewrite=rewrite, stats=stats):
        if speed is not None:
            if first is None:
                first = ts
            delay = start + (ts - first) / speed - loop.time()
            if delay > 0:
                if batch:
                    await send(b"".join(batch))
                    batch, size = [], 0
                await asyncio.sleep(delay)
        batch.append(data)
        size += len(data)
        if size >= BATCH:
            await send(b"".join(batch))
            batch, size = [], 0
    if batch:
        await send(b"".join(batch))
    return stats
