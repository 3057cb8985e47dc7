"""Two sans-IO sessions over a fake link on fake time: establishment both ways, an UPDATE,
keepalives, hold expiry, stops and restarts, byte-at-a-time delivery, collisions."""

from __future__ import annotations

import pytest

from pyspeaker.fsm import (
    OpenReceived,
    PeerSettings,
    Session,
    SessionDown,
    SessionUp,
    State,
    UpdateReceived,
    resolve_collision,
)
from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, AsPath, Notification, build_attrs, pack, prefix
from rfc_tests.conftest import BASE, KEEPALIVE, pfx, update
from rfc_tests.rfc4271.fsm_link import Link, of, states

A = PeerSettings(local_as=65001, peer_as=65002, router_id="10.0.0.1", hold_time=9)
B = PeerSettings(local_as=65002, peer_as=65001, router_id="10.0.0.2", hold_time=30)


def _established(link: Link) -> None:
    assert link.a.session.state is State.ESTABLISHED, link.a.events
    assert link.b.session.state is State.ESTABLISHED, link.b.events


@pytest.mark.parametrize("passive", ["a", "b"])
def test_active_and_passive_reach_established(passive: str) -> None:
    link = Link(A, B)
    link.start(a_passive=passive == "a", b_passive=passive == "b")
    _established(link)
    active, waiting = (link.b, link.a) if passive == "a" else (link.a, link.b)
    assert states(active.events) == [("Idle", "Connect"), ("Connect", "OpenSent"), ("OpenSent", "OpenConfirm"),
                                     ("OpenConfirm", "Established")]  # fmt: skip
    assert states(waiting.events) == [("Idle", "Active"), ("Active", "OpenSent"), ("OpenSent", "OpenConfirm"),
                                      ("OpenConfirm", "Established")]  # fmt: skip
    (up_a,) = of(link.a.events, SessionUp)
    (up_b,) = of(link.b.events, SessionUp)
    assert up_a.negotiated.hold_time == up_b.negotiated.hold_time == 9
    assert up_a.negotiated.keepalive_time == 3
    assert (up_a.negotiated.peer_id, up_b.negotiated.peer_id) == ("10.0.0.2", "10.0.0.1")
    assert up_a.negotiated.peer_open.raw == up_b.negotiated.local_open.encode()


def test_both_active_one_connection() -> None:
    link = Link(A, B)
    link.start()
    _established(link)


def test_an_update_crosses_the_link() -> None:
    link = Link(A, B)
    link.start()
    attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001), next_hop="10.0.0.1")
    (data,) = pack.announce_ipv4(attrs.raw, [prefix.parse("10.1.0.0/16"), prefix.parse("10.2.0.0/16")])
    assert link.a.session.send_update(data, link.now)
    link.pump()
    (got,) = of(link.b.events, UpdateReceived)
    assert got.update.announced() == {IPV4_UNICAST: [pfx("10.1.0.0/16"), pfx("10.2.0.0/16")]}
    assert got.update.attrs is not None and got.update.attrs.as_path == AsPath.sequence(65001)


def test_keepalives_keep_the_session_up_for_an_hour() -> None:
    link = Link(A, B)
    link.start()
    link.run(3600.0)
    _established(link)
    sent = [f for _, kind, f in link.a.trace if kind == "send" and f["type"] == "KEEPALIVE"]
    assert 1190 <= len(sent) <= 1201  # every 3 s


def test_hold_timer_expires_when_the_peer_goes_silent() -> None:
    link = Link(A, B)
    link.start()
    link.run(5.0)
    link.cut()
    link.run(100.0)
    assert link.a.session.state is not State.ESTABLISHED and link.b.session.state is not State.ESTABLISHED
    (down_a,) = link.downs(link.a)
    (down_b,) = link.downs(link.b)
    assert down_a.reason == down_b.reason == "hold timer expired"
    # b's last KEEPALIVE to reach a was sent at 3 s (every 3 s, the link cut at 5 s): 9 s later
    expiry = [t for t, kind, f in link.a.trace if kind == "timer" and f["timer"] == "Hold"]
    assert expiry == [12.0]


def test_stop_is_reported_with_its_text_on_the_other_side() -> None:
    link = Link(A, B)
    link.start()
    link.a.session.stop(link.now, Notification.shutdown("bye now"))
    link.pump()
    assert link.a.session.state is State.IDLE
    (down_b,) = link.downs(link.b)
    assert down_b.reason == 'NOTIFICATION received: Cease / Administrative Shutdown "bye now"'
    assert down_b.received is not None and down_b.received.shutdown_message == "bye now"
    (down_a,) = link.downs(link.a)
    assert down_a.sent == Notification.shutdown("bye now") and down_a.was_established
    link.run(1000.0)  # a stays down: b restarts and keeps failing to connect
    assert link.a.session.state is State.IDLE and link.b.session.state in (State.CONNECT, State.ACTIVE)


def test_automatic_restart_reestablishes_after_idle_hold() -> None:
    a = PeerSettings(65001, 65002, "10.0.0.1", hold_time=9, idle_hold_time=2.0)
    b = PeerSettings(65002, 65001, "10.0.0.2", passive=True, idle_hold_time=1.0)
    link = Link(a, b)
    link.start()
    link.a.session.reset(link.now)
    link.pump()
    assert link.a.session.state is State.IDLE
    link.run(1.5)
    assert link.a.session.state is State.IDLE and link.b.session.state is State.ACTIVE
    link.run(2.5)
    _established(link)
    assert len(of(link.a.events, SessionUp)) == 2


