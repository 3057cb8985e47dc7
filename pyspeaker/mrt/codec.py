"""MRT (RFC 6396) records, sans-IO: bytes in, typed records out, and back.

Read: BGP4MP (type 16) and BGP4MP_ET (type 17, microsecond timestamps) messages and state
changes in every subtype (2- and 4-octet AS, ``_LOCAL``, ``_ADDPATH`` of RFC 8050),
TABLE_DUMP_V2 (type 13: PEER_INDEX_TABLE, RIB_IPV4/IPV6_UNICAST/MULTICAST, RIB_GENERIC and
the ADDPATH variants) and the old TABLE_DUMP (type 12). Anything else is an
:class:`Unknown` record, kept byte for byte. Malformed bytes raise :class:`MrtError` and
nothing else.

Write: BGP4MP_MESSAGE_AS4 (or BGP4MP_MESSAGE when both AS numbers fit in two octets and
the message's AS_PATH is 2-octet), BGP4MP_STATE_CHANGE_AS4, optionally as BGP4MP_ET, and
TABLE_DUMP_V2 PEER_INDEX_TABLE and RIB_IPV4_UNICAST/RIB_IPV6_UNICAST records.

A record's ``timestamp`` is a float of seconds since the epoch (with microseconds for ET).
Prefixes are in the wire form of :mod:`pyspeaker.wire.prefix`; attributes and BGP
messages are raw bytes, decoded only on request (:mod:`pyspeaker.mrt.routes`).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from ..wire.family import AFI_IPV4, AFI_IPV6, SAFI_MULTICAST, SAFI_UNICAST, Family, family

TABLE_DUMP: Final = 12
TABLE_DUMP_V2: Final = 13
BGP4MP: Final = 16
BGP4MP_ET: Final = 17

# BGP4MP subtypes (RFC 6396 4.4, RFC 8050)
STATE_CHANGE: Final = 0
MESSAGE: Final = 1
MESSAGE_AS4: Final = 4
STATE_CHANGE_AS4: Final = 5
MESSAGE_LOCAL: Final = 6
MESSAGE_AS4_LOCAL: Final = 7
MESSAGE_ADDPATH: Final = 8
MESSAGE_AS4_ADDPATH: Final = 9
MESSAGE_LOCAL_ADDPATH: Final = 10
MESSAGE_AS4_LOCAL_ADDPATH: Final = 11

# subtype -> (AS numbers 4 octets, sent by the local speaker, ADD-PATH)
MESSAGE_SUBTYPES: Final[dict[int, tuple[bool, bool, bool]]] = {
    MESSAGE: (False, False, False),
    MESSAGE_AS4: (True, False, False),
    MESSAGE_LOCAL: (False, True, False),
    MESSAGE_AS4_LOCAL: (True, True, False),
    MESSAGE_ADDPATH: (False, False, True),
    MESSAGE_AS4_ADDPATH: (True, False, True),
    MESSAGE_LOCAL_ADDPATH: (False, True, True),
    MESSAGE_AS4_LOCAL_ADDPATH: (True, True, True),
}
_SUBTYPE_OF: Final = {v: k for k, v in MESSAGE_SUBTYPES.items()}

# TABLE_DUMP_V2 subtypes (RFC 6396 4.3, RFC 8050)
PEER_INDEX_TABLE: Final = 1
RIB_IPV4_UNICAST: Final = 2
RIB_IPV4_MULTICAST: Final = 3
RIB_IPV6_UNICAST: Final = 4
RIB_IPV6_MULTICAST: Final = 5
RIB_GENERIC: Final = 6
RIB_IPV4_UNICAST_ADDPATH: Final = 8
RIB_IPV4_MULTICAST_ADDPATH: Final = 9
RIB_IPV6_UNICAST_ADDPATH: Final = 10
RIB_IPV6_MULTICAST_ADDPATH: Final = 11
RIB_GENERIC_ADDPATH: Final = 12

# subtype -> (family, ADD-PATH); None: RIB_GENERIC, the family is in the record
RIB_SUBTYPES: Final[dict[int, tuple[Family | None, bool]]] = {
    RIB_IPV4_UNICAST: (family(AFI_IPV4, SAFI_UNICAST), False),
    RIB_IPV4_MULTICAST: (family(AFI_IPV4, SAFI_MULTICAST), False),
    RIB_IPV6_UNICAST: (family(AFI_IPV6, SAFI_UNICAST), False),
    RIB_IPV6_MULTICAST: (family(AFI_IPV6, SAFI_MULTICAST), False),
    RIB_GENERIC: (None, False),
    RIB_IPV4_UNICAST_ADDPATH: (family(AFI_IPV4, SAFI_UNICAST), True),
    RIB_IPV4_MULTICAST_ADDPATH: (family(AFI_IPV4, SAFI_MULTICAST), True),
    RIB_IPV6_UNICAST_ADDPATH: (family(AFI_IPV6, SAFI_UNICAST), True),
    RIB_IPV6_MULTICAST_ADDPATH: (family(AFI_IPV6, SAFI_MULTICAST), True),
    RIB_GENERIC_ADDPATH: (None, True),
}

# RFC 4271 8.2.2 state numbers, as in BGP4MP_STATE_CHANGE
STATES: Final = {1: "Idle", 2: "Connect", 3: "Active", 4: "OpenSent", 5: "OpenConfirm", 6: "Established"}
STATE_NUMBERS: Final = {name: number for number, name in STATES.items()}

HEADER_LEN: Final = 12
MAX_RECORD_LEN: Final = 1 << 26  # 64 MiB: larger is taken as garbage, not buffered
_HEADER: Final = struct.Struct(">IHHI")


class MrtError(ValueError):
    """Bytes that are not a well-formed MRT record; says what and where."""


# -- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bgp4mpMessage:
    """A BGP message as a peer sent it (or, ``local``, as we sent it)."""

    timestamp: float
    peer_as: int
    local_as: int
    peer_address: str
    local_address: str
    message: bytes  # the whole BGP message, marker included
    asn4: bool = True  # the record's AS numbers are 4 octets (AS4 subtypes)
    local: bool = False
    addpath: bool = False
    interface: int = 0
    extended: bool = False  # read from / to be written as BGP4MP_ET

    @property
    def subtype(self) -> int:
        return _SUBTYPE_OF[(self.asn4, self.local, self.addpath)]


@dataclass(frozen=True, slots=True)
class Bgp4mpStateChange:
    timestamp: float
    peer_as: int
    local_as: int
    peer_address: str
    local_address: str
    old_state: int  # 1 Idle .. 6 Established
    new_state: int
    asn4: bool = True
    interface: int = 0
    extended: bool = False


@dataclass(frozen=True, slots=True)
class PeerEntry:
    bgp_id: str
    address: str
    asn: int


@dataclass(frozen=True, slots=True)
class PeerIndexTable:
    timestamp: float
    collector_id: str
    view_name: str
    peers: tuple[PeerEntry, ...]


@dataclass(frozen=True, slots=True)
class RibEntry:
    peer_index: int
    originated: int  # seconds since the epoch
    attrs: bytes  # raw attribute block; 4-octet AS; MP_REACH_NLRI usually just the next hop
    path_id: int | None = None  # ADD-PATH subtypes (RFC 8050)


@dataclass(frozen=True, slots=True)
class RibRecord:
    """One prefix of a TABLE_DUMP_V2 RIB record with every peer's route for it."""

    timestamp: float
    subtype: int
    sequence: int
    family: Family
    prefix: bytes  # wire form
    entries: tuple[RibEntry, ...]

    @property
    def addpath(self) -> bool:
        return RIB_SUBTYPES[self.subtype][1]


