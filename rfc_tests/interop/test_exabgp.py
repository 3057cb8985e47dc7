"""pyspeaker against ExaBGP 5 (the PyPI package in the venv), in a network namespace of its
own (ExaBGP's one global TCP port is used to listen and to connect): one session carries
IPv4 and IPv6, routes and their attributes flow both ways, a wrong AS is refused with OPEN
Message Error / Bad Peer AS, a frozen ExaBGP is caught by the hold timer. ExaBGP's side is
read from the JSON its API process writes (see exabgp_driver.py)."""

from __future__ import annotations

import asyncio
from typing import TypeGuard

from pyspeaker.fsm import types as ft
from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, AsPath, Family

from .checks import HOLD, KEEPALIVE, daemon_shows_our_routes, freeze_until_hold_expiry, thaw_and_see_expiry_recorded
from .conftest import DaemonFactory, SpeakerFactory
from .daemons import DAEMON_COMMUNITY, DAEMON_LARGE, DAEMON_V4, DAEMON_V6
from .exabgp_driver import Exabgp
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

UP_TIMEOUT = 15.0  # ExaBGP answers at once (~20-30 ms here)


def is_up(e: ft.Event) -> TypeGuard[ft.SessionUp]:
    return isinstance(e, ft.SessionUp)


def is_down(e: ft.Event) -> TypeGuard[ft.SessionDown]:
    return isinstance(e, ft.SessionDown)


def exabgp(lab: DaemonFactory, **opts: object) -> Exabgp:
    d = lab("exabgp", **opts)
    assert isinstance(d, Exabgp)
    return d


async def wait_established(d: Exabgp, timeout: float = UP_TIMEOUT) -> str:
    async def probe() -> tuple[bool, str]:
        return await d.established()

    text: str = await poll(probe, "ExaBGP's API reports the neighbor up", timeout)
    return text


async def wait_end_of_rib(rec: Recorder, timeout: float = 5.0) -> None:
    """ExaBGP ends its first UPDATE burst with End-of-RIB for each family (without GR too)."""
    for fam in (IPV4_UNICAST, IPV6_UNICAST):

        def eor(e: ft.Event, fam: Family = fam) -> bool:
            return isinstance(e, ft.UpdateReceived) and e.update.end_of_rib == fam

        await rec.wait_for(eor, timeout, f"End-of-RIB {fam} from ExaBGP")


# -- 1. one session carries IPv4 and IPv6 ------------------------------------------------------------
async def test_exabgp_session_up_with_both_families(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = exabgp(lab)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    _, rec = await speakers(config_text(d.link))
    up = await rec.wait_for(is_up, UP_TIMEOUT, "SessionUp with ExaBGP")
    took = loop.time() - t0
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

    await poll(both_families, "ExaBGP's negotiated message lists ipv4 and ipv6 unicast", 10)
    # ExaBGP's view of pyspeaker's OPEN
    theirs = d.opens("receive")[-1]
    assert (theirs["asn"], theirs["router_id"], theirs["hold_time"]) == (LOCAL_AS, d.link.our4, HOLD), theirs
    mp = [c for c in theirs["capabilities"].values() if c.get("name") == "multiprotocol"]
    assert mp and set(mp[0]["families"]) == {"ipv4/unicast", "ipv6/unicast"}, theirs
    codes = [c.code for c in neg.peer_open.capabilities]
    print(f"exabgp: SessionUp {took * 1000:.0f} ms after pyspeaker started; ExaBGP's capabilities {codes}")


# -- 2. routes and attributes, both ways ------------------------------------------------------------
async def test_exabgp_routes_flow_both_ways_with_attributes(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = exabgp(lab)
    speaker, rec = await speakers(config_text(d.link))
    await rec.wait_for(is_up, UP_TIMEOUT, "SessionUp with ExaBGP")

    # ExaBGP's static routes reach pyspeaker with their communities and large communities
    c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
    for fam, text, nh in ((IPV4_UNICAST, DAEMON_V4, d.link.their4), (IPV6_UNICAST, DAEMON_V6, d.link.their6)):
        attrs = await rec.wait_route(fam, text, 10)
        assert community_texts(attrs) == {f"{c[0]}:{c[1]}"}, attrs
        assert large_texts(attrs) == {f"{lg[0]}:{lg[1]}:{lg[2]}"}, attrs
        assert attrs.as_path == AsPath.sequence(DAEMON_AS), attrs
        assert attrs.med is None, attrs
        # ExaBGP sends the configured next hop alone (16 octets for IPv6: no link-local)
        assert rec.received.next_hops[(fam, text)] == [nh]
    # ExaBGP sends End-of-RIB for both families although no graceful restart was negotiated
    await wait_end_of_rib(rec)

    # pyspeaker's routes reach ExaBGP with MED, communities and large communities
    runner = speaker.peers[d.link.their4]
    for msg in announcements_v4(d.link) + announcements_v6(d.link):
        runner.send_update(msg)
    for view in await daemon_shows_our_routes(d, "ExaBGP's API", 10):
        assert view.as_path == str(LOCAL_AS), view.raw
        assert view.raw["neighbor"]["message"]["update"]["attribute"]["origin"] == "igp", view.raw


# -- 3. wrong remote AS ---------------------------------------------------------------------------
async def test_exabgp_wrong_remote_as_sends_bad_peer_as(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = exabgp(lab)
    _, rec = await speakers(config_text(d.link, remote_as=65099))  # ExaBGP is AS 65002
    down = await rec.wait_for(lambda e: is_down(e) and e.sent is not None, UP_TIMEOUT, "NOTIFICATION sent")
    assert isinstance(down, ft.SessionDown) and down.sent is not None
    assert (down.sent.code, down.sent.subcode) == (2, 2)
    assert down.sent.data == DAEMON_AS.to_bytes(2, "big")  # RFC 4271 6.2: the AS the peer sent
    assert not down.was_established

    async def exabgp_saw_it() -> tuple[bool, str]:
        return await d.notification_received(2, 2)

    await poll(exabgp_saw_it, "ExaBGP's API reports OPEN Message Error / Bad Peer AS received", 10)
    got = [n for n in d.notifications("receive") if (n["code"], n["subcode"]) == (2, 2)]
    assert got[0]["data"].lower() == "0x" + DAEMON_AS.to_bytes(2, "big").hex(), got  # "0xFDEA"
    assert ("down", "notification received (2,2)") in d.states(), d.states()
    assert "peer reset, message [notification received (2,2)]" in d.log_text(), d.log_tail()
    ok, text = await d.established()
    assert not ok and d.established_count() == 0, text
    assert not rec.of(ft.SessionUp)


# -- 4. hold timer ----------------------------------------------------------------------------------
async def test_exabgp_hold_timer_expires_when_frozen(lab: DaemonFactory, speakers: SpeakerFactory) -> None:
    d = exabgp(lab)
    _, rec = await speakers(config_text(d.link))
    await rec.wait_for(is_up, UP_TIMEOUT, "SessionUp with ExaBGP")
    await wait_established(d)
    # Freeze ExaBGP only once its first burst is out: thawed with UPDATEs still queued, it
    # writes them first, the write fails on the connection pyspeaker closed (RST) and it
    # drops the session as "Broken TCP connection" without reading our 4/0 (3 of 25 runs).
    await wait_end_of_rib(rec)
    elapsed = await freeze_until_hold_expiry(d, rec, "ExaBGP")
    seen = await thaw_and_see_expiry_recorded(d, "ExaBGP")
    print(f"exabgp: hold timer fired {elapsed:.2f} s after SIGSTOP; after SIGCONT:\n{seen}")
