"""Routes out of MRT records: what each BGP4MP UPDATE announced and withdrew, and every
entry of a TABLE_DUMP_V2 / TABLE_DUMP RIB record, with its attributes decoded by the
pyspeaker codec. Also the one-line text of a route in the format of ``bgpdump -m``, and a
JSON form. Pure; anything malformed raises :class:`~pyspeaker.mrt.codec.MrtError`.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..wire.attrs import AttrSet, parse_block
from ..wire.constants import EXPECTED_FLAGS, FLAG_EXTENDED, MESSAGE_NAMES, UPDATE
from ..wire.context import Context
from ..wire.errors import WireError
from ..wire.family import CODECS, Family
from ..wire.prefix import to_text
from ..wire.update import UpdateDecoder
from ..wire.values import AsPath
from .codec import (
    STATES,
    Bgp4mpMessage,
    Bgp4mpStateChange,
    MrtError,
    PeerIndexTable,
    Record,
    RibRecord,
    TableDumpEntry,
    Unknown,
)

_DECODE_ERRORS = (WireError, ValueError, IndexError, KeyError, struct.error, OverflowError)


@dataclass(frozen=True, slots=True)
class Route:
    """One prefix announced (``A``), withdrawn (``W``) or held in a RIB dump (``B``)."""

    kind: str
    source: str  # BGP4MP, BGP4MP_AP, TABLE_DUMP2, TABLE_DUMP2_AP, TABLE_DUMP (as bgpdump names them)
    timestamp: float
    peer_address: str
    peer_as: int
    family: Family
    prefix: bytes  # wire form, without a path id
    path_id: int | None = None
    attrs: AttrSet | None = None
    next_hop: str | None = None
    extended: bool = False  # from a BGP4MP_ET record (microsecond timestamp)

    @property
    def prefix_text(self) -> str:
        return to_text(self.prefix, CODECS[self.family].address_len if self.family in CODECS else 16)


def _next_hop_of_reach(reach: bytes, abbreviated_ok: bool) -> str | None:
    """The (first, global) next hop of an MP_REACH_NLRI value; in TABLE_DUMP_V2 the value
    is usually only the next hop length and address (RFC 6396 4.3.4), but some writers put
    the whole attribute there: both are read."""
    if abbreviated_ok and reach and reach[0] == len(reach) - 1:
        nh = reach[1:]
    else:
        if len(reach) < 4:
            raise MrtError("MP_REACH_NLRI too short for a next hop")
        nh = reach[4 : 4 + reach[3]]
    if len(nh) in (16, 32):
        return _v6_text(nh[:16])
    if len(nh) in (4, 8):
        return str(ipaddress.IPv4Address(nh[-4:]))  # 8: an RD of zeros then the address
    if len(nh) == 24 or len(nh) == 48:
        return _v6_text(nh[8:24])
    return nh.hex() if nh else None


def _v6_text(raw: bytes) -> str:
    """An IPv6 address as text; an IPv4-mapped one as ``::ffff:192.0.2.1`` (as bgpdump and
    Python 3.13 write it)."""
    ip = ipaddress.IPv6Address(raw)
    mapped = ip.ipv4_mapped
    return f"::ffff:{mapped}" if mapped is not None else str(ip)


def normalize_flags(raw: bytes) -> bytes:
    """An attribute block with each known attribute's Optional and Transitive flags set as
    RFC 4271 (and later RFCs) define them. BIRD 2.0.12 writes NEXT_HOP and LOCAL_PREF with
    flags 0x00 in its TABLE_DUMP_V2 files: a session would treat that as an error (RFC 7606),
    a file reader takes the attribute for what its type code says."""
    out = []
    changed = False
    i, n = 0, len(raw)
    while i < n:
        if n - i < 3:
            return raw
        flags, code = raw[i], raw[i + 1]
        if flags & FLAG_EXTENDED:
            if n - i < 4:
                return raw
            start = i + 4
            end = start + ((raw[i + 2] << 8) | raw[i + 3])
        else:
            start = i + 3
            end = start + raw[i + 2]
        want = EXPECTED_FLAGS.get(code)
        if want is not None and (flags & 0xC0) != want:
            out.append(bytes(((flags & 0x30) | want, code)) + raw[i + 2 : end])
            changed = True
        else:
            out.append(raw[i:end])
        i = end
    return b"".join(out) if changed else raw


def rib_attrs(raw: bytes, asn4: bool = True) -> tuple[AttrSet, str | None]:
    """The attribute set of a RIB entry and its next hop (NEXT_HOP, or MP_REACH_NLRI's)."""
    try:
        parsed = parse_block(normalize_flags(raw), Context(asn4=asn4))
        nh: str | None = None
        if parsed.reach is not None:
            nh = _next_hop_of_reach(parsed.reach, True)
        elif parsed.attrs.next_hop is not None:
            nh = str(parsed.attrs.next_hop)
        return parsed.attrs, nh
    except MrtError:
        raise
    except _DECODE_ERRORS as exc:
        raise MrtError(f"RIB entry attributes: {exc}") from None


def message_routes(rec: Bgp4mpMessage) -> list[Route]:
    """The prefixes an UPDATE withdrew, then those it announced (empty for other messages).

    Some writers (BIRD before RFC 8050) put ADD-PATH NLRI in the plain subtypes: an UPDATE
    whose NLRI do not split into plain prefixes, or split into the default route twice (the
    leading zero octets of small path identifiers), is read again as ADD-PATH (mrtparse
    tries ADD-PATH on any repeated prefix; a plain UPDATE may repeat one)."""
    if rec.message[18] != UPDATE:
        return []
    if rec.addpath:
        return _message_routes(rec, True)
    try:
        found = _message_routes(rec, False)
    except MrtError:
        return _message_routes(rec, True)
    defaults: dict[tuple[str, Family], int] = {}
    for r in found:
        if r.prefix == b"\x00":
            key = (r.kind, r.family)
            defaults[key] = defaults.get(key, 0) + 1
    if any(n > 1 for n in defaults.values()):
        try:
            return _message_routes(rec, True)
        except MrtError:
            pass
    return found


def _message_routes(rec: Bgp4mpMessage, addpath: bool) -> list[Route]:
    ctx = Context(asn4=rec.asn4, addpath_rx=frozenset(CODECS) if addpath else frozenset())
    # bgpdump's names: BGP4MP[_ET][_LOCAL][_AP]
    source = "BGP4MP" + ("_LOCAL" if rec.local else "") + ("_AP" if rec.addpath else "")
    out: list[Route] = []
    try:
        update = UpdateDecoder(ctx).decode(rec.message)
        for fam, prefixes in update.withdrawals().items():
            for p in prefixes:
                pid, p = _split_path_id(p, addpath)
                out.append(
                    Route("W", source, rec.timestamp, rec.peer_address, rec.peer_as, fam, p, pid, extended=rec.extended)
                )
        announced = update.announced()
        attrs = update.attrs
        for fam, prefixes in announced.items():
            if update.reach is not None and fam == update.reach.family:
                nh = _next_hop_of_reach(_reach_value(update.reach.family, update.reach.next_hop), False)
            else:
                nh = str(attrs.next_hop) if attrs is not None and attrs.next_hop is not None else None
            for p in prefixes:
                pid, p = _split_path_id(p, addpath)
                out.append(
                    Route(
                        "A", source, rec.timestamp, rec.peer_address, rec.peer_as, fam, p, pid, attrs, nh, rec.extended
                    )
                )
    except MrtError:
        raise
    except _DECODE_ERRORS as exc:
        raise MrtError(f"BGP4MP UPDATE from {rec.peer_address}: {exc}") from None
    return out


def _reach_value(fam: Family, nh: bytes) -> bytes:
    return fam.afi.to_bytes(2, "big") + bytes((fam.safi, len(nh))) + nh


def _split_path_id(p: bytes, addpath: bool) -> tuple[int | None, bytes]:
    if addpath:
        return int.from_bytes(p[:4], "big"), p[4:]
    return None, p


AttrCache = dict[bytes, tuple[AttrSet, str | None]]


def rib_routes(rec: RibRecord, peers: PeerIndexTable | None, cache: AttrCache | None = None) -> list[Route]:
    """The routes of a RIB record. ``cache``: attribute blocks already decoded (a RIB has
    far fewer distinct blocks than entries)."""
    source = "TABLE_DUMP2_AP" if rec.addpath else "TABLE_DUMP2"
    out = []
    for e in rec.entries:
        if peers is None or e.peer_index >= len(peers.peers):
            raise MrtError(f"RIB entry names peer index {e.peer_index}, not in the PEER_INDEX_TABLE")
        peer = peers.peers[e.peer_index]
        done = cache.get(e.attrs) if cache is not None else None
        if done is None:
            done = rib_attrs(e.attrs)
            if cache is not None:
                if len(cache) >= 100_000:
                    cache.clear()
                cache[e.attrs] = done
        attrs, nh = done
        out.append(
            Route("B", source, rec.timestamp, peer.address, peer.asn, rec.family, rec.prefix, e.path_id, attrs, nh)
        )
    return out


def table_dump_routes(rec: TableDumpEntry) -> list[Route]:
    attrs, nh = rib_attrs(rec.attrs, asn4=False)
    return [
        Route("B", "TABLE_DUMP", rec.timestamp, rec.peer_address, rec.peer_as, rec.family, rec.prefix, None, attrs, nh)
    ]


def routes(records: Iterable[Record]) -> Iterator[Route | Record]:
    """Every route of the records (the PEER_INDEX_TABLE of a TABLE_DUMP_V2 file is kept for
    the RIB records after it); records without routes (state changes, OPENs...) as they are."""
    peers: PeerIndexTable | None = None
    cache: AttrCache = {}
    for rec in records:
        if isinstance(rec, Bgp4mpMessage):
            found = message_routes(rec)
            if found:
                yield from found
            else:
                yield rec
        elif isinstance(rec, RibRecord):
            if rec.family in CODECS:
                yield from rib_routes(rec, peers, cache)
            else:
                yield rec  # labelled, VPN...: not decoded into routes
        elif isinstance(rec, PeerIndexTable):
            peers = rec
            yield rec
        elif isinstance(rec, TableDumpEntry):
            yield from table_dump_routes(rec)
        else:
            yield rec


# -- text ------------------------------------------------------------------------------------------

_ORIGINS = {0: "IGP", 1: "EGP", 2: "INCOMPLETE"}
_WELL_KNOWN = {0xFFFFFF01: "no-export", 0xFFFFFF02: "no-advertise", 0xFFFFFF03: "no-export-subconfed"}


def as_path_text(path: AsPath) -> str:
    """An AS_PATH as bgpdump writes it: sets as ``{1,2}``, confederation segments in
    ``(...)`` and ``[...]``."""
    parts = []
    for seg_type, asns in path.segments:
        if seg_type == 2:
            parts.append(" ".join(map(str, asns)))
        elif seg_type == 1:
            parts.append("{" + ",".join(map(str, asns)) + "}")
        elif seg_type == 3:
            parts.append("(" + " ".join(map(str, asns)) + ")")
        else:
            parts.append("[" + ",".join(map(str, asns)) + "]")
    return " ".join(parts)


def _ts(t: float, extended: bool) -> str:
    return f"{t:.6f}" if extended else str(int(t))


def bgpdump_line(item: Route | Record, cache: dict[tuple[bytes, str | None], str] | None = None) -> str | None:
    """The line ``bgpdump -m`` prints for a route or a state change (None for records it
    does not print). ``cache``: the attribute part of lines already made, by attribute bytes
    and next hop."""
    if isinstance(item, Bgp4mpStateChange):
        return (
            f"{'BGP4MP_ET' if item.extended else 'BGP4MP'}|{_ts(item.timestamp, item.extended)}|STATE|"
            f"{item.peer_address}|{item.peer_as}|{item.old_state}|{item.new_state}"
        )
    if not isinstance(item, Route):
        return None
    source = item.source.replace("BGP4MP", "BGP4MP_ET", 1) if item.extended else item.source
    when = _ts(item.timestamp, item.extended)
    head = f"{source}|{when}|{item.kind}|{item.peer_address}|{item.peer_as}|{item.prefix_text}"
    if item.kind == "W":
        return head + (f"|{item.path_id}" if item.path_id is not None else "")
    if item.path_id is not None:
        head += f"|{item.path_id}"
    a = item.attrs
    if a is None:
        return head + "||||||||"
    key = (a.raw, item.next_hop)
    tail = cache.get(key) if cache is not None else None
    if tail is None:
        tail = _tail(a, item.next_hop)
        if cache is not None:
            if len(cache) >= 100_000:
                cache.clear()
            cache[key] = tail
    return head + tail


def _tail(a: AttrSet, next_hop: str | None) -> str:
    origin = _ORIGINS.get(a.origin, "") if a.origin is not None else ""
    comms = " ".join(_WELL_KNOWN.get(v, f"{v >> 16}:{v & 0xFFFF}") for v in a.communities)
    aggr = f"{a.aggregator.asn} {a.aggregator.address}" if a.aggregator else ""
    return (
        f"|{as_path_text(a.as_path)}|{origin}|{next_hop or ''}|{a.local_pref or 0}|{a.med or 0}|{comms}|"
        f"{'AG' if a.atomic_aggregate else 'NAG'}|{aggr}|"
    )


def _update_kind(rec: Bgp4mpMessage) -> str:
    """An UPDATE without routes of a known family: End-of-RIB, or just an update."""
    try:
        u = UpdateDecoder(Context(asn4=rec.asn4)).decode(rec.message)
        return "end_of_rib" if u.end_of_rib is not None else "update"
    except _DECODE_ERRORS:
        return "update"


def to_json(item: Route | Record) -> dict[str, Any]:
    """A JSON-ready form of a route or a record."""
    if isinstance(item, Route):
        out: dict[str, Any] = {
            "type": item.source,
            "time": item.timestamp,
            "kind": {"A": "announce", "W": "withdraw", "B": "rib"}[item.kind],
            "peer": item.peer_address,
            "peer_as": item.peer_as,
            "family": item.family.name,
            "prefix": item.prefix_text,
        }
        if item.path_id is not None:
            out["path_id"] = item.path_id
        if item.next_hop is not None:
            out["next_hop"] = item.next_hop
        if item.attrs is not None:
            out["attributes"] = item.attrs.to_json()
        return out
    if isinstance(item, Bgp4mpStateChange):
        return {
            "type": "BGP4MP",
            "time": item.timestamp,
            "kind": "state",
            "peer": item.peer_address,
            "peer_as": item.peer_as,
            "local": item.local_address,
            "local_as": item.local_as,
            "old": STATES.get(item.old_state, item.old_state),
            "new": STATES.get(item.new_state, item.new_state),
        }
    if isinstance(item, Bgp4mpMessage):
        kind = MESSAGE_NAMES.get(item.message[18], f"type {item.message[18]}")
        return {
            "type": "BGP4MP",
            "time": item.timestamp,
            "kind": kind.lower().replace("-", "_") if kind != "UPDATE" else _update_kind(item),
            "direction": "sent" if item.local else "received",
            "peer": item.peer_address,
            "peer_as": item.peer_as,
            "local": item.local_address,
            "local_as": item.local_as,
            "length": len(item.message),
        }
    if isinstance(item, PeerIndexTable):
        return {
            "type": "PEER_INDEX_TABLE",
            "time": item.timestamp,
            "collector": item.collector_id,
            "view": item.view_name,
            "peers": [{"bgp_id": p.bgp_id, "address": p.address, "asn": p.asn} for p in item.peers],
        }
    if isinstance(item, Unknown):
        return {"type": item.type, "subtype": item.subtype, "time": item.timestamp, "length": len(item.data)}
    return {"type": type(item).__name__, "time": item.timestamp}
