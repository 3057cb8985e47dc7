"""What a route becomes when it is sent to a kind of peer: RFC 4456 reflection rules, the
attribute changes of RFC 4271 5.1 and RFC 4456 8, and the next hop per family.

An :class:`ExportView` holds everything about the receiving side that changes the bytes
sent. Peers with equal views form one update group; the result of :func:`export` for a path
and a view is computed once and kept on the path.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..rib.path import Kind, Path
from ..wire import constants as c
from ..wire.attrs import AttrSet, attribute, to_two_octet, walk
from ..wire.family import AFI_IPV4, AFI_IPV6, Family
from ..wire.values import AsPath, decode_as_path, encode_as_path


@dataclass(frozen=True, slots=True)
class ExportView:
    """The receiving side, as far as the bytes sent depend on it."""

    kind: Kind  # EBGP, IBGP (non-client) or CLIENT
    local_as: int
    cluster_id: int
    asn4: bool = True
    next_hop_self: bool = False
    nh4: bytes = b""  # our IPv4 next hop for this peer (4 octets), if any
    nh6: bytes = b""  # our IPv6 next hop for this peer (16 octets), if any
    extended_nexthop_v4: bool = False  # RFC 8950 negotiated for IPv4 unicast
    max_len: int = c.MAX_MESSAGE_LEN


@dataclass(frozen=True, slots=True)
class Out:
    """A path as sent: the attribute bytes (with NEXT_HOP for IPv4 in the NLRI field) and
    the MP_REACH next hop (``b""``: IPv4 in the NLRI field)."""

    attrs: bytes
    nh: bytes


def may_send(source: Kind, target: Kind) -> bool:
    """RFC 4456 6 (and RFC 4271 9.2): routes from a non-client iBGP peer go only to clients
    and eBGP peers; everything else goes everywhere (the sender itself excepted)."""
    return not (source is Kind.IBGP and target is Kind.IBGP)


class _Editor:
    """An attribute block as a list of (code, encoded attribute), kept in wire order."""

    __slots__ = ("items",)

    def __init__(self, raw: bytes) -> None:
        self.items: list[tuple[int, bytes]] = []
        for flags, code, start, end in walk(raw):
            head = 4 if flags & c.FLAG_EXTENDED else 3
            self.items.append((code, raw[start - head : end]))

    def value(self, code: int) -> bytes | None:
        for cd, enc in self.items:
            if cd == code:
                return enc[4:] if enc[0] & c.FLAG_EXTENDED else enc[3:]
        return None

    def drop(self, *codes: int) -> None:
        self.items = [(cd, enc) for cd, enc in self.items if cd not in codes]

    def put(self, code: int, flags: int, value: bytes) -> None:
        enc = attribute(flags, code, value)
        for i, (cd, _) in enumerate(self.items):
            if cd == code:
                self.items[i] = (code, enc)
                return
        for i, (cd, _) in enumerate(self.items):
            if cd > code:
                self.items.insert(i, (code, enc))
                return
        self.items.append((code, enc))

    def raw(self) -> bytes:
        return b"".join(enc for _, enc in self.items)


def _ipv4_next_hop(path: Path) -> bytes | None:
    """The path's IPv4 next hop (4 octets) if it has one."""
    if len(path.nh) == 4:
        return path.nh
    if not path.nh:
        nh = path.attrs.next_hop
        return nh.packed if nh is not None else None
    return None


def export(path: Path, view: ExportView, family: Family) -> Out | None:
    """``path`` as sent to a peer of ``view``, or None when it must not be sent."""
    source = path.source.kind
    target = view.kind
    if not may_send(source, target):
        return None
    ed = _Editor(path.attrs.for_export().raw)
    ed.drop(c.NEXT_HOP)
    self_nh = False
    if target is Kind.EBGP:
        ed.drop(c.LOCAL_PREF, c.ORIGINATOR_ID, c.CLUSTER_LIST)
        if source is not Kind.LOCAL:
            ed.drop(c.MULTI_EXIT_DISC)  # RFC 4271 5.1.4: not passed on to other ASes
        raw_path = ed.value(c.AS_PATH)
        as_path = decode_as_path(raw_path, 4) if raw_path else None
        prepended = (as_path or AsPath()).prepend(view.local_as)
        ed.put(c.AS_PATH, c.FLAG_TRANSITIVE, encode_as_path(prepended, 4))
        self_nh = True
    else:
        if ed.value(c.LOCAL_PREF) is None:
            ed.put(c.LOCAL_PREF, c.FLAG_TRANSITIVE, path.local_pref.to_bytes(4, "big"))
        if source in (Kind.IBGP, Kind.CLIENT):
            # RFC 4456 8: reflected, with ORIGINATOR_ID kept or set and our CLUSTER_ID in front
            if ed.value(c.ORIGINATOR_ID) is None:
                ed.put(c.ORIGINATOR_ID, c.FLAG_OPTIONAL, path.source.router_id.to_bytes(4, "big"))
            clusters = ed.value(c.CLUSTER_LIST) or b""
            ed.put(c.CLUSTER_LIST, c.FLAG_OPTIONAL, view.cluster_id.to_bytes(4, "big") + clusters)
        elif view.next_hop_self:
            self_nh = True  # routes from eBGP peers (and our own) get our address as next hop
    if ed.value(c.AS_PATH) is None:
        ed.put(c.AS_PATH, c.FLAG_TRANSITIVE, b"")
    out_nh = _next_hop(path, view, family, self_nh)
    if out_nh is None:
        return None
    raw = ed.raw()
    if family.afi == AFI_IPV4 and len(out_nh) == 4 and family.safi == 1:
        ed.put(c.NEXT_HOP, c.FLAG_TRANSITIVE, out_nh)
        raw = ed.raw()
        out_nh = b""
    if not view.asn4:
        raw = to_two_octet(AttrSet(raw))
    return Out(raw, out_nh)


def _next_hop(path: Path, view: ExportView, family: Family, self_nh: bool) -> bytes | None:
    if family.afi == AFI_IPV4:
        if self_nh or (path.source.kind is Kind.LOCAL and not path.nh and path.attrs.next_hop is None):
            if view.nh4:
                return view.nh4
            return view.nh6 if view.extended_nexthop_v4 and view.nh6 else None
        nh4 = _ipv4_next_hop(path)
        if nh4 is not None:
            return nh4
        if len(path.nh) in (16, 32) and view.extended_nexthop_v4:
            return path.nh[:16]  # RFC 8950: an IPv6 next hop for IPv4 routes
        return None
    if family.afi == AFI_IPV6:
        if self_nh or not path.nh:
            return view.nh6 or None  # never an IPv4-mapped address
        if len(path.nh) == 32:
            # global + link-local: the link-local address only means something on the link
            # the route came in on, so only the global address is passed on
            return path.nh[:16]
        if len(path.nh) == 16:
            return path.nh
        return None
    return path.nh or None


def address_bytes(address: str | None, version: int) -> bytes:
    """The packed form of ``address`` if it is of IP ``version``, else b""."""
    if not address:
        return b""
    ip = ipaddress.ip_address(address)
    if ip.version != version:
        if version == 4 and isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return ip.ipv4_mapped.packed
        return b""
    return ip.packed