@dataclass(frozen=True, slots=True)
class TableDumpEntry:
    """The old TABLE_DUMP (type 12): one prefix and one peer's route; 2-octet AS."""

    timestamp: float
    family: Family
    view: int
    sequence: int
    prefix: bytes  # wire form
    status: int
    originated: int
    peer_address: str
    peer_as: int
    attrs: bytes  # 2-octet AS_PATH


@dataclass(frozen=True, slots=True)
class Unknown:
    """A record of a type or subtype this module does not decode, kept as it was."""

    timestamp: float
    type: int
    subtype: int
    data: bytes


Record = Bgp4mpMessage | Bgp4mpStateChange | PeerIndexTable | RibRecord | TableDumpEntry | Unknown


# -- writing -----------------------------------------------------------------------------------


def _header(timestamp: float, mrt_type: int, subtype: int, body: bytes, extended: bool) -> bytes:
    seconds = int(timestamp)
    if extended:
        micro = min(round((timestamp - seconds) * 1_000_000), 999_999)
        return _HEADER.pack(seconds, mrt_type + 1, subtype, len(body) + 4) + micro.to_bytes(4, "big") + body
    return _HEADER.pack(seconds, mrt_type, subtype, len(body)) + body


def _addr(text: str) -> tuple[int, bytes]:
    ip = ipaddress.ip_address(text)
    return (AFI_IPV4 if ip.version == 4 else AFI_IPV6), ip.packed


