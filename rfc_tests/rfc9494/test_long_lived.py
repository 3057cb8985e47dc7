"""RFC 9494 long-lived graceful restart, receiving side: when the restart time runs out (or
is 0), a peer's routes stay as long-lived stale routes: LLGR_STALE added, least preferred,
sent only to peers that announced LLGR, NO_LLGR routes removed; the long-lived stale time
ends them."""

from __future__ import annotations

import asyncio

from pyspeaker.config.load import parse
from pyspeaker.rib.path import Kind
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import open as wopen
from pyspeaker.wire.attrs import AttrSet
from pyspeaker.wire.constants import COMMUNITY_LLGR_STALE, COMMUNITY_NO_LLGR
from pyspeaker.wire.family import IPV4_UNICAST
from pyspeaker.wire.pack import announce
from pyspeaker.wire.prefix import parse as wire
from rfc_tests.conftest import communities, local_pref, next_hop, origin, pfx, seq_path, update
from rfc_tests.rawpeer import RawPeer
from rfc_tests.rfc4456.ribkit import V4, Lab
from rfc_tests.runtime.test_reflector_loopback import RR

IBGP = origin(0) + seq_path() + local_pref(100)


def test_long_lived_stale_routes() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    aware = lab.peer("10.0.0.2", llgr=True)
    plain = lab.peer("10.0.0.3")
    lab.send("10.0.0.1", update(attrs=IBGP + next_hop("10.0.0.1"), nlri=pfx("10.1.0.0/24")))
    lab.send(
        "10.0.0.1", update(attrs=IBGP + next_hop("10.0.0.1") + communities(COMMUNITY_NO_LLGR), nlri=pfx("10.2.0.0/24"))
    )
    lab.router.peer_lost(lab.links.pop("10.0.0.1"), frozenset({V4}))
    lab.router.flush()
    assert lab.router.to_long_lived("10.0.0.1", {V4: 60}) == {V4: 1}
    lab.router.flush()
    assert aware.prefixes() == {"10.1.0.0/24"}  # NO_LLGR: removed
    assert COMMUNITY_LLGR_STALE in aware.attrs("10.1.0.0/24").communities
    assert plain.prefixes() == set()  # it does not understand LLGR: withdrawn
    # any other route for the prefix is preferred, even with a lower LOCAL_PREF
    lab.peer("10.0.0.4")
    worse = update(attrs=origin(0) + seq_path() + local_pref(10) + next_hop("10.0.0.4"), nlri=pfx("10.1.0.0/24"))
    lab.send("10.0.0.4", worse)
    assert aware.next_hop("10.1.0.0/24") == bytes((10, 0, 0, 4))
    assert plain.next_hop("10.1.0.0/24") == bytes((10, 0, 0, 4))
    assert lab.router.sweep("10.0.0.1", V4) == 1  # the long-lived stale time ran out


def test_a_route_received_with_llgr_stale_is_least_preferred() -> None:
    lab = Lab()
    lab.peer("10.0.0.1", Kind.CLIENT)
    lab.peer("10.0.0.4", Kind.CLIENT)
    watcher = lab.peer("10.0.0.9", llgr=True)
    tagged = update(attrs=IBGP + next_hop("10.0.0.1") + communities(COMMUNITY_LLGR_STALE), nlri=pfx("10.1.0.0/24"))
    lab.send("10.0.0.1", tagged)
    lab.send(
        "10.0.0.4",
        update(attrs=origin(2) + seq_path(1, 2, 3) + local_pref(50) + next_hop("10.0.0.4"), nlri=pfx("10.1.0.0/24")),
    )
    assert watcher.next_hop("10.1.0.0/24") == bytes((10, 0, 0, 4))


async def test_after_the_restart_time_routes_go_long_lived_on_the_wire() -> None:
    rr = Speaker(parse(RR, "rr.toml"))
    await rr.start()
    a = RawPeer("127.0.1.1", "10.0.1.1")
    aware = RawPeer("127.0.1.2", "10.0.1.2")
    plain = RawPeer("127.0.1.3", "10.0.1.3")
    try:
        await a.connect(rr.port, [wopen.graceful_restart(1, [(V4, 0x80)]), wopen.long_lived_gr([(V4, 0x80, 60)])])
        await aware.connect(rr.port, [wopen.long_lived_gr([])])
        await plain.connect(rr.port, [])
        attrs = origin(0) + seq_path() + local_pref(100) + next_hop("127.0.1.1")
        await a.send(b"".join(announce(IPV4_UNICAST, attrs, [wire("10.1.0.0/24")])))
        await aware.until(lambda: "10.1.0.0/24" in aware.routes)
        await plain.until(lambda: "10.1.0.0/24" in plain.routes)
        loop = asyncio.get_running_loop()
        lost = loop.time()
        a.crash()
        await plain.until(lambda: "10.1.0.0/24" not in plain.routes, timeout=10)
        assert loop.time() - lost >= 1.0  # kept (stale) for the restart time first
        await aware.until(lambda: COMMUNITY_LLGR_STALE in AttrSet(aware.routes.get("10.1.0.0/24", b"")).communities)
        seen = rr.neighbor("127.0.1.1")
        assert seen["graceful_restart"]["restart_in_progress"]
        assert 0 < seen["graceful_restart"]["timers"]["stale ipv4-unicast"] <= 60
    finally:
        a.crash()
        aware.crash()
        plain.crash()
        await rr.stop()