def test_byte_at_a_time_gives_the_same_events() -> None:
    def run(chunk: int) -> tuple[list[str], list[str]]:
        link = Link(A, B, chunk=chunk)
        link.start()
        link.a.session.send_update(update(attrs=BASE, nlri=pfx("10.9.0.0/16")), link.now)
        link.pump()
        link.run(20.0)
        link.b.session.stop(link.now)
        link.pump()
        return [repr(e) for e in link.a.events], [repr(e) for e in link.b.events]

    whole, single = run(0), run(1)
    assert whole == single
    assert any("UpdateReceived" in e for e in whole[1])


def test_split_in_the_middle_of_a_header() -> None:
    s = Link(A, B).a.session
    s.start(0.0)
    s.connection_made(0.0, incoming=False)
    data = Session(B).local_open.encode() + KEEPALIVE + update(attrs=BASE, nlri=pfx("10.0.0.0/8"))
    for cut in (5, 18, 19, len(data) - 3):
        t = Session(A)
        t.start(0.0)
        t.connection_made(0.0, incoming=False)
        t.receive_data(data[:cut], 0.0)
        t.receive_data(data[cut:], 0.0)
        assert t.state is State.ESTABLISHED and len(of(t.next_events(), UpdateReceived)) == 1


def test_negotiated_families_and_addpath_over_the_link() -> None:
    a = PeerSettings(65001, 65001, "10.0.0.1", families=(IPV4_UNICAST, IPV6_UNICAST), addpath=((IPV4_UNICAST, 3),))
    b = PeerSettings(65001, 65001, "10.0.0.2", families=(IPV4_UNICAST,), addpath=((IPV4_UNICAST, 1),))
    link = Link(a, b)
    link.start()
    neg_a = link.a.session.negotiated
    neg_b = link.b.session.negotiated
    assert neg_a is not None and neg_b is not None
    assert neg_a.families == neg_b.families == frozenset({IPV4_UNICAST})
    assert (neg_a.addpath_tx, neg_a.addpath_rx) == (frozenset({IPV4_UNICAST}), frozenset())
    assert (neg_b.addpath_tx, neg_b.addpath_rx) == (frozenset(), frozenset({IPV4_UNICAST}))
    assert neg_a.ibgp and neg_a.context().addpath_tx == frozenset({IPV4_UNICAST})


def test_delay_open_over_the_link() -> None:
    b = PeerSettings(65002, 65001, "10.0.0.2", passive=True, delay_open_time=4.0)
    link = Link(A, b)
    link.start()
    _established(link)  # a's OPEN reached b while its DelayOpen ran: answered at once
    reasons = [e.reason for e in link.b.events if hasattr(e, "reason")]
    assert "OPEN received while delay open timer running" in reasons


def test_delay_open_on_both_sides() -> None:
    a = PeerSettings(65001, 65002, "10.0.0.1", delay_open_time=2.0)
    b = PeerSettings(65002, 65001, "10.0.0.2", passive=True, delay_open_time=4.0)
    link = Link(a, b)
    link.start()
    assert link.a.session.state is State.CONNECT and link.b.session.state is State.ACTIVE
    assert link.a.session.connected and link.b.session.connected
    link.run(1.9)
    assert link.a.session.state is State.CONNECT
    link.run(2.0)  # a's DelayOpen expires, its OPEN stops b's
    _established(link)
    assert [t for t, kind, f in link.b.trace if kind == "timer"] == []


# -- collisions (RFC 4271 6.8) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("local", "remote", "keep_ours"),
    [("10.0.0.2", "10.0.0.1", True), ("10.0.0.1", "10.0.0.2", False), ("9.255.255.255", "10.0.0.0", False)],
)
def test_resolve_collision_compares_identifiers_as_numbers(local: str, remote: str, keep_ours: bool) -> None:
    assert resolve_collision(local, remote) is keep_ours


def test_resolve_collision_equal_identifiers_by_as_number() -> None:
    assert resolve_collision("10.0.0.1", "10.0.0.1", 65002, 65001)
    assert not resolve_collision("10.0.0.1", "10.0.0.1", 65001, 65002)
    assert not resolve_collision("10.0.0.1", "10.0.0.1")


def test_collision_two_connections_one_survives() -> None:
    """a and b connect to each other at the same time; each side runs a Session per
    connection, and on the peer's OPEN the side with the higher identifier keeps its own."""
    ab = Link(A, B)  # a's connection: a.session initiated it
    ba = Link(B, A)  # b's connection: ba.a (b) initiated it
    ab.start(b_passive=True)
    ba.start(b_passive=True)
    a_out, a_in = ab.a.session, ba.b.session
    b_in, b_out = ab.b.session, ba.a.session
    for s in (a_out, a_in, b_in, b_out):
        assert s.state is State.ESTABLISHED or s.state is State.OPEN_CONFIRM
    # each side asks which of its two connections to keep
    assert not a_out.collision_keep_self("10.0.0.2")  # a has the lower id: keeps b's connection
    assert b_out.collision_keep_self("10.0.0.1")
    a_out.collision_dump(ab.now)
    ab.pump()
    assert a_out.state is State.IDLE and b_in.state is not State.ESTABLISHED
    (down,) = ab.downs(ab.b)
    assert down.received == Notification(6, 7)
    assert ba.a.session.state is State.ESTABLISHED and ba.b.session.state is State.ESTABLISHED


def test_open_received_event_gives_the_identifier_for_collision_detection() -> None:
    link = Link(A, B)
    link.start()
    (opened,) = of(link.a.events, OpenReceived)
    assert str(opened.open.bgp_id) == "10.0.0.2" and link.a.session.peer_id == "10.0.0.2"
    assert not link.downs(link.a)
    assert all(not isinstance(e, SessionDown) for e in link.b.events)
