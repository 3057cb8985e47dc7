"""examples/calico/pyspeaker.toml as the route reflector of three Calico-like nodes: BIRD 1.6
(calico-node's BGP daemon: ``bird`` for IPv4, ``bird6`` for IPv6), each in its own namespace,
in AS 64512 with graceful restart on, each originating its pod block. The example file is
used as it is, with only its addresses moved to this lab's (the listen ranges to the lab's
node links, the listen addresses to ours). Each node's pod blocks, both families, reach every
other node with the originating node's next hop, and go when that node withdraws them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pyspeaker.fsm import types as ft

from .checks import daemon_lost_route, daemon_shows_route
from .conftest import DaemonFactory, SpeakerFactory
from .daemons import LAB_NET4, LAB_NET6, Daemon

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calico" / "pyspeaker.toml"
CALICO_AS = 64512
NODES = 3
UP_TIMEOUT = 20.0
ROUTE_TIMEOUT = 15.0


def pod_blocks(i: int) -> tuple[str, str]:
    """Calico IPAM blocks: a /26 (IPv4) and a /122 (IPv6) per node."""
    return f"192.168.{i}.0/26", str(ipaddress.ip_network(f"fd00:244:0:{i}::/122"))


def lab_config(nodes: list[Daemon]) -> str:
    """The example with its addresses moved into this lab: every replacement must happen,
    so a change of the example that this test does not follow fails here."""
    text = EXAMPLE.read_text()
    ours = [a for d in nodes for a in (d.link.our4, d.link.our6)]
    moves = {
        'listen = ["10.0.0.10", "fd00:10::10"]': "listen = [" + ", ".join(f'"{a}"' for a in ours) + "]",
        'prefix = "10.0.0.0/16"': f'prefix = "{LAB_NET4}"',
        'prefix = "fd00:10::/64"': f'prefix = "{LAB_NET6}"',
    }
    for old, new in moves.items():
        assert text.count(old) == 1, f"{EXAMPLE}: expected {old!r} once"
        text = text.replace(old, new)
    return text


async def test_calico_example_reflects_pod_blocks_between_bird16_nodes(
    lab: DaemonFactory, speakers: SpeakerFactory
) -> None:
    nodes = []
    for i in range(NODES):
        v4, v6 = pod_blocks(i)
        nodes.append(
            lab(
                "bird16",
                start=False,
                local_as=CALICO_AS,
                peer_as=CALICO_AS,
                prefix4=v4,
                prefix6=v6,
                lab_routes=True,  # next hops on other nodes' links resolve through the reflector's
                graceful_restart=True,  # as calico-node's BIRD
            )
        )
    speaker, rec = await speakers(lab_config(nodes))
    assert speaker.config.global_.asn == CALICO_AS and len(speaker.config.listen_ranges) == 2
    for d in nodes:
        d.start()
    for d in nodes:
        for addr in (d.link.their4, d.link.their6):
            await rec.wait_for(lambda e: isinstance(e, ft.SessionUp), UP_TIMEOUT, f"SessionUp {addr}", address=addr)
    # every session came from a listen range: nodes need no line of configuration each
    assert all(r.dynamic for r in speaker.peers.values()) and len(speaker.peers) == 2 * NODES

    for i, d in enumerate(nodes):
        for j, other in enumerate(nodes):
            if i == j:
                continue
            v4, v6 = pod_blocks(j)
            view4 = await daemon_shows_route(d, 1, v4, f"node {i}", ROUTE_TIMEOUT)
            assert view4.next_hop == other.link.their4, view4.raw
            view6 = await daemon_shows_route(d, 2, v6, f"node {i}", ROUTE_TIMEOUT)
            assert view6.next_hop.startswith(other.link.their6), view6.raw

    # node 0 withdraws its pod blocks (BIRD: `disable orig`): gone from the others
    await nodes[0].withdraw(1)
    await nodes[0].withdraw(2)
    v4, v6 = pod_blocks(0)
    for i, d in enumerate(nodes[1:], start=1):
        await daemon_lost_route(d, 1, v4, f"node {i}", ROUTE_TIMEOUT)
        await daemon_lost_route(d, 2, v6, f"node {i}", ROUTE_TIMEOUT)
    # and the others' blocks stay where they were
    v4, v6 = pod_blocks(1)
    await daemon_shows_route(nodes[2], 1, v4, "node 2", ROUTE_TIMEOUT)
    await daemon_shows_route(nodes[2], 2, v6, "node 2", ROUTE_TIMEOUT)
