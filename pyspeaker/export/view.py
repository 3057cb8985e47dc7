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
from ..wire.attrs import AttrSet, attribute, to_two_octet
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
    llgr: bool = False  # the peer announced long-lived GR (RFC 9494): it may be sent LLGR-stale routes


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


_OPT = c.FLAG_OPTIONAL
_TRANS = c.FLAG_TRANSITIVE


def _split(raw: bytes) -> dict[int, bytes]:
    """type code -> whole encoded attribute, with the RFC 4271 5 rules for passing attributes
    on: unknown optional non-transitive ones dropped, the Partial bit set on unknown optional
    transitive ones."""
    out: dict[int, bytes] = {}
    expected = c.EXPECTED_FLAGS
    i = 0
    n = len(raw)
    while i < n:
        flags = raw[i]
        code = raw[i + 1]
        start = i
        if flags & c.FLAG_EXTENDED:
            vstart = i + 4
            i = vstart + ((raw[i + 2] << 8) | raw[i + 3])
        else:
            vstart = i + 3
            i = vstart + raw[i + 2]
        if code not in expected:
            if not flags & _TRANS:
                continue
            if not flags & c.FLAG_PARTIAL:
                out[code] = attribute(flags | c.FLAG_PARTIAL, code, raw[vstart:i])
                continue
        out[code] = raw[start:i]
    return out


def _value(enc: bytes) -> bytes:
    return enc[4:] if enc[0] & c.FLAG_EXTENDED else enc[3:]


def export(path: Path, view: ExportView, family: Family) -> Out | None:
    """``path`` as sent to a peer of ``view``, or None when it must not be sent."""
    source = path.source.kind
    target = view.kind
    if not may_send(source, target):
        return None
    if path.llgr and not view.llgr:
        return None  # RFC 9494 4.3: long-lived stale routes only to peers that understand them
    d = _split(path.attrs.raw)
    nh4 = d.pop(c.NEXT_HOP, None)
    self_nh = False
    if target is Kind.EBGP:
        for code in (c.LOCAL_PREF, c.ORIGINATOR_ID, c.CLUSTER_LIST):
            d.pop(code, None)
        if source is not Kind.LOCAL:
            d.pop(c.MULTI_EXIT_DISC, None)  # RFC 4271 5.1.4: not passed on to other ASes
        raw_path = d.get(c.AS_PATH)
        as_path = decode_as_path(_value(raw_path), 4) if raw_path else None
        prepended = (as_path or AsPath()).prepend(view.local_as)
        d[c.AS_PATH] = attribute(_TRANS, c.AS_PATH, encode_as_path(prepended, 4))
        self_nh = True
    else:
        if c.LOCAL_PREF not in d:
            d[c.LOCAL_PREF] = attribute(_TRANS, c.LOCAL_PREF, path.local_pref.to_bytes(4, "big"))
        if source in (Kind.IBGP, Kind.CLIENT):
            # RFC 4456 8: reflected, with ORIGINATOR_ID kept or set and our CLUSTER_ID in front
            if c.ORIGINATOR_ID not in d:
                d[c.ORIGINATOR_ID] = attribute(_OPT, c.ORIGINATOR_ID, path.source.router_id.to_bytes(4, "big"))
            old = d.get(c.CLUSTER_LIST)
            clusters = view.cluster_id.to_bytes(4, "big") + (_value(old) if old else b"")
            d[c.CLUSTER_LIST] = attribute(_OPT, c.CLUSTER_LIST, clusters)
        elif view.next_hop_self:
            self_nh = True  # routes from eBGP peers (and our own) get our address as next hop
    if c.AS_PATH not in d:
        d[c.AS_PATH] = attribute(_TRANS, c.AS_PATH, b"")
    out_nh = _next_hop(path, view, family, self_nh, _value(nh4) if nh4 else None)
    if out_nh is None:
        return None
    if family.afi == AFI_IPV4 and family.safi == 1 and len(out_nh) == 4:
        d[c.NEXT_HOP] = attribute(_TRANS, c.NEXT_HOP, out_nh)
        out_nh = b""
    raw = b"".join([d[k] for k in sorted(d)])
    if not view.asn4:
        raw = to_two_octet(AttrSet(raw))
    return Out(raw, out_nh)


def _next_hop(path: Path, view: ExportView, family: Family, self_nh: bool, attr_nh: bytes | None) -> bytes | None:
    if family.afi == AFI_IPV4:
        if self_nh or (path.source.kind is Kind.LOCAL and not path.nh and attr_nh is None):
            if view.nh4:
                return view.nh4
            return view.nh6 if view.extended_nexthop_v4 and view.nh6 else None
        if len(path.nh) == 4:
            return path.nh
        if not path.nh and attr_nh is not None:
            return attr_nh
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
