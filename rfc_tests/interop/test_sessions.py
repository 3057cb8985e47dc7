"""pyspeaker against real daemons (BIRD 2, FRR, GoBGP), each in its own network namespace:
sessions come up with both families, routes and their attributes flow both ways, a wrong AS
is refused with OPEN Message Error / Bad Peer AS, a frozen daemon is caught by the hold
timer, TCP-MD5 works (and a wrong key keeps the session down), and a connection collision
leaves exactly one session. Every check looks at both sides: pyspeaker's events and the
daemon's own CLI/log."""

from __future__ import annotations

import asyncio
import logging
from typing import TypeGuard

import pytest

from pyspeaker.fsm import types as ft
from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, AsPath

from .checks import HOLD, KEEPALIVE, daemon_shows_our_routes, freeze_until_hold_expiry, thaw_and_see_expiry_recorded
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

DAEMON_KINDS = ["bird2", "frr", "gobgp"]
MD5_KINDS = ["bird2", "frr", "gobgp"]
UP_TIMEOUT = 20.0  # GoBGP may take several seconds; the others well under 2 s


def is_up(e: ft.Event) -> TypeGuard[ft.SessionUp]:
    return isinstance(e, ft.SessionUp)


def is_down(e: ft.Event) -> TypeGuard[ft.SessionDown]:
    return isinstance(e, ft.SessionDown)


async def wait_established(d: Daemon, timeout: float = UP_TIMEOUT) -> str:
    async def probe() -> tuple[bool, str]:
        return await d.established()

    text: str = await poll(probe, f"{d.kind} shows the session Established", timeout)
    return text


async def bring_up(lab: DaemonFactory, speakers: SpeakerFactory, kind: str, **opts: object) -> tuple[Daemon, Recorder]:
    d = lab(kind, **opts)
    password = opts.get("password")
    _, rec = await speakers(config_text(d.link, password=password if isinstance(password, str) else None))
    await rec.wait_for(is_up, UP_TIMEOUT, f"SessionUp with {kind}")
    return d, rec


# -- 1. one session carries IPv4 and IPv6 ------------------------------------------------------------
@pytest.mark.parametrize("kind", DAEMON_KINDS)
async def test_session_up_with_both_families(lab: DaemonFactory, speakers: SpeakerFactory, kind: str) -> None:
    d = lab(kind)
    _, rec = await speakers(config_text(d.link))
    up = await rec.wait_for(is_up, UP_TIMEOUT, f"SessionUp with {kind}")
    assert isinstance(up, ft.SessionUp)
    neg = up.negotiated
    assert neg.families == frozenset({IPV4_UNICAST, IPV6_UNICAST})
    assert neg.peer_as == DAEMON_AS and not neg.ibgp and neg.asn4
    assert neg.hold_time == HOLD and neg.keepalive_time == KEEPALIVE
    assert neg.peer_id == d.link.their4

    await wait_established(d)

    async def both_families() -> tuple[bool, str]:
        fams, text = await d.families()
        return fams == {"ipv4", "ipv6"}, f"{fams}\n{text}"

    await poll(both_families, f"{kind} shows ipv4 and ipv6 negotiated", 10)


# -- 2. routes and attributes, both ways ------------------------------------------------------------
@pytest.mark.parametrize("kind", DAEMON_KINDS)
async def test_routes_flow_both_ways_with_attributes(lab: DaemonFactory, speakers: SpeakerFactory, kind: str) -> None:
    d = lab(kind)
    speaker, rec = await speakers(config_text(d.link))
    await rec.wait_for(is_up, UP_TIMEOUT, f"SessionUp with {kind}")

    # the daemon's routes reach pyspeaker with their communities and large communities
    c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
    for fam, text, nh in ((IPV4_UNICAST, DAEMON_V4, d.link.their4), (IPV6_UNICAST, DAEMON_V6, d.link.their6)):
        attrs = await rec.wait_route(fam, text, 15)
        assert f"{c[0]}:{c[1]}" in community_texts(attrs), attrs
        assert f"{lg[0]}:{lg[1]}:{lg[2]}" in large_texts(attrs), attrs
        assert attrs.as_path == AsPath.sequence(DAEMON_AS), attrs
        # IPv6 over an IPv4 session: the next hop is the daemon's global IPv6 address
        # (BIRD and FRR add their link-local one: a 32-octet next hop)
        assert rec.received.next_hops[(fam, text)][0] == nh

    # pyspeaker's routes reach the daemon with MED, communities and large communities
    runner = speaker.peers[d.link.their4]
    for msg in announcements_v4(d.link) + announcements_v6(d.link):
        runner.send_update(msg)
    for view in await daemon_shows_our_routes(d, kind, 15):
        assert str(LOCAL_AS) in view.as_path, view.raw


