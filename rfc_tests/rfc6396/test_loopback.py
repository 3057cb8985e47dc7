"""What pyspeaker writes is what bgpdump and mrtparse read: a session between pyspeaker
speakers on loopback recorded as BGP4MP (from the configuration and from Speaker.record),
the reflector's Loc-RIB dumped as TABLE_DUMP_V2; then the recordings and the dump replayed
into another pyspeaker speaker deliver every prefix with its attributes."""

from __future__ import annotations

import asyncio
import glob
import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyspeaker.config.load import parse
from pyspeaker.fsm import types as ft
from pyspeaker.mrt import codec
from pyspeaker.mrt.files import read_file, write_file
from pyspeaker.mrt.replay import ReplayStats, Rewrite, replay
from pyspeaker.mrt.routes import Route, as_path_text, routes
from pyspeaker.mrt.session import ReplaySession
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import pack
from pyspeaker.wire.attrs import AttrSet, build, to_two_octet
from pyspeaker.wire.family import IPV4_UNICAST, Family
from pyspeaker.wire.prefix import parse as parse_prefix
from pyspeaker.wire.prefix import to_text
from pyspeaker.wire.values import AsPath

from .mrtref import bgpdump_lines, mrtparse_routes, needs_bgpdump

RR = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0
mrt_record = "{dir}/rr-%Y%m%d-{{peer}}.mrt"

[[listen_range]]
prefix = "127.0.1.0/24"
remote_as = 65000
families = ["ipv4-unicast", "ipv6-unicast"]
rr_client = true
"""

CLIENT = """
[global]
asn = 65000
router_id = "10.0.1.{i}"
listen = ["127.0.1.{i}"]
port = 0

[[neighbor]]
address = "127.0.0.1"
port = {port}
remote_as = 65000
local_address = "127.0.1.{i}"
families = ["ipv4-unicast", "ipv6-unicast"]
connect_retry = 0.2
"""

SINK = """
[global]
asn = 65000
router_id = "10.0.9.9"
listen = ["127.0.0.1"]
port = 0

[[neighbor]]
address = "127.0.2.{i}"
remote_as = {remote_as}
passive = true
families = ["ipv4-unicast", "ipv6-unicast"]
import = "accept"
"""

# what client 1 originates: (prefix, attributes, next hop)
ATTRS_A = build(
    origin=0, as_path=AsPath.sequence(65010, 4200000001), communities=[65000 << 16 | 1], med=5, local_pref=200
)
ATTRS_B = build(
    origin=1, as_path=AsPath(((2, (65030,)), (1, (65041, 65040)))), communities=[65000 << 16 | 2, 0xFFFFFF01]
)
ATTRS_C = build(origin=2, as_path=AsPath.sequence(65050), communities=[65000 << 16 | 3])
ROUTES: list[tuple[str, AttrSet, str]] = (
    [(f"10.1.{k}.0/24", ATTRS_A, "127.0.1.1") for k in range(50)]
    + [(f"10.2.{k}.0/25", ATTRS_B, "192.0.2.9") for k in range(30)]
    + [(str(ipaddress.ip_network(f"2001:db8:{k:x}::/48")), ATTRS_C, "fd00::1") for k in range(20)]
)


def _community_texts(attrs: AttrSet) -> tuple[str, ...]:
    return tuple(f"{v >> 16}:{v & 0xFFFF}" for v in attrs.communities)


def expected(kind: str, peer: str) -> list[tuple[str, str, str, int | None, str, str | None, tuple[str, ...]]]:
    """The routes as (kind, peer, prefix, path id, AS path, next hop, communities)."""
    return [(kind, peer, p, None, as_path_text(a.as_path), nh, _community_texts(a)) for p, a, nh in ROUTES]


class Tables:
    """Routes each speaker holds (from its session events), with arrival times."""

    def __init__(self) -> None:
        self.routes: dict[str, dict[str, tuple[AttrSet | None, float]]] = {}
        self.up: set[str] = set()
        self.changed = asyncio.Condition()

    def handler(self, name: str) -> Callable[[str, ft.Event], None]:
        def on_event(_address: str, event: ft.Event) -> None:
            table = self.routes.setdefault(name, {})
            now = asyncio.get_running_loop().time()
            if isinstance(event, ft.SessionUp):
                self.up.add(name)
            if isinstance(event, ft.UpdateReceived):
                u = event.update
                for fam, ps in u.withdrawals().items():
                    for p in ps:
                        table.pop(_text(fam, p), None)
                for fam, ps in u.announced().items():
                    for p in ps:
                        table[_text(fam, p)] = (u.attrs, now)
            asyncio.get_running_loop().create_task(self._notify())

        return on_event

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, ok: Callable[[], bool], timeout: float = 15.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ok), timeout)


def _text(fam: Family, p: bytes) -> str:
    return to_text(p, 4 if fam.afi == 1 else 16)


def _ours(path: str) -> list[tuple[str, str, str, int | None, str, str | None, tuple[str, ...]]]:
    out = []
    for r in routes(read_file(path)):
        if isinstance(r, Route) and r.attrs is not None:
            a = r.attrs
            out.append(
                (
                    r.kind,
                    r.peer_address,
                    r.prefix_text,
                    r.path_id,
                    as_path_text(a.as_path),
                    r.next_hop,
                    _community_texts(a),
                )
            )
    return out


def _bgpdump_routes(path: str) -> list[tuple[str, str, str, str, str, tuple[str, ...]]]:
    out = []
    for line in bgpdump_lines(path):
        f = line.split("|")
        if f[2] in ("A", "B"):
            comms = tuple(f[11].split()) if f[11] else ()
            out.append((f[2], f[3], f[5], f[6], f[8], comms))
    return out


def _bgpdump_expected(kind: str, peer: str) -> list[tuple[str, str, str, str, str, tuple[str, ...]]]:
    well_known = {"65535:65281": "no-export"}
    return [
        (kind, peer, p, as_path_text(a.as_path), nh, tuple(well_known.get(c, c) for c in _community_texts(a)))
        for p, a, nh in ROUTES
    ]


@pytest.fixture
async def lab(tmp_path: Path) -> Any:
    """A reflector recording every session, client 1 originating ROUTES, client 2 (recording
    its session with Speaker.record, gzip) receiving them; then the reflector's dump."""
    tables = Tables()
    rr = Speaker(parse(RR.format(dir=tmp_path), "rr.toml"))
    await rr.start()
    c1 = Speaker(parse(CLIENT.format(i=1, port=rr.port), "c1.toml"), tables.handler("c1"))
    c2 = Speaker(parse(CLIENT.format(i=2, port=rr.port), "c2.toml"), tables.handler("c2"))
    speakers = [c1, c2, rr]
    try:
        await c2.start()
        stop_c2_recording = c2.record("127.0.0.1", str(tmp_path / "c2-{peer}.mrt.gz"), extended=True)
        await c1.start()
        for prefix, attrs, nh in ROUTES:
            c1.originate(prefix, attrs, next_hop=nh)
        await tables.until(lambda: len(tables.routes.get("c2", {})) == len(ROUTES))
        dump = await rr.dump_rib(str(tmp_path / "rib-%Y.mrt"))
        await stop_c2_recording()
    finally:
        for s in speakers:
            await s.stop("test done")
    yield {"dir": tmp_path, "dump": dump, "tables": tables}