def _peer_part(peer_as: int, local_as: int, asn4: bool, interface: int, peer: str, local: str) -> bytes:
    afi, peer_raw = _addr(peer)
    local_afi, local_raw = _addr(local)
    if local_afi != afi:  # one AFI for both: an unknown local address of the other family
        local_raw = bytes(len(peer_raw))
    width = 4 if asn4 else 2
    if not asn4 and (peer_as > 0xFFFF or local_as > 0xFFFF):
        raise MrtError("a 2-octet AS record cannot carry AS numbers above 65535")
    return (
        peer_as.to_bytes(width, "big")
        + local_as.to_bytes(width, "big")
        + interface.to_bytes(2, "big")
        + afi.to_bytes(2, "big")
        + peer_raw
        + local_raw
    )


def encode(record: Bgp4mpMessage | Bgp4mpStateChange | PeerIndexTable | RibRecord) -> bytes:
    """The bytes of one record."""
    if isinstance(record, Bgp4mpMessage):
        r = record
        body = _peer_part(r.peer_as, r.local_as, r.asn4, r.interface, r.peer_address, r.local_address) + r.message
        return _header(r.timestamp, BGP4MP, r.subtype, body, r.extended)
    if isinstance(record, Bgp4mpStateChange):
        s = record
        body = _peer_part(s.peer_as, s.local_as, s.asn4, s.interface, s.peer_address, s.local_address)
        body += s.old_state.to_bytes(2, "big") + s.new_state.to_bytes(2, "big")
        return _header(s.timestamp, BGP4MP, STATE_CHANGE_AS4 if s.asn4 else STATE_CHANGE, body, s.extended)
    if isinstance(record, PeerIndexTable):
        return encode_peer_index(record.timestamp, record.collector_id, record.peers, record.view_name)
    return encode_rib(record.timestamp, record.sequence, record.family, record.prefix, record.entries)


def encode_peer_index(timestamp: float, collector_id: str, peers: Sequence[PeerEntry], view_name: str = "") -> bytes:
    name = view_name.encode()
    parts = [ipaddress.IPv4Address(collector_id).packed, len(name).to_bytes(2, "big"), name]
    parts.append(len(peers).to_bytes(2, "big"))
    for p in peers:
        ip = ipaddress.ip_address(p.address)
        peer_type = (0x01 if ip.version == 6 else 0) | 0x02  # AS numbers always 4 octets
        parts.append(bytes((peer_type,)) + ipaddress.IPv4Address(p.bgp_id).packed + ip.packed)
        parts.append(p.asn.to_bytes(4, "big"))
    return _header(timestamp, TABLE_DUMP_V2, PEER_INDEX_TABLE, b"".join(parts), False)


def encode_rib(timestamp: float, sequence: int, fam: Family, prefix: bytes, entries: Sequence[RibEntry]) -> bytes:
    """RIB_IPV4_UNICAST / RIB_IPV6_UNICAST (or their multicast and ADD-PATH kinds when
    ``fam`` or the entries' path ids say so; RIB_GENERIC for any other family)."""
    addpath = any(e.path_id is not None for e in entries)
    subtype = next((st for st, v in RIB_SUBTYPES.items() if v == (fam, addpath)), None)
    parts = [(sequence & 0xFFFFFFFF).to_bytes(4, "big")]
    if subtype is None:
        subtype = RIB_GENERIC_ADDPATH if addpath else RIB_GENERIC
        parts.append(fam.afi.to_bytes(2, "big") + bytes((fam.safi,)))
    parts.append(prefix)
    parts.append(len(entries).to_bytes(2, "big"))
    for e in entries:
        parts.append(e.peer_index.to_bytes(2, "big") + e.originated.to_bytes(4, "big"))
        if addpath:
            parts.append((e.path_id or 0).to_bytes(4, "big"))
        parts.append(len(e.attrs).to_bytes(2, "big"))
        parts.append(e.attrs)
    return _header(timestamp, TABLE_DUMP_V2, subtype, b"".join(parts), False)


