"""The routing state a BGP4MP recording leads to, as TABLE_DUMP_V2 (pure).

Every peer's announcements and withdrawals are applied in file order (up to a time, if
given); a peer's routes go when its recorded session leaves Established. The result is one
RIB record per prefix with each peer's route, the PEER_INDEX_TABLE naming the peers with the
BGP identifier of their OPEN when the recording has it. Messages we sent (``_LOCAL``) are
left out: this is what the recording speaker received.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..wire.constants import OPEN
from ..wire.family import Family
from .codec import (
    Bgp4mpMessage,
    Bgp4mpStateChange,
    MrtError,
    PeerEntry,
    Record,
    RibEntry,
    encode_peer_index,
    encode_rib,
    rib_attributes,
)
from .routes import message_routes

ESTABLISHED = 6


@dataclass
class RibState:
    """Routes per peer: (family, prefix, path id) -> (attribute bytes, next hop, since)."""

    peers: dict[tuple[str, int], dict[tuple[Family, bytes, int | None], tuple[bytes, bytes, float]]] = field(
        default_factory=dict
    )
    bgp_ids: dict[str, str] = field(default_factory=dict)
    last: float = 0.0
    updates: int = 0

    def routes(self) -> int:
        return sum(len(r) for r in self.peers.values())


def _next_hop(text: str | None, fam: Family, has_next_hop_attr: bool) -> bytes:
    if text is None or (fam.afi == 1 and has_next_hop_attr):
        return b""  # the NEXT_HOP attribute carries it
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        raise MrtError(f"a next hop that is not an address: {text}") from None


def apply(records: Iterable[Record], until: float | None = None) -> RibState:
    """The state after the records (those before ``until`` when it is given)."""
    st = RibState()
    for rec in records:
        if until is not None and rec.timestamp > until:
            break
        if isinstance(rec, Bgp4mpStateChange):
            st.last = rec.timestamp
            if rec.old_state == ESTABLISHED and rec.new_state != ESTABLISHED:
                st.peers.pop((rec.peer_address, rec.peer_as), None)
            continue
        if not isinstance(rec, Bgp4mpMessage) or rec.local:
            continue
        st.last = rec.timestamp
        if rec.message[18] == OPEN and len(rec.message) >= 29:
            st.bgp_ids[rec.peer_address] = str(ipaddress.IPv4Address(rec.message[24:28]))
            continue
        found = message_routes(rec)
        if not found:
            continue
        st.updates += 1
        table = st.peers.setdefault((rec.peer_address, rec.peer_as), {})
        for r in found:
            key = (r.family, r.prefix, r.path_id)
            if r.kind == "W":
                table.pop(key, None)
            elif r.attrs is not None:
                has_nh = r.attrs.next_hop is not None
                table[key] = (r.attrs.raw, _next_hop(r.next_hop, r.family, has_nh), r.timestamp)
    return st


def table_dump(st: RibState, collector_id: str = "0.0.0.0", view_name: str = "") -> Iterator[bytes]:
    """The state as TABLE_DUMP_V2: the PEER_INDEX_TABLE, then the RIB records in address
    order (a prefix with ADD-PATH routes goes in the ADDPATH subtypes)."""
    keys = sorted(st.peers)
    peers = [PeerEntry(st.bgp_ids.get(addr, "0.0.0.0"), addr, asn) for addr, asn in keys]
    yield encode_peer_index(st.last, collector_id, peers, view_name)
    by_prefix: dict[tuple[Family, bytes], list[tuple[int, int | None, bytes, bytes, float]]] = {}
    for index, key in enumerate(keys):
        for (fam, prefix, path_id), (attrs, nh, since) in st.peers[key].items():
            by_prefix.setdefault((fam, prefix), []).append((index, path_id, attrs, nh, since))
    seq = 0
    for fam, prefix in sorted(by_prefix, key=lambda k: (k[0], k[1][1:], k[1][0])):
        entries = by_prefix[(fam, prefix)]
        plain = [e for e in entries if e[1] is None]
        with_id = [e for e in entries if e[1] is not None]
        for group in (plain, with_id):
            if group:
                rib = [RibEntry(i, int(since), rib_attributes(a, fam, nh), pid) for i, pid, a, nh, since in group]
                yield encode_rib(st.last, seq, fam, prefix, rib)
                seq += 1
