"""The Loc-RIB as TABLE_DUMP_V2 (RFC 6396 4.3), sans-IO: a PEER_INDEX_TABLE of every
source of routes (this speaker first, as 0.0.0.0), then one RIB record per prefix holding
the best path, or, with ``all_paths``, every candidate route (each peer's Adj-RIB-In entry
that passed import policy), best first.

Attributes are the canonical bytes the RIB holds (4-octet AS_PATH, as RFC 6396 4.3.4
wants); a route whose next hop is not the NEXT_HOP attribute (IPv6, or IPv4 with an IPv6
next hop) gets an MP_REACH_NLRI holding only the next hop. The RIB keeps no arrival time per
route: the originated time of every entry is the time of the dump.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..rib.path import Path, Source
from .codec import PeerEntry, RibEntry, encode_peer_index, encode_rib, rib_attributes

if TYPE_CHECKING:
    from ..router import Router


def _sources(router: Router) -> list[Source]:
    out = [router.local]
    seen = {id(router.local)}
    for st in (*router.peers.values(), *router.retained.values()):
        if id(st.source) not in seen:
            seen.add(id(st.source))
            out.append(st.source)
    return out


def _entry(s: Source, router: Router) -> PeerEntry:
    bgp_id = str(ipaddress.IPv4Address(s.router_id))
    return PeerEntry(bgp_id, s.address or "0.0.0.0", s.asn)


def _order(prefix: bytes) -> tuple[bytes, int]:
    return prefix[1:], prefix[0]


class TableDump:
    """Encodes a snapshot of the Loc-RIB, in chunks (:meth:`chunks`) so that a shell can
    write a large table without holding the event loop for long. The snapshot is taken
    when the object is made (one copy of each family's prefix table); the paths it refers
    to never change."""

    def __init__(self, router: Router, now: float, all_paths: bool = False, view_name: str = "") -> None:
        self.now = now
        self.all_paths = all_paths
        sources = _sources(router)
        self.index = {id(s): i for i, s in enumerate(sources)}
        self.header = encode_peer_index(now, router.router_id, [_entry(s, router) for s in sources], view_name)
        self.tables = [(fam, list(loc.routes.items())) for fam, loc in sorted(router.locs.items())]
        self.prefixes = 0
        self.entries = 0

    def chunks(self, size: int = 2000) -> Iterator[bytes]:
        """The PEER_INDEX_TABLE, then the RIB records, ``size`` prefixes per chunk."""
        yield self.header
        now = int(self.now)
        index = self.index
        seq = 0
        out: list[bytes] = []
        for fam, items in self.tables:
            items.sort(key=lambda kv: _order(kv[0]))
            for prefix, r in items:
                paths: list[Path] = [r] if isinstance(r, Path) else (r if self.all_paths else r[:1])
                entries = []
                for p in paths:
                    i = index.get(id(p.source))
                    if i is not None:
                        entries.append(RibEntry(i, now, rib_attributes(p.attrs.raw, fam, p.nh)))
                if not entries:
                    continue
                out.append(encode_rib(self.now, seq, fam, prefix, entries))
                seq += 1
                self.entries += len(entries)
                if len(out) >= size:
                    yield b"".join(out)
                    out = []
        self.prefixes = seq
        if out:
            yield b"".join(out)