@needs_bgpdump
async def test_recording_and_dump_read_by_bgpdump_and_mrtparse(lab: dict[str, Any]) -> None:
    d: Path = lab["dir"]
    (rr_c1,) = glob.glob(str(d / "rr-*-127.0.1.1.mrt"))  # the configured recording, {peer} filled in
    (c2_rec,) = glob.glob(str(d / "c2-127.0.0.1.mrt.gz"))
    dump = lab["dump"]
    assert os.path.basename(dump).startswith("rib-2") and not glob.glob(str(d / ".*.tmp"))

    # the reflector's recording of client 1: every route as client 1 sent it
    want = expected("A", "127.0.1.1")
    assert sorted(_ours(rr_c1)) == sorted(want)
    assert sorted(mrtparse_routes(rr_c1)) == sorted(want)
    assert sorted(_bgpdump_routes(rr_c1)) == sorted(_bgpdump_expected("A", "127.0.1.1"))
    # state changes and both directions are there
    recs = list(read_file(rr_c1))
    states = [(r.old_state, r.new_state) for r in recs if isinstance(r, codec.Bgp4mpStateChange)]
    assert (5, 6) in states  # OpenConfirm -> Established
    assert any(isinstance(r, codec.Bgp4mpMessage) and r.local for r in recs)
    assert all(r.asn4 for r in recs if isinstance(r, codec.Bgp4mpMessage))

    # client 2's own recording (gzip, BGP4MP_ET): the reflected routes from the reflector
    want2 = expected("A", "127.0.0.1")
    assert sorted(_ours(c2_rec)) == sorted(want2)
    assert sorted(mrtparse_routes(c2_rec)) == sorted(want2)
    assert sorted(_bgpdump_routes(c2_rec)) == sorted(_bgpdump_expected("A", "127.0.0.1"))
    assert any(isinstance(r, codec.Bgp4mpMessage) and r.extended for r in read_file(c2_rec))

    # the Loc-RIB dump: every best path, from client 1
    want_b = expected("B", "127.0.1.1")
    assert sorted(_ours(dump)) == sorted(want_b)
    assert sorted(mrtparse_routes(dump)) == sorted(want_b)
    assert sorted(_bgpdump_routes(dump)) == sorted(_bgpdump_expected("B", "127.0.1.1"))