def rib_attributes(attrs: bytes, fam: Family, next_hop: bytes) -> bytes:
    """The attribute block of a TABLE_DUMP_V2 RIB entry: ``attrs`` (canonical, no MP
    attributes) with, for a route whose next hop is not the NEXT_HOP attribute, an
    MP_REACH_NLRI holding only the next hop length and address (RFC 6396 4.3.4)."""
    if not next_hop:
        return attrs
    value = bytes((len(next_hop),)) + next_hop
    return bytes((0x80, 14, len(value))) + value + attrs


# -- reading -----------------------------------------------------------------------------------


class _Cursor:
    """Bounds-checked reads from a record body; every overrun is an MrtError."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise MrtError(
                f"{self.what}: truncated at octet {self.pos} (needs {n} more, has {len(self.data) - self.pos})"
            )
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def num(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


def _ip(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def _prefix(cur: _Cursor, max_bits: int) -> bytes:
    bits = cur.num(1)
    if bits > max_bits:
        raise MrtError(f"{cur.what}: prefix length {bits} exceeds {max_bits}")
    return bytes((bits,)) + cur.take((bits + 7) >> 3)


def _max_bits(fam: Family) -> int:
    """The longest prefix of a family of IP prefixes (labelled, VPN and other NLRI: 255)."""
    if fam.safi not in (SAFI_UNICAST, SAFI_MULTICAST):
        return 255
    return 32 if fam.afi == AFI_IPV4 else 128 if fam.afi == AFI_IPV6 else 255


def _bgp4mp(timestamp: float, subtype: int, body: bytes, extended: bool) -> Record:
    if subtype in (STATE_CHANGE, STATE_CHANGE_AS4):
        asn4 = subtype == STATE_CHANGE_AS4
        local = addpath = False
    elif subtype in MESSAGE_SUBTYPES:
        asn4, local, addpath = MESSAGE_SUBTYPES[subtype]
    else:
        return Unknown(timestamp, BGP4MP_ET if extended else BGP4MP, subtype, body)
    cur = _Cursor(body, f"BGP4MP subtype {subtype}")
    width = 4 if asn4 else 2
    peer_as = cur.num(width)
    local_as = cur.num(width)
    interface = cur.num(2)
    afi = cur.num(2)
    if afi not in (AFI_IPV4, AFI_IPV6):
        raise MrtError(f"{cur.what}: address family {afi} is not IPv4 or IPv6")
    alen = 4 if afi == AFI_IPV4 else 16
    peer = _ip(cur.take(alen))
    local_addr = _ip(cur.take(alen))
    if subtype in (STATE_CHANGE, STATE_CHANGE_AS4):
        old, new = cur.num(2), cur.num(2)
        return Bgp4mpStateChange(timestamp, peer_as, local_as, peer, local_addr, old, new, asn4, interface, extended)
    message = cur.rest()
    if len(message) < 19 or message[:16] != b"\xff" * 16:
        raise MrtError(f"{cur.what}: the BGP message has no marker")
    if int.from_bytes(message[16:18], "big") != len(message):
        raise MrtError(
            f"{cur.what}: BGP message length {int.from_bytes(message[16:18], 'big')} but {len(message)} octets"
        )
    return Bgp4mpMessage(
        timestamp, peer_as, local_as, peer, local_addr, message, asn4, local, addpath, interface, extended
    )


def _peer_index(timestamp: float, body: bytes) -> PeerIndexTable:
    cur = _Cursor(body, "PEER_INDEX_TABLE")
    collector = _ip(cur.take(4))
    name = cur.take(cur.num(2)).decode("utf-8", "replace")
    peers = []
    for _ in range(cur.num(2)):
        peer_type = cur.num(1)
        bgp_id = _ip(cur.take(4))
        addr = _ip(cur.take(16 if peer_type & 0x01 else 4))
        asn = cur.num(4 if peer_type & 0x02 else 2)
        peers.append(PeerEntry(bgp_id, addr, asn))
    return PeerIndexTable(timestamp, collector, name, tuple(peers))


def _rib(timestamp: float, subtype: int, body: bytes) -> RibRecord:
    fam, addpath = RIB_SUBTYPES[subtype]
    cur = _Cursor(body, f"TABLE_DUMP_V2 subtype {subtype}")
    sequence = cur.num(4)
    if fam is None:
        fam = family(cur.num(2), cur.num(1))
    prefix = _prefix(cur, _max_bits(fam))
    entries = []
    for _ in range(cur.num(2)):
        index = cur.num(2)
        originated = cur.num(4)
        path_id = cur.num(4) if addpath else None
        attrs = cur.take(cur.num(2))
        entries.append(RibEntry(index, originated, attrs, path_id))
    if cur.pos != len(body):
        raise MrtError(f"{cur.what}: {len(body) - cur.pos} octets after the last RIB entry")
    return RibRecord(timestamp, subtype, sequence, fam, prefix, tuple(entries))


def _table_dump(timestamp: float, subtype: int, body: bytes) -> Record:
    if subtype not in (AFI_IPV4, AFI_IPV6):
        return Unknown(timestamp, TABLE_DUMP, subtype, body)
    cur = _Cursor(body, f"TABLE_DUMP subtype {subtype}")
    alen = 4 if subtype == AFI_IPV4 else 16
    view = cur.num(2)
    sequence = cur.num(2)
    raw = cur.take(alen)
    bits = cur.num(1)
    if bits > alen * 8:
        raise MrtError(f"{cur.what}: prefix length {bits} exceeds {alen * 8}")
    prefix = bytes((bits,)) + raw[: (bits + 7) >> 3]
    status = cur.num(1)
    originated = cur.num(4)
    peer_raw = cur.take(alen)
    if alen == 16 and peer_raw[4:] == bytes(12) and peer_raw[:4] != bytes(4):
        peer_raw = peer_raw[:4]  # OpenBGPD: an IPv4 peer's address in the first octets
    peer = _ip(peer_raw)
    peer_as = cur.num(2)
    attrs = cur.take(cur.num(2))
    fam = family(subtype, SAFI_UNICAST)
    return TableDumpEntry(timestamp, fam, view, sequence, prefix, status, originated, peer, peer_as, attrs)


def decode_record(mrt_type: int, subtype: int, seconds: int, body: bytes) -> Record:
    """One record from its header fields and body (for BGP4MP_ET, the body still holds the
    microseconds field)."""
    if mrt_type == BGP4MP_ET:
        if len(body) < 4:
            raise MrtError("BGP4MP_ET record shorter than its microseconds field")
        micro = int.from_bytes(body[:4], "big")
        return _bgp4mp(seconds + min(micro, 999_999) / 1_000_000, subtype, body[4:], True)
    timestamp = float(seconds)
    if mrt_type == BGP4MP:
        return _bgp4mp(timestamp, subtype, body, False)
    if mrt_type == TABLE_DUMP_V2:
        if subtype == PEER_INDEX_TABLE:
            return _peer_index(timestamp, body)
        if subtype in RIB_SUBTYPES:
            return _rib(timestamp, subtype, body)
    if mrt_type == TABLE_DUMP:
        return _table_dump(timestamp, subtype, body)
    return Unknown(timestamp, mrt_type, subtype, body)


class Reader:
    """Incremental: :meth:`feed` bytes in any pieces, get the whole records they complete.
    Holds at most one partial record."""

    __slots__ = ("_buf", "offset")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.offset = 0  # of the next record in the stream, for messages

    def feed(self, data: bytes) -> list[Record]:
        buf = self._buf
        buf += data
        out: list[Record] = []
        pos = 0
        size = len(buf)
        while size - pos >= HEADER_LEN:
            seconds, mrt_type, subtype, length = _HEADER.unpack_from(buf, pos)
            if length > MAX_RECORD_LEN:
                raise MrtError(f"record at offset {self.offset}: length {length} is not believable")
            end = pos + HEADER_LEN + length
            if end > size:
                break
            body = bytes(buf[pos + HEADER_LEN : end])
            try:
                out.append(decode_record(mrt_type, subtype, seconds, body))
            except MrtError as exc:
                raise MrtError(f"record at offset {self.offset}: {exc}") from None
            except ValueError as exc:  # e.g. a malformed address from ipaddress
                raise MrtError(f"record at offset {self.offset}: {exc}") from None
            self.offset += end - pos
            pos = end
        del buf[:pos]
        return out

    def close(self) -> None:
        """The stream ended: an error if it stopped inside a record."""
        if self._buf:
            raise MrtError(f"record at offset {self.offset}: the file ends {len(self._buf)} octets into it")


def iter_records(data: bytes) -> Iterator[Record]:
    reader = Reader()
    yield from reader.feed(data)
    reader.close()
