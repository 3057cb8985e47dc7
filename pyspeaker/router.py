"""The routing core, sans-IO: sessions' UPDATEs in, Adj-RIBs-In and Loc-RIB updated, the
difference sent to update groups. The asyncio shell calls :meth:`Router.peer_up`,
:meth:`Router.receive`, :meth:`Router.peer_down`, :meth:`Router.drained`, and
:meth:`Router.flush` after each batch of input; the Router writes to the links it was given.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .export.groups import Group, Link, Member
from .export.view import ExportView
from .rib.loc import LocRib
from .rib.path import Kind, Path, Source
from .rib.policy import Policy
from .wire.attrs import AttrSet
from .wire.constants import COMMUNITY_LLGR_STALE, COMMUNITY_NO_LLGR, MARKER
from .wire.family import CODECS, Family
from .wire.update import Update

log = logging.getLogger("pyspeaker.rib")


@dataclass(eq=False)
class PeerState:
    """The routing state of one Established session."""

    link: Link
    source: Source
    families: frozenset[Family]
    view: ExportView
    import_policy: Policy | None
    export_policy: Policy | None
    adj_in: dict[Family, dict[bytes, Path]] = field(default_factory=dict)
    members: dict[Family, Member] = field(default_factory=dict)
    rejected: dict[Family, int] = field(default_factory=dict)  # prefixes refused (loops, policy)
    eor_received: set[Family] = field(default_factory=set)
    refreshing: dict[Family, set[bytes]] = field(default_factory=dict)  # between BoRR and EoRR
    enhanced_refresh: bool = False  # RFC 7313 negotiated
    # graceful restart (RFC 4724): routes kept from an earlier session, until End-of-RIB
    stale: dict[Family, dict[bytes, Path]] = field(default_factory=dict)

    def stale_count(self, family: Family) -> int:
        return len(self.stale.get(family, ()))

    @property
    def address(self) -> str:
        return self.source.address

    def advertised(self, family: Family) -> int:
        m = self.members.get(family)
        if m is None:
            return 0
        g = m.group
        own = sum(b.count for b in g.by_source.get(self.source, ()))
        return len(g.where) - own


class Router:
    """Loc-RIB per family, Adj-RIB-In per peer, update groups, and the decision between."""

    def __init__(self, asn: int, router_id: str, cluster_id: str | None = None, always_compare_med: bool = False):
        self.asn = asn
        self.router_id = router_id
        self.local = Source("", asn, router_id, Kind.LOCAL)
        self.cluster_id = int(ipaddress.IPv4Address(cluster_id or router_id))
        self.always_compare_med = always_compare_med
        self.locs: dict[Family, LocRib] = {}
        self.groups: dict[tuple[Family, ExportView, Policy | None], Group] = {}
        self.family_groups: dict[Family, list[Group]] = {}
        self.peers: dict[Link, PeerState] = {}
        self.dirty: dict[Family, dict[bytes, None]] = {}
        self.local_routes: dict[Family, dict[bytes, Path]] = {}
        self.deferring = False  # after our own graceful restart: nothing sent until end_deferral()
        self._waiting: list[Member] = []
        self.retained: dict[str, PeerState] = {}  # peer address -> the state of a session that ended, kept stale
        self._pending: dict[Link, list[bytes]] = {}
        # called at each flush with the prefixes of a family whose best path changed (route
        # events for the control API); None when nobody listens
        self.on_change: Callable[[Family, list[bytes]], None] | None = None

    def loc(self, family: Family) -> LocRib:
        loc = self.locs.get(family)
        if loc is None:
            loc = self.locs[family] = LocRib(family, self.always_compare_med)
            self.dirty[family] = {}
            self.family_groups[family] = []
        return loc

    # -- sessions ---------------------------------------------------------------------------
    def peer_up(
        self,
        link: Link,
        source: Source,
        families: Iterable[Family],
        view: ExportView,
        import_policy: Policy | None = None,
        export_policy: Policy | None = None,
        keep_stale: frozenset[Family] = frozenset(),
    ) -> PeerState:
        """A session reached Established: its Adj-RIBs-In start empty and it joins an update
        group per family, which sends it the table and then End-of-RIB. When the peer's
        routes were kept from its last session (:meth:`peer_lost`), those of the families in
        ``keep_stale`` stay, stale, until its End-of-RIB (or :meth:`sweep`); the rest go."""
        fams = frozenset(f for f in families if f in CODECS)
        old = self.retained.pop(source.address, None)
        stale: dict[Family, dict[bytes, Path]] = {}
        if old is not None:
            # RFC 4724 4.2: the same peer is back; its routes of the families in keep_stale
            # stay until End-of-RIB, those of every other family go now
            if old.source.kind is source.kind and old.source.asn == source.asn:
                source = old.source  # the same Source: unchanged routes are the same Paths
                stale = {f: d for f, d in old.stale.items() if f in keep_stale and f in fams and d}
            self._remove_stale(old, [f for f in old.stale if f not in stale])
            if source is not old.source:
                self._forget_source(old)
        st = PeerState(link, source, fams, view, import_policy, export_policy, stale=stale)
        self.peers[link] = st
        # no flush first: the joining member is sent the Adj-RIB-Out as it stands, and the
        # changes not yet flushed reach it like every other member that is catching up
        for fam in sorted(fams):
            st.adj_in[fam] = {}
            group = self._group(fam, view, export_policy)
            if self.deferring:
                st.members[fam] = m = group.join_later(link, source)
                self._waiting.append(m)
            else:
                st.members[fam] = group.join(link, source)
        return st

    def end_deferral(self) -> None:
        """Route selection is no longer deferred: every group's Adj-RIB-Out is brought up to
        date, then each peer that came up meanwhile is sent its table and End-of-RIB (only
        once its whole table for the family is out, RFC 4724 4.1)."""
        self.deferring = False
        self.flush()
        waiting, self._waiting = self._waiting, []
        for m in waiting:
            m.group.admit(m)

    def _group(self, fam: Family, view: ExportView, policy: Policy | None) -> Group:
        key = (fam, view, policy)
        g = self.groups.get(key)
        if g is None:
            loc = self.loc(fam)
            g = self.groups[key] = Group(fam, view, loc, policy)
            g.out = self._collect
            g.apply(list(loc.routes))  # no members yet: builds its Adj-RIB-Out only
            self.family_groups[fam].append(g)
        return g

    def peer_down(self, link: Link) -> PeerState | None:
        """A session ended: it leaves its groups, and its routes are withdrawn everywhere
        (at the next :meth:`flush`)."""
        st = self.peers.pop(link, None)
        if st is None:
            return None
        for m in st.members.values():
            m.group.leave(m)
        self._remove(st, list(st.adj_in))
        self._remove_stale(st, list(st.stale))
        self._forget_source(st)
        return st

    def peer_lost(self, link: Link, families: frozenset[Family]) -> PeerState | None:
        """A session of a graceful-restart peer ended: its routes of ``families`` stay in
        use, marked stale (O(1) per family: the Adj-RIB-In becomes the stale table), and
        nothing is withdrawn from anyone; the routes of other families go."""
        st = self.peers.pop(link, None)
        if st is None:
            return None
        for m in st.members.values():
            m.group.leave(m)
        st.members = {}
        gone = [f for f in st.adj_in if f not in families]
        self._remove(st, gone)
        self._remove_stale(st, [f for f in st.stale if f not in families])
        for fam in families:
            adj = st.adj_in.get(fam)
            if not adj:
                continue
            old = st.stale.get(fam)
            if old:  # lost again before End-of-RIB: what came since is stale too
                old.update(adj)
            else:
                st.stale[fam] = adj
            st.adj_in[fam] = {}
        st.refreshing.clear()
        self.retained[st.address] = st
        return st

    def sweep(self, address: str, family: Family | None = None) -> int:
        """Withdraw a peer's stale routes (of one family, or all): End-of-RIB came, or a
        timer ran out. Returns how many went."""
        st = self.retained.get(address) or self.peer(address)
        if st is None:
            return 0
        fams = list(st.stale) if family is None else [family]
        n = sum(len(st.stale.get(f, ())) for f in fams)
        self._remove_stale(st, fams)
        return n

    def to_long_lived(self, address: str, long_lived: dict[Family, int]) -> dict[Family, int]:
        """RFC 9494 4.2: the restart time ran out (or was 0): the stale routes of the families
        in ``long_lived`` become long-lived stale (LLGR_STALE added, least preferred, sent
        only to LLGR peers), except those carrying NO_LLGR; the others go. Returns the
        number kept per family."""
        st = self.retained.get(address)
        if st is None:
            return {}
        self._remove_stale(st, [f for f in st.stale if f not in long_lived])
        kept: dict[Family, int] = {}
        source = st.source
        variants: dict[int, Path | None] = {}
        for fam in list(st.stale):
            stale = st.stale[fam]
            loc = self.locs[fam]
            dirty = self.dirty[fam]
            gone = []
            for prefix, path in stale.items():
                if path.llgr:
                    continue
                variant = variants.get(id(path), path)
                if variant is path:
                    variant = variants[id(path)] = _long_lived(path)
                if variant is None:
                    gone.append(prefix)
                    continue
                stale[prefix] = variant
                loc.set(prefix, variant)
                dirty[prefix] = None
            for prefix in gone:
                del stale[prefix]
                if loc.remove(prefix, source):
                    dirty[prefix] = None
            kept[fam] = len(stale)
        return kept

    def drop_retained(self, address: str) -> int:
        """The restart time ran out and the peer did not come back: its routes go."""
        st = self.retained.pop(address, None)
        if st is None:
            return 0
        n = sum(len(d) for d in st.stale.values())
        self._remove_stale(st, list(st.stale))
        self._forget_source(st)
        return n

    def _remove(self, st: PeerState, families: list[Family]) -> None:
        source = st.source
        for fam in families:
            adj = st.adj_in.get(fam)
            if not adj:
                continue
            loc = self.locs[fam]
            dirty = self.dirty[fam]
            for prefix in adj:
                if loc.remove(prefix, source):
                    dirty[prefix] = None
            adj.clear()

    def _remove_stale(self, st: PeerState, families: list[Family]) -> None:
        source = st.source
        for fam in families:
            stale = st.stale.pop(fam, None)
            if not stale:
                continue
            loc = self.locs[fam]
            dirty = self.dirty[fam]
            adj = st.adj_in.get(fam, {})
            for prefix in stale:
                if prefix not in adj and loc.remove(prefix, source):
                    dirty[prefix] = None

    def _forget_source(self, st: PeerState) -> None:
        for fam in st.families | set(st.adj_in):
            for g in self.family_groups.get(fam, ()):
                g.drop_source(st.source)  # the buckets live on where the Adj-RIB-Out still uses them
        st.source.forget_paths()

    def drained(self, link: Link) -> None:
        """The link's transport has room again: continue what it is owed."""
        st = self.peers.get(link)
        if st is not None:
            for m in st.members.values():
                if m.behind:
                    m.group.catch_up(m)

    def refresh(self, link: Link, family: Family) -> bool:
        """Send a peer its Adj-RIB-Out for ``family`` again (ROUTE-REFRESH), framed by
        BoRR/EoRR when enhanced route refresh was negotiated."""
        st = self.peers.get(link)
        m = st.members.get(family) if st is not None else None
        if st is None or m is None:
            return False
        m.group.refresh(m, st.enhanced_refresh)
        return True

    def set_import_policy(self, link: Link, policy: Policy | None) -> bool:
        """A new import policy for the routes the peer sends from now on (a live reload: the
        caller asks the peer to send its routes again with ROUTE-REFRESH)."""
        st = self.peers.get(link)
        if st is None:
            return False
        st.import_policy = policy
        return True

    def set_export_policy(self, link: Link, policy: Policy | None) -> list[Family]:
        """A new export policy without a session reset (a live reload): the peer leaves its
        update groups for those of the new policy and is sent its new Adj-RIB-Out again, with
        a withdrawal for every prefix it had that the new policy does not send. Returns the
        families re-sent."""
        st = self.peers.get(link)
        if st is None or st.export_policy is policy:
            return []
        st.export_policy = policy
        source = st.source
        done = []
        for fam, old_m in list(st.members.items()):
            old = old_m.group
            new = self._group(fam, st.view, policy)
            if new is old:
                continue
            old.leave(old_m)
            if old_m in self._waiting:  # not admitted yet (selection deferred): nothing was sent
                self._waiting.remove(old_m)
                st.members[fam] = m = new.join_later(link, source)
                self._waiting.append(m)
                continue
            st.members[fam] = new.move_in(old_m)
            done.append(fam)
        return done

    def begin_of_refresh(self, link: Link, family: Family) -> None:
        """The peer starts re-sending its routes of ``family`` (RFC 7313 BoRR)."""
        st = self.peers.get(link)
        if st is not None and family in st.adj_in:
            st.refreshing[family] = set()

    def end_of_refresh(self, link: Link, family: Family) -> int:
        """RFC 7313 EoRR: the routes the peer did not re-send since BoRR are gone."""
        st = self.peers.get(link)
        if st is None:
            return 0
        fresh = st.refreshing.pop(family, None)
        adj = st.adj_in.get(family)
        if fresh is None or adj is None:
            return 0
        stale = [p for p in adj if p not in fresh]
        loc = self.locs[family]
        dirty = self.dirty[family]
        for prefix in stale:
            del adj[prefix]
            if loc.remove(prefix, st.source):
                dirty[prefix] = None
        return len(stale)

    # -- input --------------------------------------------------------------------------------
    def receive(self, link: Link, update: Update) -> None:
        st = self.peers.get(link)
        if st is None:
            return
        source = st.source
        eor = update.end_of_rib
        if eor is not None:
            st.eor_received.add(eor)
            if st.stale.get(eor):
                n = len(st.stale[eor])
                self._remove_stale(st, [eor])
                log.info(
                    "%s: End-of-RIB for %s: %d stale routes withdrawn",
                    source.address,
                    eor,
                    n,
                    extra={"peer": source.address},
                )
            return
        for fam, prefixes in update.withdrawals().items():
            adj = st.adj_in.get(fam)
            if adj is None:
                continue
            loc = self.locs[fam]
            dirty = self.dirty[fam]
            stale = st.stale.get(fam)
            for prefix in prefixes:
                held = adj.pop(prefix, None) is not None or (stale and stale.pop(prefix, None) is not None)
                if held and loc.remove(prefix, source):
                    dirty[prefix] = None
        announced = update.announced()
        if not announced:
            return
        attrs = update.attrs
        assert attrs is not None
        reach = update.reach
        policy = st.import_policy
        for fam, prefixes in announced.items():
            adj = st.adj_in.get(fam)
            if adj is None:
                continue  # a family the session did not negotiate: ignored (RFC 4760 6)
            if st.refreshing:
                fresh = st.refreshing.get(fam)
                if fresh is not None:
                    fresh.update(prefixes)
            nh = reach.next_hop if reach is not None and reach.family == fam else b""
            path = source.path(attrs, nh)
            why = path.loop
            if why is None:
                why = path.loop = self._loop(path)
            if why:
                self._refuse(st, fam, prefixes)
                log.debug(
                    "%s: %d prefixes ignored: %s", source.address, len(prefixes), why, extra={"peer": source.address}
                )
                continue
            loc = self.locs[fam]
            dirty = self.dirty[fam]
            stale = st.stale.get(fam)
            if stale:  # fresh routes replace stale ones (RFC 4724 4.2)
                for prefix in prefixes:
                    stale.pop(prefix, None)
            if policy is None:
                routes = loc.routes
                for prefix in prefixes:
                    if adj.get(prefix) is path:
                        continue
                    adj[prefix] = path
                    r = routes.get(prefix)
                    if r is path:
                        continue  # the same route again (a stale one refreshed): nothing to send
                    if r is None or (r.__class__ is Path and r.source is source):
                        routes[prefix] = path  # the only route for the prefix: no decision to make
                        dirty[prefix] = None
                    elif loc.set(prefix, path):
                        dirty[prefix] = None
                continue
            bits = CODECS[fam].max_bits
            for prefix in prefixes:
                p = self._imported(policy, prefix, fam, bits, path)
                if p is None:
                    self._refuse(st, fam, [prefix])
                elif adj.get(prefix) is not p:
                    adj[prefix] = p
                    if loc.set(prefix, p):
                        dirty[prefix] = None

    @staticmethod
    def _imported(policy: Policy, prefix: bytes, fam: Family, bits: int, path: Path) -> Path | None:
        index = policy.decide(prefix, fam, bits, path.attrs)
        key = ("import", policy, index)
        exported = path.exported
        if exported is None:
            exported = path.exported = {}
        cached = exported.get(key, path)
        if cached is not path:
            return cached  # type: ignore[no-any-return]
        attrs = policy.result(index, path.attrs)
        result = None if attrs is None else path if attrs is path.attrs else path.source.path(attrs, path.nh)
        exported[key] = result
        return result

    def _refuse(self, st: PeerState, fam: Family, prefixes: list[bytes]) -> None:
        adj = st.adj_in.get(fam)
        if adj is None:
            return
        st.rejected[fam] = st.rejected.get(fam, 0) + len(prefixes)
        loc = self.locs[fam]
        dirty = self.dirty[fam]
        stale = st.stale.get(fam)
        for prefix in prefixes:
            held = adj.pop(prefix, None) is not None or (stale and stale.pop(prefix, None) is not None)
            if held and loc.remove(prefix, st.source):
                dirty[prefix] = None

    def _loop(self, path: Path) -> str:
        """Why a route must be ignored as a loop (RFC 4271 9.1.2, RFC 4456 8), or ""."""
        source = path.source
        if source.kind is Kind.EBGP and path.attrs.as_path.contains(self.asn):
            return f"AS_PATH contains our AS {self.asn}"
        if source.ibgp:
            if path.originator == self.local.router_id:
                return "ORIGINATOR_ID is our router id"
            clusters = path.clusters
            if clusters:
                ours = self.cluster_id.to_bytes(4, "big")
                if any(clusters[i : i + 4] == ours for i in range(0, len(clusters), 4)):
                    return "CLUSTER_LIST contains our cluster id"
        return ""

    # -- routes of our own ----------------------------------------------------------------------
    def originate(self, family: Family, prefix: bytes, attrs: AttrSet, nh: bytes = b"") -> None:
        path = self.local.path(attrs, nh)
        self.local_routes.setdefault(family, {})[prefix] = path
        if self.loc(family).set(prefix, path):
            self.dirty[family][prefix] = None

    def withdraw_local(self, family: Family, prefix: bytes) -> bool:
        routes = self.local_routes.get(family, {})
        if routes.pop(prefix, None) is None:
            return False
        if self.loc(family).remove(prefix, self.local):
            self.dirty[family][prefix] = None
        return True

    # -- output --------------------------------------------------------------------------------
    def flush(self) -> None:
        """Send every group the changes of best paths since the last flush: one write per
        peer, whatever the number of its groups."""
        if self.deferring:
            return
        for fam, dirty in self.dirty.items():
            if dirty:
                changed = list(dirty)
                dirty.clear()
                if self.on_change is not None:
                    self.on_change(fam, changed)
                for g in self.family_groups[fam]:
                    g.apply(changed)
        pending = self._pending
        if pending:
            self._pending = {}
            # the UPDATEs in each piece, counted once: most pieces go to every member alike
            counted: dict[int, int] = {}
            for link, parts in pending.items():
                updates = 0
                for data in parts:
                    n = counted.get(id(data))
                    if n is None:
                        n = counted[id(data)] = data.count(MARKER)
                    updates += n
                link.write_batch(parts, updates)

    def _collect(self, link: Link, data: bytes) -> None:
        parts = self._pending.get(link)
        if parts is None:
            self._pending[link] = [data]
        else:
            parts.append(data)

    def peer(self, address: str) -> PeerState | None:
        return next((st for st in self.peers.values() if st.address == address), None)


def _long_lived(path: Path) -> Path | None:
    """The long-lived stale variant of a path (LLGR_STALE added), or None for NO_LLGR."""
    communities = path.attrs.communities
    if COMMUNITY_NO_LLGR in communities:
        return None
    attrs = path.attrs
    if COMMUNITY_LLGR_STALE not in communities:
        attrs = attrs.replace(communities=(*communities, COMMUNITY_LLGR_STALE))
    variant = path.source.path(attrs, path.nh)
    variant.llgr = True
    return variant
