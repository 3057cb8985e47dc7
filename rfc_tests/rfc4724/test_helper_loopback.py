"""Graceful restart, receiving side, on real sessions over loopback: a client that crashes
keeps its routes at the reflector, stale; another client sees no withdrawal; the routes the
client does not send again are withdrawn at its End-of-RIB; a client that does not come back
loses its routes when its restart time runs out, not before."""

from __future__ import annotations

import asyncio

from pyspeaker.config.load import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import open as wopen
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from pyspeaker.wire.pack import announce, end_of_rib
from pyspeaker.wire.prefix import parse as wire
from rfc_tests.conftest import local_pref, next_hop, origin, seq_path
from rfc_tests.rawpeer import RawPeer
from rfc_tests.runtime.test_reflector_loopback import RR

ATTRS = origin(0) + seq_path() + local_pref(100) + next_hop("127.0.1.1")


def gr(restart_time: int, restarting: bool = False, flags: int = 0x80) -> wopen.Capability:
    return wopen.graceful_restart(restart_time, [(IPV4_UNICAST, flags), (IPV6_UNICAST, flags)], restarting)


def routes(*prefixes: str) -> bytes:
    return b"".join(announce(IPV4_UNICAST, ATTRS, [wire(p) for p in prefixes]))


async def test_crash_and_return_with_end_of_rib() -> None:
    down = asyncio.Event()

    def on_event(address: str, event: ft.Event) -> None:
        if address == "127.0.1.1" and isinstance(event, ft.SessionDown):
            down.set()  # the reflector has handled the loss by the time it reports it

    rr = Speaker(parse(RR, "rr.toml"), on_event)
    await rr.start()
    a = RawPeer("127.0.1.1", "10.0.1.1")
    b = RawPeer("127.0.1.2", "10.0.1.2")
    try:
        await a.connect(rr.port, [gr(60)])
        await b.connect(rr.port, [])
        await a.send(routes("10.1.0.0/24", "10.2.0.0/24") + end_of_rib(IPV4_UNICAST))
        await b.until(lambda: set(b.routes) == {"10.1.0.0/24", "10.2.0.0/24"})
        withdrawn_before = len(b.routes)

        a.crash()
        await asyncio.wait_for(down.wait(), 10)
        assert rr.router.retained["127.0.1.1"].stale_count(IPV4_UNICAST) == 2
        seen = rr.neighbor("127.0.1.1")  # what an operator sees meanwhile
        assert seen["graceful_restart"]["restart_in_progress"]
        assert 0 < seen["graceful_restart"]["timers"]["restart"] <= 60
        assert seen["prefixes"]["ipv4-unicast"]["stale"] == 2
        assert len(b.routes) == withdrawn_before

        a2 = RawPeer("127.0.1.1", "10.0.1.1")
        await a2.connect(rr.port, [gr(60, restarting=True)])
        seen = rr.neighbor("127.0.1.1")
        assert seen["graceful_restart"]["received"]["raw"] == gr(60, restarting=True).raw.hex()
        assert seen["graceful_restart"]["received"]["families"]["ipv4-unicast"] == {"flags": "0x80", "forwarding": True}
        assert seen["graceful_restart"]["sent"]["families"] == {}  # helper mode: no families of our own
        await a2.send(routes("10.1.0.0/24") + end_of_rib(IPV4_UNICAST))
        await b.until(lambda: set(b.routes) == {"10.1.0.0/24"})
        assert rr.neighbor("127.0.1.1")["graceful_restart"]["end_of_rib_received"] == ["ipv4-unicast"]
        assert rr.router.peer("127.0.1.1") is not None and rr.router.peer("127.0.1.1").stale_count(IPV4_UNICAST) == 0
        a2.crash()
    finally:
        a.crash()
        b.crash()
        await rr.stop()


async def test_a_peer_that_never_returns_loses_its_routes_after_its_restart_time() -> None:
    rr = Speaker(parse(RR, "rr.toml"))
    await rr.start()
    a = RawPeer("127.0.1.1", "10.0.1.1")
    b = RawPeer("127.0.1.2", "10.0.1.2")
    try:
        await a.connect(rr.port, [gr(1)])
        await b.connect(rr.port, [])
        await a.send(routes("10.1.0.0/24"))
        await b.until(lambda: "10.1.0.0/24" in b.routes)
        loop = asyncio.get_running_loop()
        lost = loop.time()
        a.crash()
        await b.until(lambda: "10.1.0.0/24" not in b.routes, timeout=10)
        assert loop.time() - lost >= 1.0  # not before the restart time
    finally:
        a.crash()
        b.crash()
        await rr.stop()


async def test_return_with_f_0_flushes_at_once() -> None:
    rr = Speaker(parse(RR, "rr.toml"))
    await rr.start()
    a = RawPeer("127.0.1.1", "10.0.1.1")
    b = RawPeer("127.0.1.2", "10.0.1.2")
    try:
        await a.connect(rr.port, [gr(60)])
        await b.connect(rr.port, [])
        await a.send(routes("10.1.0.0/24"))
        await b.until(lambda: "10.1.0.0/24" in b.routes)
        a.crash()
        a2 = RawPeer("127.0.1.1", "10.0.1.1")
        await a2.connect(rr.port, [gr(60, restarting=True, flags=0x00)])  # the field bug: 0x00, not 0x80
        await b.until(lambda: "10.1.0.0/24" not in b.routes)
        a2.crash()
    finally:
        a.crash()
        b.crash()
        await rr.stop()
