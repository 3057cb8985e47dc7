"""Update groups: one Adj-RIB-Out and one encoding for every peer with the same export view.

A group (per family and :class:`~pyspeaker.export.view.ExportView`) keeps what it advertises
as *buckets*: one per (attributes as sent, next hop, source), each with the number of its
prefixes and, once asked for, its encoded UPDATEs. A change is encoded once into *segments*, and the same bytes
are written to every member; a segment carries the source it must not be sent back to (RFC
4456: a route is never reflected to the peer it came from), or the one member it is only for
(a withdrawal for the peer whose own route just became the best).

Flow control: a member whose transport holds more than ``high_water`` unsent bytes is
*behind*. It gets no more segments; the prefixes that change meanwhile are noted (latest
state wins, so its backlog is bounded by the table, not by the churn), and when its transport
drains it is sent the current state of exactly those prefixes. A member that joins is behind
from the start with the whole table to send, followed by End-of-RIB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..rib.loc import LocRib
from ..rib.path import Path, Source
from ..rib.policy import Policy
from ..wire import pack
from ..wire.constants import MARKER, REFRESH_BORR, REFRESH_EORR
from ..wire.family import CODECS, Family
from ..wire.notification import RouteRefresh
from .view import ExportView, Out, export, may_send

log = logging.getLogger("pyspeaker.export")

HIGH_WATER = 256 * 1024
DUMP_CHUNK = 64 * 1024  # bytes written per step while catching up


class Link(Protocol):
    """The sending side of one session, as the export sees it."""

    address: str

    def write(self, data: bytes) -> None: ...

    def write_batch(self, parts: list[bytes], updates: int) -> None:
        """``parts`` in one write: whole UPDATEs, ``updates`` of them in all."""
        ...

    def backlog(self) -> int: ...


class Bucket:
    """Prefixes sent with the same attributes, next hop and source."""

    __slots__ = ("count", "encoded", "out", "source")

    def __init__(self, out: Out, source: Source) -> None:
        self.out = out
        self.source = source
        self.count = 0  # prefixes sent with it now (the prefixes themselves: Group.where)
        self.encoded: bytes | None = None


class Member:
    """One peer in one group."""

    __slots__ = ("active", "dirty", "dump", "dump_pos", "eor_sent", "eorr_due", "group", "lagging", "link", "source")

    def __init__(self, group: Group, link: Link, source: Source) -> None:
        self.group = group
        self.link = link
        self.source = source
        self.dirty: dict[bytes, None] = {}
        self.dump: bytes | None = None  # the table as it stood when it joined, being sent
        self.dump_pos = 0
        self.active = True
        self.eor_sent = False
        self.lagging = False  # its transport filled up: changes are noted, not sent
        self.eorr_due = False  # an enhanced route refresh is being answered (RFC 7313)

    @property
    def behind(self) -> bool:
        return self.lagging or self.dump is not None or not self.eor_sent


Segment = tuple[Source | None, Source | None, bytes]  # (not for, only for, bytes)


class Group:
    def __init__(
        self,
        family: Family,
        view: ExportView,
        loc: LocRib,
        policy: Policy | None = None,
        high_water: int = HIGH_WATER,
        on_eor: Callable[[Member], None] | None = None,
    ) -> None:
        self.family = family
        self.view = view
        self.loc = loc
        self.policy = policy
        self.bits = CODECS[family].max_bits if family in CODECS else 0
        self.high_water = high_water
        self.on_eor = on_eor
        self.where: dict[bytes, Bucket] = {}  # the Adj-RIB-Out: prefix -> bucket it is sent in
        self.buckets: dict[tuple[Out, Source], Bucket] = {}
        self.by_source: dict[Source, list[Bucket]] = {}
        self.members: dict[Member, None] = {}
        self._table: bytes | None = None  # every bucket's UPDATEs, for peers that join
        self._unencoded: set[Bucket] = set()  # buckets whose UPDATEs changed since last encoded
        self.unsendable = 0  # best paths this view cannot carry (e.g. no next hop of the family)
        # where apply() sends a member's bytes: None writes at once; the Router collects them
        # instead, so a peer in several groups (IPv4, IPv6) gets one write per flush
        self.out: Callable[[Link, bytes], None] | None = None

    def __repr__(self) -> str:
        return f"Group({self.family}, {self.view.kind.name}, {len(self.members)} members)"

    # -- membership ---------------------------------------------------------------------
    def join(self, link: Link, source: Source) -> Member:
        m = Member(self, link, source)
        self.members[m] = None
        m.dump = self._snapshot(source)
        self.catch_up(m)
        return m

    def join_later(self, link: Link, source: Source) -> Member:
        """A member that is sent nothing until :meth:`admit` (route selection deferred after
        our own restart, RFC 4724 4.1)."""
        return Member(self, link, source)

    def admit(self, m: Member) -> None:
        if m.active:
            self.members[m] = None
            m.dump = self._snapshot(m.source)
            m.dump_pos = 0
            self.catch_up(m)

    def move_in(self, old: Member) -> Member:
        """A member of another group of this family, moving here without a session reset
        (its export policy changed): sent the current state of every prefix it had there or
        has here; or, if its first table was still being sent, this group's table instead,
        then withdrawals of what it had that this group does not send."""
        source = old.source
        had = [p for p, b in old.group.where.items() if b.source is not source]
        m = Member(self, old.link, source)
        self.members[m] = None
        if old.eor_sent and old.dump is None:
            m.eor_sent = True
            m.lagging = True  # caught up below, and on drain if the transport fills
            m.dirty = dict.fromkeys(had)
            m.dirty.update(old.dirty)
            for p, b in self.where.items():
                if b.source is not source:
                    m.dirty[p] = None
        else:
            m.dump = self._snapshot(source)
            m.dirty = dict.fromkeys(p for p in had if p not in self.where)
        self.catch_up(m)
        return m

    def leave(self, member: Member) -> None:
        member.active = False
        self.members.pop(member, None)

    def _snapshot(self, source: Source) -> bytes:
        """The UPDATEs of the whole Adj-RIB-Out, less the routes that came from ``source``.
        Shared by every peer that joins until the table changes (a peer that joins has sent
        nothing yet, so there is nothing of its own to leave out)."""
        self._encode_stale()
        own = self.by_source.get(source)
        if own and any(b.count for b in own):
            mine = set(map(id, own))
            return b"".join([b.encoded or b"" for b in self.buckets.values() if b.count and id(b) not in mine])
        table = self._table
        if table is None:
            table = self._table = b"".join([b.encoded or b"" for b in self.buckets.values() if b.count])
        return table

    def _encode_stale(self) -> None:
        """Encode every bucket whose UPDATEs changed since they were last encoded: one pass
        over the Adj-RIB-Out finds their prefixes."""
        pending = self._unencoded
        if not any(b.count for b in pending):
            return
        self._unencoded = {b for b in pending if not b.count}  # empty ones wait until they fill again
        lists: dict[Bucket, list[bytes]] = {}
        for prefix, b in self.where.items():
            if b in pending:
                lst = lists.get(b)
                if lst is None:
                    lists[b] = [prefix]
                else:
                    lst.append(prefix)
        for b, prefixes in lists.items():
            b.encoded = self._encode(b.out, prefixes)

    def drop_source(self, source: Source) -> None:
        """Forget the buckets of a source that is gone (its routes are already withdrawn)."""
        for b in self.by_source.pop(source, ()):
            self.buckets.pop((b.out, source), None)
            self._unencoded.discard(b)
        self._table = None

    # -- the export decision ----------------------------------------------------------------
    def _bucket_for(self, prefix: bytes, path: Path) -> Bucket | None:
        policy = self.policy
        if policy is None:
            key: object = self
        else:
            key = (self, policy.decide(prefix, self.family, self.bits, path.attrs))
        if path.group is key:
            return path.group_bucket  # type: ignore[no-any-return]
        cached: Any = path.exported.get(key, self) if path.exported is not None else self  # self: not computed yet
        if cached is not self:
            return cached  # type: ignore[no-any-return]
        bucket = None
        attrs_path = path
        if policy is not None:
            assert isinstance(key, tuple)
            result = policy.result(key[1], path.attrs)
            if result is not None and result is not path.attrs:
                attrs_path = Path(result, path.nh, path.source)
            elif result is None:
                attrs_path = None  # type: ignore[assignment]
        if attrs_path is not None:
            out = export(attrs_path, self.view, self.family)
            if out is None:
                if not self.unsendable and may_send(path.source.kind, self.view.kind):
                    log.warning(
                        "%s routes from %s cannot be sent to %s peers: no usable next hop of the family "
                        "(configure next_hop_v4/next_hop_v6, or extended_nexthop for IPv4 over IPv6)",
                        self.family,
                        path.source.address or "this speaker",
                        self.view.kind.name,
                        extra={"peer": path.source.address} if path.source.address else None,
                    )
                self.unsendable += 1
            else:
                bk = (out, path.source)
                bucket = self.buckets.get(bk)
                if bucket is None:
                    bucket = self.buckets[bk] = Bucket(out, path.source)
                    self._unencoded.add(bucket)
                    self.by_source.setdefault(path.source, []).append(bucket)
        if path.group is None and key is self:  # the common case gets the path's own slots
            path.group = key
            path.group_bucket = bucket
        else:
            if path.exported is None:
                path.exported = {}
            path.exported[key] = bucket
        return bucket

    def _encode(self, out: Out, prefixes: list[bytes]) -> bytes:
        return b"".join(pack.announce(self.family, out.attrs, prefixes, out.nh, self.view.max_len))

    def _withdraw(self, prefixes: list[bytes]) -> bytes:
        return b"".join(pack.withdraw(self.family, prefixes, self.view.max_len))

    # -- changes ------------------------------------------------------------------------------
    def apply(self, changed: Iterable[bytes]) -> None:
        """Bring the Adj-RIB-Out in line with the Loc-RIB for ``changed`` prefixes and send
        the difference to every member that is not behind."""
        routes = self.loc.routes
        where = self.where
        announce: dict[Bucket, list[bytes]] = {}
        withdraw: dict[Source | None, list[bytes]] = {}
        only: dict[Source, list[bytes]] = {}
        touched: list[bytes] = []
        unencoded = self._unencoded
        no_policy = self.policy is None
        path_class = Path
        last_best: Path | None = None
        last_bucket: Bucket | None = None
        last_list: list[bytes] = []
        for prefix in changed:
            r = routes.get(prefix)
            if r is None:
                new = None
            else:
                best = r if r.__class__ is path_class else r[0]  # type: ignore[index]
                if best is last_best:
                    new = last_bucket
                elif no_policy:
                    new = best.group_bucket if best.group is self else self._bucket_for(prefix, best)
                    last_best, last_bucket = best, new
                    last_list = []
                else:
                    new = self._bucket_for(prefix, best)
            old = where.get(prefix)
            if new is old:
                continue
            touched.append(prefix)
            if old is not None:
                old.count -= 1
                if old.encoded is not None:
                    old.encoded = None
                    unencoded.add(old)
            if new is None:
                del where[prefix]
                withdraw.setdefault(old.source if old is not None else None, []).append(prefix)
                continue
            where[prefix] = new
            new.count += 1
            if new.encoded is not None:
                new.encoded = None
                unencoded.add(new)
            if new is last_bucket and last_list:
                last_list.append(prefix)
            else:
                lst = announce.get(new)
                if lst is None:
                    lst = announce[new] = []
                lst.append(prefix)
                if new is last_bucket:
                    last_list = lst
            if old is not None and old.source is not new.source:
                # the new best came from a member: it had the old route and must lose it
                only.setdefault(new.source, []).append(prefix)
        if not touched:
            return
        self._table = None
        if not self.members:
            return
        segments: list[Segment] = [(b.source, None, self._encode(b.out, ps)) for b, ps in announce.items()]
        segments += [(src, None, self._withdraw(ps)) for src, ps in withdraw.items()]
        segments += [(None, src, self._withdraw(ps)) for src, ps in only.items()]
        self._send(segments, touched)

    def _send(self, segments: list[Segment], touched: list[bytes]) -> None:
        common = b"".join(data for _, on, data in segments if on is None)
        special = {s for ex, on, _ in segments for s in (ex, on) if s is not None}
        high = self.high_water
        out = self.out
        noted: dict[bytes, None] | None = None
        for m in self.members:
            link = m.link
            if m.lagging or m.dump is not None or not m.eor_sent or link.backlog() > high:
                m.lagging = m.lagging or (m.eor_sent and m.dump is None)
                if noted is None:
                    noted = dict.fromkeys(touched)
                m.dirty.update(noted)
                continue
            if m.source in special:
                src = m.source
                data = b"".join(d for ex, on, d in segments if (on is None and ex is not src) or on is src)
            else:
                data = common
            if data:
                if out is None:
                    link.write(data)
                else:
                    out(link, data)

    # -- catching up ----------------------------------------------------------------------------
    def catch_up(self, m: Member) -> None:
        """Send what a behind member is missing, as far as its transport takes it now."""
        link = self.link_ok(m)
        if link is None or link.backlog() > self.high_water:
            return
        dump = m.dump
        if dump is not None:
            high = self.high_water
            pos = m.dump_pos
            while pos < len(dump):
                # whole messages per write: the next header after DUMP_CHUNK octets
                end = dump.find(MARKER, pos + DUMP_CHUNK)
                if end < 0:
                    end = len(dump)
                link.write(dump[pos:end] if pos or end < len(dump) else dump)
                pos = end
                if link.backlog() > high:
                    m.dump_pos = pos
                    if pos < len(dump):
                        return
            m.dump = None
            m.dump_pos = 0
        while m.dirty:
            if link.backlog() > self.high_water:
                return
            batch = []
            for prefix in m.dirty:
                batch.append(prefix)
                if len(batch) >= 4096:
                    break
            for prefix in batch:
                del m.dirty[prefix]
            data = self._state_of(batch, m.source)
            if data:
                link.write(data)
        m.lagging = False
        if m.eorr_due:
            m.eorr_due = False
            link.write(RouteRefresh(self.family, REFRESH_EORR).encode())
        if not m.eor_sent:
            m.eor_sent = True
            link.write(pack.end_of_rib(self.family))
            if self.on_eor is not None:
                self.on_eor(m)

    def link_ok(self, m: Member) -> Link | None:
        return m.link if m.active else None

    def _state_of(self, prefixes: list[bytes], source: Source) -> bytes:
        """UPDATEs giving a member the current state of ``prefixes``."""
        where = self.where
        announce: dict[Bucket, list[bytes]] = {}
        gone: list[bytes] = []
        for prefix in prefixes:
            b = where.get(prefix)
            if b is None or b.source is source:
                gone.append(prefix)
            else:
                announce.setdefault(b, []).append(prefix)
        parts = [self._encode(b.out, ps) for b, ps in announce.items()]
        if gone:
            parts.append(self._withdraw(gone))
        return b"".join(parts)

    def refresh(self, m: Member, enhanced: bool = False) -> None:
        """Send the whole Adj-RIB-Out again (ROUTE-REFRESH, RFC 2918); with enhanced route
        refresh between a BoRR and an EoRR (RFC 7313 4)."""
        if enhanced:
            m.link.write(RouteRefresh(self.family, REFRESH_BORR).encode())
            m.eorr_due = True
        m.dump = self._snapshot(m.source)
        m.dump_pos = 0
        self.catch_up(m)
