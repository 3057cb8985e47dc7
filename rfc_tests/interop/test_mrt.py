"""MRT against real daemons, each in its own network namespace: a TABLE_DUMP_V2 file that
pyspeaker wrote (its Loc-RIB) is replayed over eBGP into BIRD 2 and FRR with ``pyspeaker mrt
replay``'s session; then the daemon writes its own MRT (BIRD: ``mrt dump``, FRR: ``dump bgp
routes-mrt`` and the BGP4MP_ET recording ``dump bgp all-et`` of the replay), and pyspeaker
reads those files: every replayed prefix is there with our AS prepended, our next hop and
its communities, and bgpdump agrees on what the daemon's files hold."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pyspeaker.mrt import codec
from pyspeaker.mrt.dump import TableDump
from pyspeaker.mrt.files import read_file, write_file
from pyspeaker.mrt.replay import Rewrite, replay
from pyspeaker.mrt.routes import Route, routes
from pyspeaker.mrt.session import ReplaySession
from pyspeaker.router import Router
from pyspeaker.wire.attrs import AttrSet, build
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from pyspeaker.wire.prefix import from_network
from pyspeaker.wire.values import AsPath

from .conftest import DaemonFactory
from .daemons import Daemon
from .netns import arun, poll

OUR_AS, DUT_AS = 65001, 65002  # what the daemons' drivers expect
V4 = [str(ipaddress.ip_network(f"10.{100 + k // 250}.{k % 250}.0/24")) for k in range(600)]
V6 = [str(ipaddress.ip_network(f"2001:db8:{0x100 + k:x}::/48")) for k in range(150)]
SETS = [
    build(origin=0, as_path=AsPath.sequence(64600 + i, 4200000000 + i), communities=[(64600 + i) << 16 | i])
    for i in range(5)
]


def _table(tmp: Path) -> tuple[str, dict[str, AttrSet]]:
    """A TABLE_DUMP_V2 file of pyspeaker's Loc-RIB: 600 IPv4 and 150 IPv6 prefixes, five
    attribute sets (4-octet ASNs, a community each)."""
    r = Router(64999, "10.255.0.9")
    want: dict[str, AttrSet] = {}
    for k, p in enumerate(V4):
        attrs = SETS[k % 5].replace(next_hop="192.0.2.1")
        r.originate(IPV4_UNICAST, from_network(p), attrs)
        want[p] = SETS[k % 5]
    for k, p in enumerate(V6):
        r.originate(IPV6_UNICAST, from_network(p), SETS[k % 5], ipaddress.IPv6Address("2001:db8::1").packed)
        want[p] = SETS[k % 5]
    path = str(tmp / "pyspeaker-rib.mrt")
    write_file(path, list(TableDump(r, 1700000000.0).chunks()))
    return path, want


async def _replay_into(d: Daemon, path: str) -> int:
    link = d.link
    sess = ReplaySession(link.their4, OUR_AS, DUT_AS, source=link.our4, router_id=link.our4, hold_time=9)
    await sess.start(timeout=30)
    rw = Rewrite(
        next_hop_v4=ipaddress.ip_address(link.our4).packed,
        next_hop_v6=ipaddress.ip_address(link.our6).packed,
        prepend=OUR_AS,
    )
    stats = await replay(read_file(path), sess.send, speed=None, rewrite=rw)
    await sess.end_of_rib()
    d.__dict__["replay_session"] = sess  # closed by the test
    return stats.announced


def _check(found: list[Route], want: dict[str, AttrSet], our4: str | None, our6: str | None, what: str) -> None:
    got = {r.prefix_text: r for r in found if r.prefix_text in want}
    assert set(got) == set(want), f"{what}: {len(set(want) - set(got))} prefixes missing"
    for prefix, r in got.items():
        assert r.attrs is not None
        assert r.attrs.as_path.asns() == [OUR_AS, *want[prefix].as_path.asns()], (what, prefix)
        assert r.attrs.communities == want[prefix].communities, (what, prefix)
        assert r.next_hop == (our6 if ":" in prefix else our4), (what, prefix, r.next_hop)


async def _bgpdump_prefixes(path: str) -> set[str]:
    rc, out, err = await arun("bgpdump", "-m", path, timeout=30)
    assert rc == 0, err
    return {line.split("|")[5] for line in out.splitlines() if line.split("|")[2] in ("A", "B")}


async def _file_with(path: str, want: set[str], read: Callable[[str], list[Route]], what: str) -> list[Route]:
    async def probe() -> tuple[bool, str | list[Route]]:
        if not os.path.exists(path):
            return False, f"{path} not written yet"
        try:
            found = read(path)
        except codec.MrtError as exc:  # still being written
            return False, str(exc)
        return want <= {r.prefix_text for r in found}, found

    result: list[Route] = await poll(probe, what, 30, 0.5)
    return result


def _routes_of(path: str) -> list[Route]:
    return [r for r in routes(read_file(path)) if isinstance(r, Route)]


async def test_bird2_replay_then_its_mrt_dump(lab: DaemonFactory, tmp_path: Path) -> None:
    d = lab("bird2", originate=False)
    table, want = _table(tmp_path)
    assert await _replay_into(d, table) == len(want)
    link = d.link
    try:
        found: list[Route] = []
        for name in ("master4", "master6"):
            out = str(d.rundir / f"bird-{name}.mrt")

            async def dumped(name: str = name, out: str = out) -> tuple[bool, str]:
                text = await d.cli_command("mrt", "dump", "table", f'"{name}"', "to", f'"{out}"')
                return os.path.exists(out), text

            await poll(dumped, f"BIRD wrote {name} as MRT", 10, 0.5)
            prefixes = {p for p in want if (":" in p) == (name == "master6")}
            found += await _file_with(out, prefixes, _routes_of, f"BIRD's {name} dump holds every prefix")
            assert prefixes <= await _bgpdump_prefixes(out)
        # BIRD 2.0.12 writes NEXT_HOP and LOCAL_PREF with flags 0x00 in its RIB entries: read
        # for what their type codes say, as bgpdump does
        _check([r for r in found if r.kind == "B"], want, link.our4, link.our6, "BIRD's TABLE_DUMP_V2")
        raw = [r for r in read_file(d.rundir / "bird-master4.mrt") if isinstance(r, codec.RibRecord)]
        assert raw and all(b"\x00\x03\x04" in e.attrs for r in raw for e in r.entries)  # NEXT_HOP, flags 0
        _rc, out, _ = await arun("bgpdump", "-m", str(d.rundir / "bird-master4.mrt"))
        theirs = {f[5]: (f[8], f[9]) for f in (line.split("|") for line in out.splitlines())}
        ours = {r.prefix_text: (r.next_hop, str(r.attrs.local_pref if r.attrs else None)) for r in found}
        assert all(theirs[p] == ours[p] for p in theirs), "bgpdump and pyspeaker disagree on BIRD's dump"
    finally:
        d.__dict__["replay_session"].stop()


async def test_frr_replay_recorded_and_dumped(lab: DaemonFactory, tmp_path: Path) -> None:
    d = lab("frr", originate=False)
    updates = str(d.rundir / "frr-updates.mrt")
    text = await d.cli_command("configure terminal", f"dump bgp all-et {updates}")
    assert "%" not in text, text
    table, want = _table(tmp_path)
    assert await _replay_into(d, table) == len(want)
    link = d.link
    try:
        # FRR's BGP4MP_ET recording of what we sent: the UPDATEs pyspeaker's replay wrote
        recorded = await _file_with(updates, set(want), _routes_of, "FRR recorded every replayed prefix")
        ann = [r for r in recorded if r.kind == "A" and r.peer_address == link.our4]
        _check(ann, want, link.our4, link.our6, "FRR's BGP4MP_ET recording")
        recs = [r for r in read_file(updates) if isinstance(r, codec.Bgp4mpMessage)]
        assert recs and all(r.extended for r in recs)
        assert set(want) <= await _bgpdump_prefixes(updates)
        # FRR's TABLE_DUMP_V2 of its RIB
        rib = str(d.rundir / "frr-rib.mrt")
        text = await d.cli_command("configure terminal", f"dump bgp routes-mrt {rib}")
        assert "%" not in text, text
        dumped = await _file_with(rib, set(want), _routes_of, "FRR's routes-mrt dump holds every prefix")
        _check([r for r in dumped if r.kind == "B"], want, link.our4, link.our6, "FRR's TABLE_DUMP_V2")
        assert set(want) <= await _bgpdump_prefixes(rib)
    finally:
        d.__dict__["replay_session"].stop()


@pytest.fixture(autouse=True)
def _bgpdump_installed() -> None:
    if not os.path.exists("/usr/bin/bgpdump"):
        pytest.fail("bgpdump is missing: apt-get install bgpdump", pytrace=False)