async def _replay_into_sink(
    records: list[codec.Record], speed: float | None, remote_as: int = 65000, rewrite: Rewrite | None = None
) -> tuple[Tables, ReplayStats]:
    tables = Tables()
    sink = Speaker(parse(SINK.format(i=1, remote_as=remote_as), "sink.toml"), tables.handler("sink"))
    await sink.start()
    sess = ReplaySession("127.0.0.1", remote_as, 65000, port=sink.port, source="127.0.2.1")
    try:
        await sess.start(timeout=10)
        stats = await replay(records, sess.send, speed=speed, rewrite=rewrite)
        await sess.end_of_rib()
        want = stats.announced - stats.withdrawn
        await tables.until(lambda: len(tables.routes.get("sink", {})) >= want)
    finally:
        sess.stop()
        await sink.stop()
    return tables, stats


def _check_attributes(tables: Tables, peer_as_first: int | None = None) -> None:
    got = tables.routes["sink"]
    assert set(got) == {str(p) for p, _, _ in ROUTES}
    for prefix, attrs, nh in ROUTES:
        a = got[prefix][0]
        assert a is not None
        path = attrs.as_path if peer_as_first is None else attrs.as_path.prepend(peer_as_first)
        assert a.as_path == path
        assert a.communities == attrs.communities
        if ":" not in prefix:
            assert str(a.next_hop) == nh


async def test_replay_a_recording_as_fast_as_taken(lab: dict[str, Any]) -> None:
    (rr_c1,) = glob.glob(str(lab["dir"] / "rr-*-127.0.1.1.mrt"))
    tables, stats = await _replay_into_sink(list(read_file(rr_c1)), None)
    _check_attributes(tables)
    assert stats.peer == "127.0.1.1" and stats.announced == len(ROUTES)


async def test_replay_a_table_dump_grouped_into_full_updates(lab: dict[str, Any]) -> None:
    records = list(read_file(lab["dump"]))
    tables, stats = await _replay_into_sink(records, 1.0)
    _check_attributes(tables)
    # three attribute sets (and next hops): a handful of UPDATEs, not one per prefix
    assert stats.announced == len(ROUTES)
    assert stats.updates <= 6


async def test_replay_over_ebgp_prepends_our_as(lab: dict[str, Any]) -> None:
    records = list(read_file(lab["dump"]))
    rw = Rewrite(next_hop_v4=bytes([127, 0, 2, 1]), prepend=65099)
    tables, _ = await _replay_into_sink(records, None, remote_as=65099, rewrite=rw)
    got = tables.routes["sink"]
    assert len(got) == len(ROUTES)
    for prefix, attrs, _ in ROUTES:
        a = got[prefix][0]
        assert a is not None and a.as_path == attrs.as_path.prepend(65099)
        if ":" not in prefix:
            assert str(a.next_hop) == "127.0.2.1"


def _update(prefix: str, attrs: AttrSet) -> bytes:
    (msg,) = pack.announce_ipv4(attrs.raw, [parse_prefix(prefix)])
    return msg


async def test_replay_keeps_the_recorded_gaps_scaled(tmp_path: Path) -> None:
    """Two UPDATEs recorded 0.5 s apart, replayed at speed 2: the second arrives at least
    0.2 s after the first (0.25 s less a margin; nothing is said about an upper bound)."""
    attrs = build(origin=0, as_path=AsPath.sequence(65001), next_hop="192.0.2.1")
    t0 = 1700000000.0
    recs = [
        codec.Bgp4mpMessage(t0 + dt, 65001, 65000, "192.0.2.1", "192.0.2.2", _update(p, attrs), extended=True)
        for dt, p in ((0.0, "10.50.0.0/16"), (0.5, "10.51.0.0/16"))
    ]
    path = tmp_path / "gap.mrt"
    write_file(path, [codec.encode(r) for r in recs])
    tables, stats = await _replay_into_sink(list(read_file(path)), 2.0)
    got = tables.routes["sink"]
    assert stats.updates == 2
    assert got["10.51.0.0/16"][1] - got["10.50.0.0/16"][1] >= 0.2


