"""Routes as the RIB holds them: who sent them (:class:`Source`) and with what (:class:`Path`).

A prefix is a key in wire form (``bytes``, see :mod:`pyspeaker.wire.prefix`); its route is a
:class:`Path`: an interned attribute set, the MP next hop (raw, ``b""`` when the next hop is
the NEXT_HOP attribute) and the :class:`Source`. Paths are interned per source, so every
prefix a peer sends with the same attributes points at one Path object, and everything the
decision process and the export need from the attributes is read once per Path.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Any

from ..wire.attrs import AttrSet

DEFAULT_LOCAL_PREF = 100
LLGR_STALE = 0xFFFF0006


class Kind(enum.IntEnum):
    """What a route's source is, for RFC 4456 and RFC 4271 9.1.2.2 (d)."""

    LOCAL = 0  # originated by this speaker
    EBGP = 1
    IBGP = 2  # an iBGP peer that is not a route reflector client
    CLIENT = 3  # an iBGP route reflector client


class Source:
    """One session (or this speaker itself) routes come from. A new Source is made per
    session, so routes of a session that ended can never be confused with the next one's."""

    __slots__ = ("addr_key", "address", "asn", "kind", "paths", "router_id", "sort_key")

    def __init__(self, address: str, asn: int, router_id: str, kind: Kind) -> None:
        self.address = address
        ip = ipaddress.ip_address(address) if address else ipaddress.IPv4Address(0)
        self.addr_key = (ip.version, int(ip))
        self.asn = asn
        self.router_id = int(ipaddress.IPv4Address(router_id))
        self.kind = kind
        self.paths: dict[tuple[AttrSet, bytes], Path] = {}
        self.sort_key = self.addr_key

    @property
    def ibgp(self) -> bool:
        return self.kind in (Kind.IBGP, Kind.CLIENT)

    def path(self, attrs: AttrSet, nh: bytes = b"") -> Path:
        """The one Path of this source with these attributes and next hop."""
        key = (attrs, nh)
        p = self.paths.get(key)
        if p is None:
            p = self.paths[key] = Path(attrs, nh, self)
        return p

    def forget_paths(self) -> None:
        self.paths.clear()

    def __repr__(self) -> str:
        return f"Source({self.address or 'local'}, AS{self.asn}, {self.kind.name})"


def decision_fields(raw: bytes) -> tuple[int, int, int, int, int, int | None, bytes]:
    """LOCAL_PREF (default 100), AS_PATH length (RFC 4271 9.1.2.2 a), neighbouring AS (0:
    none), ORIGIN (missing: INCOMPLETE), MED (missing: 0), ORIGINATOR_ID, CLUSTER_LIST (raw),
    read straight from a canonical attribute block (4-octet ASNs)."""
    local_pref = DEFAULT_LOCAL_PREF
    path_len = 0
    neighbor_as = 0
    origin = 2
    med = 0
    originator = None
    clusters = b""
    i = 0
    n = len(raw)
    while i < n:
        flags = raw[i]
        code = raw[i + 1]
        if flags & 0x10:
            start = i + 4
            i = start + ((raw[i + 2] << 8) | raw[i + 3])
        else:
            start = i + 3
            i = start + raw[i + 2]
        if code == 2:
            k = start
            first = True
            while k + 2 <= i:
                seg_type = raw[k]
                count = raw[k + 1]
                if seg_type == 2:
                    path_len += count
                elif seg_type == 1:
                    path_len += 1
                if first and seg_type in (1, 2):
                    if seg_type == 2 and count:
                        neighbor_as = int.from_bytes(raw[k + 2 : k + 6], "big")
                    first = False
                k += 2 + 4 * count
        elif code == 1:
            origin = raw[start]
        elif code == 5:
            local_pref = int.from_bytes(raw[start:i], "big")
        elif code == 4:
            med = int.from_bytes(raw[start:i], "big")
        elif code == 9:
            originator = int.from_bytes(raw[start:i], "big")
        elif code == 10:
            clusters = raw[start:i]
    return local_pref, path_len, neighbor_as, origin, med, originator, clusters


class Path:
    """A route's attributes from one source, with the decision-process fields read out."""

    __slots__ = (
        "as_path_len",
        "attrs",
        "cluster_len",
        "clusters",
        "exported",
        "group",
        "group_bucket",
        "llgr",
        "local_pref",
        "loop",
        "med",
        "neighbor_as",
        "nh",
        "origin",
        "originator",
        "router_id",
        "source",
    )

    def __init__(self, attrs: AttrSet, nh: bytes, source: Source) -> None:
        self.attrs = attrs
        self.nh = nh
        self.source = source
        (
            self.local_pref,
            self.as_path_len,
            self.neighbor_as,
            self.origin,
            self.med,
            self.originator,
            self.clusters,
        ) = decision_fields(attrs.raw)
        self.router_id: int = self.originator if self.originator is not None else source.router_id
        self.cluster_len = len(self.clusters) >> 2
        # what this path becomes for the first update group that sends it (most paths are
        # sent by one group), and for any other group or policy term in ``exported``
        self.group: object = None
        self.group_bucket: Any = None
        self.exported: dict[Any, Any] | None = None
        self.loop: str | None = None  # why it is a loop ("" if it is not), once checked
        # a long-lived stale route (RFC 9494): least preferred, sent to LLGR peers only; a
        # route that arrives with the LLGR_STALE community is one too (RFC 9494 4.3)
        self.llgr = b"\xff\xff\x00\x06" in attrs.raw and LLGR_STALE in attrs.communities

    @property
    def ebgp(self) -> bool:
        return self.source.kind is Kind.EBGP

    def __repr__(self) -> str:
        return f"Path({self.source!r}, nh={self.nh.hex()}, {self.attrs!r})"
