"""A fake sending side for the routing core: records what a peer would receive, decoded, so
a test can ask what the peer's view of the table is after each step."""

from __future__ import annotations

import ipaddress

from pyspeaker.export.view import ExportView
from pyspeaker.rib.path import Kind, Source
from pyspeaker.router import Router
from pyspeaker.wire.attrs import AttrSet
from pyspeaker.wire.context import Context
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from pyspeaker.wire.prefix import parse, to_text
from pyspeaker.wire.update import Update, UpdateDecoder

V4, V6 = IPV4_UNICAST, IPV6_UNICAST
RECEIVER = Context(extended_nexthop=frozenset({IPV4_UNICAST}))  # takes what any peer may be sent


class FakeLink:
    """What one peer has been sent: the raw bytes, and its resulting table."""

    def __init__(self, address: str, ctx: Context = RECEIVER) -> None:
        self.address = address
        self.sent = bytearray()
        self.writes: list[bytes] = []
        self.full = False  # pretend the transport holds a lot of unsent data
        self.decoder = UpdateDecoder(ctx)
        self.table: dict[tuple[Family, str], tuple[AttrSet | None, bytes]] = {}
        self.eor: list[Family] = []
        self.updates: list[Update] = []

    def write_batch(self, parts: list[bytes], updates: int) -> None:
        data = b"".join(parts)
        assert updates == data.count(b"\xff" * 16), (updates, "UPDATEs said, not in the data")
        self.write(data)

    def write(self, data: bytes) -> None:
        self.sent += data
        self.writes.append(data)
        for u in self.decoder.iter_updates(data):
            self.updates.append(u)
            assert not u.errors, u.errors
            if u.end_of_rib is not None:
                self.eor.append(u.end_of_rib)
                continue
            for fam, ps in u.withdrawals().items():
                for p in ps:
                    self.table.pop((fam, text(fam, p)), None)
            for fam, ps in u.announced().items():
                nh = u.reach.next_hop if u.reach is not None and u.reach.family == fam else b""
                for p in ps:
                    self.table[(fam, text(fam, p))] = (u.attrs, nh)

    def backlog(self) -> int:
        return 1 << 30 if self.full else 0

    def prefixes(self, fam: Family = V4) -> set[str]:
        return {p for f, p in self.table if f == fam}

    def attrs(self, prefix: str) -> AttrSet:
        fam = V6 if ":" in prefix else V4
        a = self.table[(fam, prefix)][0]
        assert a is not None
        return a

    def next_hop(self, prefix: str) -> bytes:
        fam = V6 if ":" in prefix else V4
        attrs, nh = self.table[(fam, prefix)]
        if nh:
            return nh
        assert attrs is not None and attrs.next_hop is not None
        return attrs.next_hop.packed


def text(fam: Family, p: bytes) -> str:
    return to_text(p, 4 if fam == V4 else 16)


def wire(prefix: str) -> bytes:
    return parse(prefix)


def ip(text_: str) -> int:
    return int(ipaddress.IPv4Address(text_))


class Lab:
    """A Router (AS 65000, router id 10.255.0.1) and fake peers around it."""

    def __init__(self, cluster_id: str | None = None, always_compare_med: bool = False) -> None:
        self.router = Router(65000, "10.255.0.1", cluster_id, always_compare_med)
        self.links: dict[str, FakeLink] = {}
        self.decoders: dict[str, UpdateDecoder] = {}

    def view(self, kind: Kind, **kw: object) -> ExportView:
        return ExportView(kind=kind, local_as=65000, cluster_id=self.router.cluster_id, **kw)  # type: ignore[arg-type]

    def peer(
        self,
        address: str,
        kind: Kind = Kind.CLIENT,
        families: tuple[Family, ...] = (V4, V6),
        asn: int = 65000,
        router_id: str | None = None,
        ctx: Context | None = None,
        **view: object,
    ) -> FakeLink:
        link = FakeLink(address)
        self.links[address] = link
        self.decoders[address] = UpdateDecoder(ctx or Context(ibgp=kind is not Kind.EBGP, peer_as=asn))
        rid = router_id or (address if ":" not in address else f"10.200.{len(self.links)}.1")
        source = Source(address, asn, rid, kind)
        self.router.peer_up(link, source, families, self.view(kind, **view))
        return link

    def send(self, address: str, message: bytes) -> Update:
        """``address`` sends a raw UPDATE; the router takes it and flushes."""
        u = self.decoders[address].decode(message)
        self.router.receive(self.links[address], u)
        self.router.flush()
        return u

    def down(self, address: str) -> None:
        self.router.peer_down(self.links.pop(address))
        self.router.flush()
