"""BIRD keeps our routes while we restart gracefully, and sweeps the ones we do not announce
again once we send End-of-RIB (RFC 4724). A pytest file for pyspeaker's pytest plugin.

Two test peers talk to the BIRD under test: ``speaker`` announces routes and restarts
gracefully (TCP closed without NOTIFICATION, back with the R bit and F set for both
families); ``observer``, in another AS, sees what BIRD does with those routes. BIRD must
withdraw nothing from the observer during the restart, and withdraw the routes the speaker
did not announce again soon after the speaker's End-of-RIB.

Run it against your BIRD with a peers file (see ``examples/README.md``)::

    pytest examples/test_bird_keeps_routes.py --bgp-peers bird-lab.toml

BIRD needs the two peers as eBGP neighbors with graceful restart on, importing everything
and exporting BGP routes (``export where source = RTS_BGP``), and for IPv6 over an IPv4
session a ``next hop address`` in its ipv6 channels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pyspeaker.testpeer import GrSpec, TestPeer
from pyspeaker.testpeer.pytest_plugin import PeerFactory
from pyspeaker.testpeer.scenario import Lab
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST

KEEP = ["10.1.0.0/24", "2001:db8:1::/48"]  # announced again after the restart
GONE = ["10.1.1.0/24", "2001:db8:1:1::/64"]  # not announced again: swept at End-of-RIB
RESTART_TIME = 30  # what the speaker's GR capability asks BIRD to wait
HOLD = 2.0  # seconds the restarting speaker stays quiet before announcing again
SWEEP = 10.0  # BIRD must withdraw GONE within this many seconds of our End-of-RIB
WAIT = 20.0  # longest wait for BIRD's UPDATEs

FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)


def held(peer: TestPeer, prefixes: Iterable[str]) -> list[str]:
    """Which of ``prefixes`` the DUT advertises to ``peer`` now."""
    return [p for p in prefixes if p in peer.routes.get(IPV6_UNICAST if ":" in p else IPV4_UNICAST, {})]


async def test_bird_keeps_routes_while_we_restart(bgp_peer: PeerFactory, bgp_lab: Lab) -> None:
    gr = GrSpec(restart_time=RESTART_TIME, families={f: 0x80 for f in FAMILIES})
    speaker = await bgp_peer("speaker", graceful_restart=gr)
    observer = await bgp_peer("observer")
    bgp_lab.expect.open_gr("speaker")  # BIRD is GR-capable (else it would flush at once)

    await speaker.announce(KEEP + GONE)
    for fam in FAMILIES:
        await speaker.end_of_rib(fam)
    await observer.wait(lambda: len(held(observer, KEEP + GONE)) == 4, WAIT, "our routes at the observer")

    # the restart: TCP closed without NOTIFICATION, back at once with R=1 and F=1
    await bgp_lab.step("restart", speaker.restart_gracefully(), peer="speaker")
    # BIRD has taken us back when its own End-of-RIBs have come; then we stay quiet a while:
    # our routes are stale in BIRD all that time, and must stay at the observer
    await speaker.wait(lambda: all(f in speaker.eor_received for f in FAMILIES), WAIT, "BIRD's End-of-RIB")
    await asyncio.sleep(HOLD)
    await speaker.announce(KEEP)
    bgp_lab.mark("eor", peer="speaker")
    for fam in FAMILIES:
        await speaker.end_of_rib(fam)
    await observer.wait(lambda: not held(observer, GONE), WAIT, "the sweep")

    bgp_lab.expect.no_withdrawals("observer", after="restart", until="eor")
    bgp_lab.expect.withdrawn_within("observer", GONE, SWEEP, after="eor")
    bgp_lab.expect.routes("observer", KEEP)
    bgp_lab.expect.no_withdrawals("observer", prefixes=KEEP)
