"""pyspeaker against BIRD 1.6 (the Calico family): no channels, so two daemons and two
sessions: `bird` carries IPv4 unicast over 10.77.n.x, `bird6` IPv6 unicast over
fd00:77:n::x. bird6 sends a 32-octet IPv6 next hop (global + link-local)."""

from __future__ import annotations

import asyncio
import ipaddress

from pyspeaker.fsm import types as ft
from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, AsPath

from .checks import daemon_shows_our_routes
from .conftest import DaemonFactory, SpeakerFactory
from .daemons import DAEMON_COMMUNITY, DAEMON_LARGE, DAEMON_V4, DAEMON_V6, Daemon
from .netns import poll
from .pyside import (
    DAEMON_AS,
    LOCAL_AS,
    Recorder,
    announcements_v4,
    announcements_v6,
    community_texts,
    config_text,
    large_texts,
)

UP_TIMEOUT = 20.0
HOLD = 9
KEEPALIVE = 3


async def both_up(rec: Recorder, d: Daemon) -> dict[str, ft.SessionUp]:
    """Wait for a SessionUp on each of the two sessions; returns them by peer address."""
    ups = {}
    for addr in (d.link.their4, d.link.their6):
        up = await rec.wait_for(lambda e: isinstance(e, ft.SessionUp), UP_TIMEOUT, f"SessionUp {addr}", address=addr)
        assert isinstance(up, ft.SessionUp)
        ups[addr] = up
    return ups


async def test_bird16_two_sessions_come_up(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = lab("bird16")
    _, rec = await speakers(config_text(d.link, v6_session=True))
    ups = await both_up(rec, d)
    assert ups[d.link.their4].negotiated.families == frozenset({IPV4_UNICAST})
    assert ups[d.link.their6].negotiated.families == frozenset({IPV6_UNICAST})
    for up in ups.values():
        assert up.negotiated.peer_as == DAEMON_AS and up.negotiated.hold_time == HOLD
        assert up.negotiated.peer_id == d.link.their4  # bird6 also uses the router id 10.77.n.2

    async def established() -> tuple[bool, str]:
        return await d.established()

    await poll(established, "bird and bird6 Established", UP_TIMEOUT)


async def test_bird16_routes_flow_both_ways(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = lab("bird16")
    speaker, rec = await speakers(config_text(d.link, v6_session=True))
    await both_up(rec, d)
    c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
    for fam, text in ((IPV4_UNICAST, DAEMON_V4), (IPV6_UNICAST, DAEMON_V6)):
        attrs = await rec.wait_route(fam, text, 15)
        assert f"{c[0]}:{c[1]}" in community_texts(attrs), attrs
        assert f"{lg[0]}:{lg[1]}:{lg[2]}" in large_texts(attrs), attrs
        assert attrs.as_path == AsPath.sequence(DAEMON_AS), attrs
    assert rec.received.next_hops[(IPV4_UNICAST, DAEMON_V4)] == [d.link.their4]
    hops = rec.received.next_hops[(IPV6_UNICAST, DAEMON_V6)]
    assert hops[0] == d.link.their6 and len(hops) == 2 and ipaddress.IPv6Address(hops[1]).is_link_local, hops

    for msg in announcements_v4(d.link):
        speaker.peers[d.link.their4].send_update(msg)
    for msg in announcements_v6(d.link):
        speaker.peers[d.link.their6].send_update(msg)
    for view in await daemon_shows_our_routes(d, "bird/bird6", 15):
        assert view.as_path == str(LOCAL_AS), view.raw


async def test_bird16_wrong_remote_as(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = lab("bird16")
    _, rec = await speakers(config_text(d.link, v6_session=True, remote_as=65099))
    for addr in (d.link.their4, d.link.their6):
        down = await rec.wait_for(
            lambda e: isinstance(e, ft.SessionDown) and e.sent is not None,
            UP_TIMEOUT,
            f"NOTIFICATION to {addr}",
            address=addr,
        )
        assert isinstance(down, ft.SessionDown) and down.sent is not None
        assert (down.sent.code, down.sent.subcode) == (2, 2)
        assert down.sent.data == DAEMON_AS.to_bytes(2, "big")

    async def saw() -> tuple[bool, str]:
        return await d.notification_received(2, 2)

    await poll(saw, "bird and bird6 recorded Bad Peer AS", 10)
    assert not rec.of(ft.SessionUp)


async def test_bird16_hold_timer(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = lab("bird16")
    _, rec = await speakers(config_text(d.link, v6_session=True))
    await both_up(rec, d)
    loop = asyncio.get_running_loop()
    mark = len(rec.events)
    d.freeze()  # both bird and bird6
    frozen_at = loop.time()
    downs: dict[str, float] = {}
    for addr in (d.link.their4, d.link.their6):
        down = await rec.wait_for(
            lambda e: isinstance(e, ft.SessionDown), HOLD + 5, f"SessionDown {addr}", since=mark, address=addr
        )
        assert isinstance(down, ft.SessionDown) and down.sent is not None, down
        assert (down.sent.code, down.sent.subcode) == (4, 0), down
        downs[addr] = next(t for a, ev, t in rec.events[mark:] if ev is down) - frozen_at
    assert set(downs) == {d.link.their4, d.link.their6}
    for a, elapsed in downs.items():
        assert HOLD - KEEPALIVE - 0.5 <= elapsed <= HOLD + 1.0, f"{a}: hold timer fired {elapsed:.2f} s after SIGSTOP"


async def test_bird16_md5(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    """TCP-MD5 on both the IPv4 and the IPv6 session (pyspeaker keys its IPv6 listener too)."""
    d = lab("bird16", password="pyspeaker-md5")
    _, rec = await speakers(config_text(d.link, v6_session=True, password="pyspeaker-md5"))
    await both_up(rec, d)

    async def established() -> tuple[bool, str]:
        return await d.established()

    await poll(established, "bird and bird6 Established with TCP-MD5", UP_TIMEOUT)
