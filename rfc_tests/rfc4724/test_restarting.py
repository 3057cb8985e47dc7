"""RFC 4724 4.1, the restarting side: the state file a graceful stop leaves, the capability
sent after it (R, per-family flags as configured, wrong ones included), route selection
deferred until the peers' End-of-RIB or the deferral timer, and End-of-RIB sent only after
the table."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgpack

from pyspeaker.config.load import parse
from pyspeaker.gr import restarting
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import open as wopen
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from pyspeaker.wire.pack import announce, end_of_rib
from pyspeaker.wire.prefix import parse as wire
from rfc_tests.conftest import local_pref, next_hop, origin, seq_path
from rfc_tests.rawpeer import RawPeer

V4, V6 = IPV4_UNICAST, IPV6_UNICAST


def test_state_file_round_trip_and_cold_starts(tmp_path: Path) -> None:
    path = tmp_path / "state.msgpack"
    state = restarting.RestartState(1000.0, 120, "10.255.0.1", {"127.0.1.1": ["ipv4-unicast"]})
    restarting.save(path, state)
    assert [p.name for p in tmp_path.iterdir()] == ["state.msgpack"]  # no temporary left behind
    got, why = restarting.load(path, 1010.0, "10.255.0.1")
    assert got == state and "10.0 s ago" in why
    assert not path.exists()  # one stop, one restart
    restarting.save(path, state)
    assert restarting.load(path, 1200.0, "10.255.0.1")[0] is None  # older than the restart time
    restarting.save(path, state)
    assert restarting.load(path, 1010.0, "10.255.0.2")[0] is None  # another router's file
    path.write_bytes(b"\x93garbage")
    assert restarting.load(path, 1010.0, "10.255.0.1")[0] is None
    path.write_bytes(msgpack.packb({"version": 99}))
    assert "version" in restarting.load(path, 1010.0, "10.255.0.1")[1]
    assert restarting.load(tmp_path / "none", 0.0, "x")[0] is None


def test_capability_bytes() -> None:
    normal = restarting.capability(120, (V4, V6), restarting=False)
    assert normal.raw == bytes.fromhex("4078 0001 0100 0002 0100".replace(" ", ""))
    after = restarting.capability(120, (V4, V6), restarting=True)
    assert after.raw == bytes.fromhex("c078 0001 0180 0002 0180".replace(" ", ""))
    wrong = restarting.capability(120, (V4, V6), restarting=True, flags={V6: 0x00})  # as seen in the field
    assert wrong.raw == bytes.fromhex("c078 0001 0180 0002 0100".replace(" ", ""))


RR = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0
state_file = "{state}"
selection_deferral = {deferral}

[[listen_range]]
prefix = "127.0.1.0/24"
remote_as = 65000
families = ["ipv4-unicast", "ipv6-unicast"]
rr_client = true
"""

ATTRS = origin(0) + seq_path() + local_pref(100) + next_hop("127.0.1.1")
GR = wopen.graceful_restart(60, [(V4, 0x80), (V6, 0x80)], notification=True)


def _routes(*prefixes: str) -> bytes:
    return b"".join(announce(V4, ATTRS, [wire(p) for p in prefixes]))


def _gr_of(open_msg: bytes) -> wopen.GracefulRestart | None:
    return wopen.decode_open(open_msg).graceful_restart()