async def test_replay_converts_two_octet_as_paths(tmp_path: Path) -> None:
    """A BGP4MP_MESSAGE (2-octet session) with AS_TRANS and AS4_PATH reaches a 4-octet
    session with the real AS numbers (RFC 6793 4.2.3)."""
    attrs = build(origin=0, as_path=AsPath.sequence(65001, 4200000001, 65002), next_hop="192.0.2.1")
    two = to_two_octet(attrs)
    (msg,) = pack.announce_ipv4(two, [parse_prefix("10.60.0.0/16")])
    rec = codec.Bgp4mpMessage(1700000000.0, 65001, 65000, "192.0.2.1", "192.0.2.2", msg, asn4=False)
    data = codec.encode(rec)
    assert data[6:8] == b"\x00\x01"  # BGP4MP_MESSAGE
    tables, _ = await _replay_into_sink(list(codec.iter_records(data)), None)
    a = tables.routes["sink"]["10.60.0.0/16"][0]
    assert a is not None and a.as_path.asns() == [65001, 4200000001, 65002]


async def test_periodic_dump_is_renamed_into_place(tmp_path: Path) -> None:
    text = RR.format(dir=tmp_path).replace(
        "mrt_record", f'mrt_dump = "{tmp_path}/periodic.mrt"\nmrt_dump_interval = 0.2\n#'
    )
    rr = Speaker(parse(text, "rr.toml"))
    await rr.start()
    rr.originate("10.99.0.0/16", next_hop="192.0.2.1")
    try:
        for _ in range(100):  # bounded: 10 s
            if rr.mrt.dumps >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await rr.stop()
    assert rr.mrt.dumps >= 2
    recs = list(read_file(tmp_path / "periodic.mrt"))
    assert isinstance(recs[0], codec.PeerIndexTable)
    ribs = [r for r in recs if isinstance(r, codec.RibRecord)]
    assert [to_text(r.prefix, 4) for r in ribs] == ["10.99.0.0/16"]
    assert ribs[0].family == IPV4_UNICAST
    assert not list(tmp_path.glob(".*.tmp"))


@needs_bgpdump
async def test_one_file_for_every_neighbor(tmp_path: Path) -> None:
    """``[global] mrt_record`` without {peer}: every neighbor's session in one file."""
    text = RR.format(dir=tmp_path).replace("rr-%Y%m%d-{peer}.mrt", "all.mrt.bz2")
    text = text.replace("port = 0\n", "port = 0\nmrt_extended_timestamps = true\n", 1)
    tables = Tables()
    rr = Speaker(parse(text, "rr.toml"))
    await rr.start()
    clients = [Speaker(parse(CLIENT.format(i=i, port=rr.port), f"c{i}.toml"), tables.handler(f"c{i}")) for i in (1, 2)]
    try:
        for c in clients:
            await c.start()
        clients[0].originate("10.71.0.0/16", next_hop="127.0.1.1")
        clients[1].originate("10.72.0.0/16", next_hop="127.0.1.2")
        await tables.until(lambda: "10.72.0.0/16" in tables.routes.get("c1", {}))
        await tables.until(lambda: "10.71.0.0/16" in tables.routes.get("c2", {}))
    finally:
        for s in (*clients, rr):
            await s.stop("test done")
    path = str(tmp_path / "all.mrt.bz2")
    got = {(r[1], r[2]) for r in _bgpdump_routes(path)}
    assert {("127.0.1.1", "10.71.0.0/16"), ("127.0.1.2", "10.72.0.0/16")} <= got
    recs = list(read_file(path))
    sent = {(r.peer_address, r.message[18]) for r in recs if isinstance(r, codec.Bgp4mpMessage) and r.local}
    assert ("127.0.1.1", 2) in sent and ("127.0.1.2", 2) in sent  # what the reflector sent each
    assert all(getattr(r, "extended", False) for r in recs)  # BGP4MP_ET throughout


async def test_replay_sends_only_the_negotiated_families(lab: dict[str, Any]) -> None:
    """A sink that speaks IPv4 only gets the IPv4 routes of a recording that has both, and
    keeps its session (no MP_REACH_NLRI of a family it did not negotiate)."""
    (rr_c1,) = glob.glob(str(lab["dir"] / "rr-*-127.0.1.1.mrt"))
    tables = Tables()
    text = SINK.format(i=1, remote_as=65000).replace('families = ["ipv4-unicast", "ipv6-unicast"]', "")
    sink = Speaker(parse(text, "sink.toml"), tables.handler("sink"))
    await sink.start()
    sess = ReplaySession("127.0.0.1", 65000, 65000, port=sink.port, source="127.0.2.1")
    try:
        neg = await sess.start(timeout=10)
        assert neg.families == frozenset({IPV4_UNICAST})
        rw = Rewrite(families=neg.families)
        stats = await replay(read_file(rr_c1), sess.send, speed=None, rewrite=rw)
        await sess.end_of_rib()
        v4 = {p for p, _, _ in ROUTES if ":" not in p}
        await tables.until(lambda: set(tables.routes.get("sink", {})) == v4)
        assert stats.other_families == len(ROUTES) - len(v4)
        assert "sink" in tables.up and sess.runner.state is ft.State.ESTABLISHED
    finally:
        sess.stop()
        await sink.stop()