# -- 3. wrong remote AS ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", DAEMON_KINDS)
async def test_wrong_remote_as_sends_bad_peer_as(lab: DaemonFactory, speakers: SpeakerFactory, kind: str) -> None:
    d = lab(kind)
    _, rec = await speakers(config_text(d.link, remote_as=65099))  # the daemon is AS 65002
    down = await rec.wait_for(lambda e: is_down(e) and e.sent is not None, UP_TIMEOUT, "NOTIFICATION sent")
    assert isinstance(down, ft.SessionDown) and down.sent is not None
    assert (down.sent.code, down.sent.subcode) == (2, 2)
    assert down.sent.data == DAEMON_AS.to_bytes(2, "big")  # RFC 4271 6.2: the AS the peer sent
    assert not down.was_established

    async def daemon_saw_it() -> tuple[bool, str]:
        return await d.notification_received(2, 2)

    await poll(daemon_saw_it, f"{kind} recorded OPEN Message Error / Bad Peer AS", 10)
    ok, text = await d.established()
    assert not ok, text
    assert not rec.of(ft.SessionUp)


# -- 4. hold timer ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", DAEMON_KINDS)
async def test_hold_timer_expires_when_daemon_is_frozen(
    lab: DaemonFactory, speakers: SpeakerFactory, kind: str
) -> None:
    d = lab(kind)
    _, rec = await speakers(config_text(d.link))
    await rec.wait_for(is_up, UP_TIMEOUT, f"SessionUp with {kind}")
    await wait_established(d)
    await freeze_until_hold_expiry(d, rec, kind)
    seen = await thaw_and_see_expiry_recorded(d, kind)
    print(f"{kind} after SIGCONT:\n{seen}")


# -- 5. TCP-MD5 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", MD5_KINDS)
async def test_md5_password_session_comes_up(lab: DaemonFactory, speakers: SpeakerFactory, kind: str) -> None:
    d, _rec = await bring_up(lab, speakers, kind, password="pyspeaker-md5")
    await wait_established(d)


@pytest.mark.parametrize("kind", MD5_KINDS)
async def test_md5_wrong_password_stays_down(lab: DaemonFactory, speakers: SpeakerFactory, kind: str) -> None:
    d = lab(kind, password="daemon-key")
    _, rec = await speakers(config_text(d.link, password="not-the-key"))
    with pytest.raises(AssertionError, match="not seen within"):
        await rec.wait_for(lambda e: is_up(e) or isinstance(e, ft.OpenReceived), 8.0, "SessionUp")
    ok, text = await d.established()
    assert not ok, text
    assert not rec.of(ft.SessionUp) and not rec.of(ft.OpenReceived)


# -- 6. connection collision ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", DAEMON_KINDS)
async def test_connection_collision_leaves_one_session(
    lab: DaemonFactory, speakers: SpeakerFactory, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Both sides connect. The daemon is started (active, connect retry 1 s) and frozen at
    once, then pyspeaker starts: its connection is accepted by the daemon's kernel and its
    OPEN sent, but no OPEN comes back. After the daemon's retry time it is thawed: it
    accepts our connection and opens its own, so each side holds two connections to
    the other at once and must resolve the collision (RFC 4271 6.8): the daemon's BGP
    identifier (10.77.n.2) is higher, so the connection the daemon opened must survive."""
    caplog.set_level(logging.INFO, logger="pyspeaker")
    caplog.set_level(logging.INFO, logger="pyspeaker.listener")
    d = lab(kind)
    d.freeze()
    speaker, rec = await speakers(config_text(d.link))
    await rec.wait_for(
        lambda e: isinstance(e, ft.StateChanged) and e.new is ft.State.OPEN_SENT, 10, "our connection in OpenSent"
    )
    # the daemon's connect-retry timer (1 s) must run out while it is frozen; there is no
    # event for that, so this is the one deliberate wait
    await asyncio.sleep(1.5)
    d.thaw()
    up = await rec.wait_for(is_up, UP_TIMEOUT, f"SessionUp with {kind}")
    assert isinstance(up, ft.SessionUp)
    await wait_established(d)

    # stable for three keepalive intervals, on both sides
    mark = len(rec.events)
    with pytest.raises(AssertionError, match="not seen within"):
        await rec.wait_for(is_down, 3 * KEEPALIVE + 1, "SessionDown", since=mark)
    ok, text = await d.established()
    assert ok, text
    assert len(rec.of(ft.SessionUp)) == 1, rec.timeline()
    assert not [e for e in rec.of(ft.SessionDown) if isinstance(e, ft.SessionDown) and e.was_established], (
        rec.timeline()
    )
    assert d.established_count() == 1, d.log_tail()
    runner = speaker.peers[d.link.their4]
    assert runner.link is not None and runner.spare is None

    # what happened to the second connection (for the record: it depends on the daemon)
    how = []
    if "NOTIFICATION sent: Cease / Connection Collision Resolution" in caplog.text:
        how.append("pyspeaker sent Cease/Connection Collision Resolution")
    if "NOTIFICATION received: Cease / Connection Collision Resolution" in caplog.text:
        how.append(f"{kind} sent Cease/Connection Collision Resolution")
    if f"refused a connection from {d.link.their4}" in caplog.text:
        how.append(f"pyspeaker refused {kind}'s connection (a session was already Established)")
    survivor = "the daemon's" if runner.link.incoming else "pyspeaker's"
    print(f"{kind}: surviving connection: {survivor}; second connection: {'; '.join(how) or 'none was made'}")
