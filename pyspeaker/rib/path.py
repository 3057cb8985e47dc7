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


class Path:
    """A route's attributes from one source, with the decision-process fields read out."""

    __slots__ = (
        "as_path_len",
        "attrs",
        "cluster_len",
        "exported",
        "local_pref",
        "med",
        "neighbor_as",
        "nh",
        "origin",
        "router_id",
        "source",
    )

    def __init__(self, attrs: AttrSet, nh: bytes, source: Source) -> None:
        self.attrs = attrs
        self.nh = nh
        self.source = source
        v = attrs.values()
        lp = v.get("local_pref")
        self.local_pref: int = DEFAULT_LOCAL_PREF if lp is None else lp
        path = v.get("as_path")
        self.as_path_len: int = path.length if path is not None else 0
        first = path.first_as if path is not None else None
        # RFC 4271 9.1.2.2 (c): the neighbouring AS; a locally originated or iBGP-only path has our own
        self.neighbor_as: int = first if first is not None else 0
        origin = v.get("origin")
        self.origin: int = origin if origin is not None else 2
        self.med: int = v.get("med") or 0
        originator = v.get("originator_id")
        self.router_id: int = int(originator) if originator is not None else source.router_id
        self.cluster_len: int = len(v.get("cluster_list", ()))
        # export view -> what this path becomes for it (computed once per view, see export/)
        self.exported: dict[Any, Any] = {}

    @property
    def ebgp(self) -> bool:
        return self.source.kind is Kind.EBGP

    def __repr__(self) -> str:
        return f"Path({self.source!r}, nh={self.nh.hex()}, {self.attrs!r})"