async def test_graceful_stop_and_restart_defers_until_end_of_rib(tmp_path: Path) -> None:
    text = RR.format(state=tmp_path / "state.msgpack", deferral=30)
    rr = Speaker(parse(text, "rr.toml"))
    await rr.start()
    p1 = RawPeer("127.0.1.1", "10.0.1.1")
    p2 = RawPeer("127.0.1.2", "10.0.1.2")
    try:
        await p1.connect(rr.port, [GR])
        await p2.connect(rr.port, [GR])
        gr = _gr_of(p2.opens[0])
        assert gr is not None and not gr.restarting and gr.families == ((V4, 0x00), (V6, 0x00))
        await p1.send(_routes("10.1.0.0/24", "10.2.0.0/24") + end_of_rib(V4) + end_of_rib(V6))
        await p2.until(lambda: len(p2.routes) == 2)

        await rr.graceful_stop()
        await asyncio.wait_for(asyncio.gather(p1.closed.wait(), p2.closed.wait()), 10)
        assert not p1.notifications and not p2.notifications  # closed without NOTIFICATION
        assert (tmp_path / "state.msgpack").exists()
        p1.crash()
        p2.crash()

        rr = Speaker(parse(text, "rr.toml"))
        await rr.start()
        assert rr.graceful.restart_state is not None and rr.router.deferring
        assert not (tmp_path / "state.msgpack").exists()
        q2 = RawPeer("127.0.1.2", "10.0.1.2")
        await q2.connect(rr.port, [GR])
        gr = _gr_of(q2.opens[0])
        assert gr is not None and gr.restarting and gr.families == ((V4, 0x80), (V6, 0x80))
        q1 = RawPeer("127.0.1.1", "10.0.1.1")
        await q1.connect(rr.port, [GR])
        assert q2.log == [] and q1.log == []  # nothing sent while selection is deferred
        await q1.send(_routes("10.1.0.0/24", "10.2.0.0/24") + end_of_rib(V4))
        await q2.send(end_of_rib(V4) + end_of_rib(V6))
        assert rr.router.deferring  # q1 has not sent End-of-RIB for IPv6 yet
        await q1.send(end_of_rib(V6))
        await q2.until(lambda: set(q2.eor) == {V4, V6})
        assert set(q2.routes) == {"10.1.0.0/24", "10.2.0.0/24"}
        kinds = [entry[0] for entry in q2.log]
        assert kinds.index("eor") > kinds.index("update")  # End-of-RIB after the table
        assert not rr.router.deferring
        q1.crash()
        q2.crash()
    finally:
        p1.crash()
        p2.crash()
        await rr.stop()


async def test_the_deferral_timer_ends_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "state.msgpack"
    restarting.save(path, restarting.RestartState(time.time(), 120, "10.255.0.1", {"127.0.1.1": ["ipv4-unicast"]}))
    rr = Speaker(parse(RR.format(state=path, deferral=1), "rr.toml"))
    await rr.start()
    q2 = RawPeer("127.0.1.2", "10.0.1.2")
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await q2.connect(rr.port, [GR])
        await q2.until(lambda: set(q2.eor) == {V4, V6}, timeout=10)  # 127.0.1.1 never came back
        assert loop.time() - started >= 0.9
    finally:
        q2.crash()
        await rr.stop()


def test_long_lived_capability_bytes(tmp_path: Path) -> None:
    from pyspeaker.runtime.speaker import llgr_capability

    config = parse(
        RR.format(state=tmp_path / "s", deferral=30).replace(
            "rr_client = true", "rr_client = true\nlong_lived_stale_time = 3600"
        ),
        "rr.toml",
    )
    n = config.listen_ranges[0].template
    assert llgr_capability(config, n).raw == bytes.fromhex("00010100000e1000020100000e10")
    assert llgr_capability(config, n, restarting=True).raw == bytes.fromhex("00010180000e1000020180000e10")
    aware = parse(RR.format(state=tmp_path / "s", deferral=30), "rr.toml")
    assert llgr_capability(aware, aware.listen_ranges[0].template).raw == b""  # LLGR aware only


async def test_no_waiting_for_a_peer_that_is_restarting_too(tmp_path: Path) -> None:
    """RFC 4724 4.1: End-of-RIB is awaited from the GR peers, except those whose OPEN has R
    set (two speakers restarting together would otherwise wait for each other)."""
    path = tmp_path / "state.msgpack"
    peers = {"127.0.1.1": ["ipv4-unicast"], "127.0.1.2": ["ipv4-unicast"]}
    restarting.save(path, restarting.RestartState(time.time(), 120, "10.255.0.1", peers))
    rr = Speaker(parse(RR.format(state=path, deferral=30), "rr.toml"))
    await rr.start()
    q1 = RawPeer("127.0.1.1", "10.0.1.1")
    q2 = RawPeer("127.0.1.2", "10.0.1.2")
    try:
        await q1.connect(rr.port, [wopen.graceful_restart(60, [(V4, 0x80), (V6, 0x80)], restarting=True)])
        await q2.connect(rr.port, [GR])
        await q2.send(end_of_rib(V4) + end_of_rib(V6))  # q1 restarting too, sends no End-of-RIB
        await q2.until(lambda: set(q2.eor) == {V4, V6}, timeout=10)
        assert not rr.router.deferring
    finally:
        q1.crash()
        q2.crash()
        await rr.stop()
