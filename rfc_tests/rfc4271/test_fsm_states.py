"""RFC 4271 8.2.2: the session state machine driven state by state, every error path with
the NOTIFICATION it sends (RFC 4271 6, RFC 6608, RFC 9003, RFC 5492, RFC 9234)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from pyspeaker.fsm import (
    LARGE_HOLD_TIME,
    CloseRequested,
    ConnectRequested,
    OpenReceived,
    PeerSettings,
    RouteRefreshReceived,
    Session,
    SessionDown,
    SessionUp,
    State,
    StateChanged,
    Timer,
    UpdateReceived,
    UsageError,
)
from pyspeaker.wire import IPV4_UNICAST, Notification, Open, decode
from rfc_tests.conftest import (
    BASE,
    KEEPALIVE,
    MARKER,
    attr,
    cap,
    message,
    next_hop,
    notification,
    pfx,
    route_refresh,
    seq_path,
    update,
)
from rfc_tests.rfc4271.fsm_link import LOCAL, LOCAL_ID, caps, drive, of, peer_open, reason, states

T = 100.0  # "now" for the single-step tests


def _ended(s: Session, sent: bytes, reason: str | None = None) -> list[Any]:
    """The session went to Idle, sent exactly ``sent`` and asked for the close."""
    assert s.state is State.IDLE
    assert s.data_to_send() == sent
    events = s.next_events()
    assert isinstance(events[0], StateChanged) and events[0].new is State.IDLE
    if reason is not None:
        assert events[0].reason == reason
    assert of(events, CloseRequested)
    return events


# -- Idle ------------------------------------------------------------------------------------
def test_new_session_is_idle_with_nothing_to_do() -> None:
    s = Session(LOCAL)
    assert s.state is State.IDLE
    assert s.get_timer() is None
    assert s.next_events() == [] and s.data_to_send() == b""
    assert s.negotiated is None and s.peer_open is None and not s.connected


def test_manual_start_goes_to_connect_and_asks_for_a_connection() -> None:
    s = Session(LOCAL)
    s.start(T)
    assert s.next_events() == [StateChanged(State.IDLE, State.CONNECT, "manual start"), ConnectRequested()]
    assert s.deadline(Timer.CONNECT_RETRY) == T + 30.0
    assert s.get_timer() == T + 30.0


@pytest.mark.parametrize("how", ["argument", "settings"])
def test_passive_start_waits_in_active_without_connecting(how: str) -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, passive=how == "settings")
    s = Session(settings)
    s.start(T, passive=True if how == "argument" else None)
    assert s.next_events() == [StateChanged(State.IDLE, State.ACTIVE, "manual start (passive)")]
    assert s.passive and s.get_timer() is None


def test_idle_ignores_everything_but_start() -> None:
    s = Session(LOCAL)
    s.connection_lost(T)
    s.connection_failed(T)
    s.handle_timer(T + 1000)
    s.receive_data(KEEPALIVE, T)
    s.stop(T)
    s.reset(T)
    s.collision_dump(T)
    assert s.state is State.IDLE and s.next_events() == [] and s.data_to_send() == b""


def test_connection_in_idle_is_refused() -> None:
    s = Session(LOCAL)
    s.connection_made(T, incoming=True)
    assert s.state is State.IDLE and s.next_events() == [CloseRequested()] and not s.connected


# -- Connect ---------------------------------------------------------------------------------
def test_connect_connection_up_sends_open_and_sets_the_large_hold_timer() -> None:
    s = drive(State.CONNECT)
    s.connection_made(T, incoming=False)
    assert s.state is State.OPEN_SENT
    out = s.data_to_send()
    (msg,) = decode(out)
    assert isinstance(msg, Open) and out == s.local_open.encode()
    assert (msg.my_as, msg.hold_time, str(msg.bgp_id)) == (65001, 90, LOCAL_ID)
    assert s.timers() == {Timer.HOLD: T + LARGE_HOLD_TIME}  # ConnectRetry stopped
    assert LARGE_HOLD_TIME == 240.0  # RFC 4271 8.2.2: "suggested value ... 4 minutes"
    assert states(s.next_events()) == [("Connect", "OpenSent")]


def test_connect_incoming_connection_is_taken_too() -> None:
    s = drive(State.CONNECT)
    s.connection_made(T, incoming=True)
    assert s.state is State.OPEN_SENT
    assert reason(s.next_events()) == "TCP connection up (incoming), OPEN sent"


def test_connect_failure_goes_to_active_and_retries_after_connect_retry() -> None:
    s = drive(State.CONNECT)
    s.connection_failed(T)
    events = s.next_events()
    assert events == [StateChanged(State.CONNECT, State.ACTIVE, "TCP connection failed")]
    assert s.timers() == {Timer.CONNECT_RETRY: T + 30.0}
    s.handle_timer(T + 30.0)
    assert s.state is State.CONNECT
    assert s.next_events() == [
        StateChanged(State.ACTIVE, State.CONNECT, "connect retry timer expired"),
        ConnectRequested(),
    ]


def test_connect_retry_expiry_in_connect_abandons_and_retries() -> None:
    s = drive(State.CONNECT)
    s.handle_timer(30.0)
    assert s.state is State.CONNECT
    assert s.next_events() == [CloseRequested(), ConnectRequested()]
    assert s.deadline(Timer.CONNECT_RETRY) == 60.0


def test_manual_start_in_other_states_is_ignored() -> None:
    for state in (State.CONNECT, State.ACTIVE, State.OPEN_SENT, State.OPEN_CONFIRM, State.ESTABLISHED):
        s = drive(state)
        s.start(T)
        assert s.state is state and s.next_events() == [] and s.data_to_send() == b""


def test_stop_in_connect_abandons_the_attempt_without_notification() -> None:
    s = drive(State.CONNECT)
    s.stop(T)
    assert s.next_events() == [StateChanged(State.CONNECT, State.IDLE, "manual stop"), CloseRequested()]
    assert s.data_to_send() == b"" and s.get_timer() is None


# -- Active ----------------------------------------------------------------------------------
def test_active_incoming_connection_sends_open() -> None:
    s = drive(State.ACTIVE)
    s.connection_made(T, incoming=True)
    assert s.state is State.OPEN_SENT and s.data_to_send() == s.local_open.encode()


def test_active_failure_report_without_a_connection_is_ignored() -> None:
    s = drive(State.ACTIVE)
    s.connection_failed(T)
    assert s.state is State.ACTIVE and s.next_events() == []


# -- OpenSent --------------------------------------------------------------------------------
def test_open_sent_valid_open_answers_keepalive_and_negotiates() -> None:
    s = drive(State.OPEN_SENT)
    s.receive_data(peer_open(hold=60), T)
    assert s.state is State.OPEN_CONFIRM
    assert s.data_to_send() == KEEPALIVE
    events = s.next_events()
    assert events[0] == StateChanged(State.OPEN_SENT, State.OPEN_CONFIRM, "OPEN received")
    (received,) = of(events, OpenReceived)
    assert received.open.hold_time == 60 and s.peer_id == "192.0.2.2"
    neg = s.negotiated
    assert neg is not None and (neg.hold_time, neg.keepalive_time, neg.peer_as) == (60, 20, 65002)
    assert s.timers() == {Timer.HOLD: T + 60, Timer.KEEPALIVE: T + 20}


def _refused(s: Session, data: bytes, expected: bytes) -> SessionDown:
    s.receive_data(data, T)
    events = _ended(s, expected)
    down: SessionDown = of(events, SessionDown)[0]
    assert down.sent is not None and down.sent.encode() == expected
    assert down.received is None and not down.was_established
    assert reason(events) == down.reason and down.reason.startswith("NOTIFICATION sent: ")
    return down


def test_open_bad_peer_as_is_2_2_with_the_as() -> None:
    down = _refused(drive(State.OPEN_SENT), peer_open(asn=65003), notification(2, 2, b"\xfd\xeb"))
    assert "Bad Peer AS" in down.reason and "65003" in down.reason


def test_open_bad_peer_as_four_octet() -> None:
    _refused(drive(State.OPEN_SENT), peer_open(asn=4200000000), notification(2, 2, struct.pack("!I", 4200000000)))


def test_open_peer_as_none_accepts_any() -> None:
    s = drive(State.OPEN_SENT, PeerSettings(65001, None, LOCAL_ID))
    s.receive_data(peer_open(asn=64999), T)
    assert s.state is State.OPEN_CONFIRM and s.negotiated is not None and s.negotiated.peer_as == 64999


def test_open_ibgp_with_our_identifier_is_2_3() -> None:
    settings = PeerSettings(65001, 65001, LOCAL_ID)
    _refused(drive(State.OPEN_SENT, settings), peer_open(asn=65001, bgp_id=LOCAL_ID), notification(2, 3))


def test_open_ebgp_with_our_identifier_is_accepted() -> None:
    s = drive(State.OPEN_SENT)
    s.receive_data(peer_open(bgp_id=LOCAL_ID), T)
    assert s.state is State.OPEN_CONFIRM


def test_open_identifier_zero_is_2_3() -> None:
    _refused(drive(State.OPEN_SENT), peer_open(bgp_id="0.0.0.0"), notification(2, 3))


@pytest.mark.parametrize("hold", [1, 2])
def test_open_hold_time_1_or_2_is_2_6(hold: int) -> None:
    _refused(drive(State.OPEN_SENT), peer_open(hold=hold), notification(2, 6))


def test_open_version_3_is_2_1_with_our_version() -> None:
    _refused(drive(State.OPEN_SENT), peer_open(version=3), notification(2, 1, b"\x00\x04"))


def test_open_missing_required_capabilities_is_2_7_listing_them() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, required_capabilities=(64, 2, 69))
    down = _refused(drive(State.OPEN_SENT, settings), peer_open(), notification(2, 7, b"\x40\x00\x45\x00"))
    assert "graceful-restart" in down.reason and "add-path" in down.reason


def test_open_strict_role_missing_is_2_11() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, role=3, strict_role=True)
    _refused(drive(State.OPEN_SENT, settings), peer_open(), notification(2, 11))


def test_open_role_mismatch_is_2_11_even_when_not_strict() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, role=3)  # customer: the peer must be a provider
    _refused(drive(State.OPEN_SENT, settings), peer_open(extra=caps(cap(9, b"\x04"))), notification(2, 11))


def test_open_matching_role_is_accepted() -> None:
    s = drive(State.OPEN_SENT, PeerSettings(65001, 65002, LOCAL_ID, role=3, strict_role=True))
    s.receive_data(peer_open(extra=caps(cap(9, b"\x00"))), T)
    assert s.state is State.OPEN_CONFIRM


def test_open_unsupported_optional_parameter_is_2_4() -> None:
    bad = peer_open(plain=True, extra=b"\x01\x02\x00\x00")
    _refused(drive(State.OPEN_SENT), bad, notification(2, 4))


@pytest.mark.parametrize(
    ("data", "kind"),
    [(KEEPALIVE, "KeepAliveMsg"), (update(), "UpdateMsg"), (route_refresh(1, 1), "RouteRefreshMsg")],
)
def test_open_sent_unexpected_message_is_fsm_error_5_1(data: bytes, kind: str) -> None:
    s = drive(State.OPEN_SENT)
    s.receive_data(data, T)
    events = _ended(s, notification(5, 1))
    assert events[0].reason == (
        f"FSM error: {kind} in OpenSent (NOTIFICATION sent: "
        "Finite State Machine Error / Receive Unexpected Message in OpenSent State)"
    )


def test_open_sent_malformed_update_is_still_fsm_error() -> None:
    s = drive(State.OPEN_SENT)
    s.receive_data(message(2, b"\x00\x05\x00\x00"), T)  # withdrawn length overruns the message
    _ended(s, notification(5, 1))


def test_open_sent_notification_goes_idle_without_reply() -> None:
    s = drive(State.OPEN_SENT)
    s.receive_data(notification(6, 5), T)
    events = _ended(s, b"", "NOTIFICATION received: Cease / Connection Rejected")
    (down,) = of(events, SessionDown)
    assert down.received == Notification(6, 5) and down.sent is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xfe" + MARKER[1:] + b"\x00\x13\x04", notification(1, 1)),
        (MARKER + b"\x00\x12\x04", notification(1, 2, b"\x00\x12")),
        (MARKER + b"\x00\x14\x04\x00", notification(1, 2, b"\x00\x14")),
        (MARKER + b"\x10\x01\x02", notification(1, 2, b"\x10\x01")),
        (MARKER + b"\x00\x13\x09", notification(1, 3, b"\x09")),
    ],
    ids=["marker", "short", "keepalive-long", "over-4096", "type"],
)
def test_open_sent_header_errors(data: bytes, expected: bytes) -> None:
    s = drive(State.OPEN_SENT)
    s.receive_data(data, T)
    _ended(s, expected)


def test_open_sent_connection_lost_goes_active_and_retries() -> None:
    s = drive(State.OPEN_SENT)
    s.connection_lost(T)
    events = s.next_events()
    assert events[0] == StateChanged(State.OPEN_SENT, State.ACTIVE, "TCP connection lost")
    (down,) = of(events, SessionDown)
    assert (down.sent, down.received, down.was_established) == (None, None, False)
    assert s.timers() == {Timer.CONNECT_RETRY: T + 30.0}


def test_open_sent_hold_timer_expiry_is_4_0() -> None:
    s = drive(State.OPEN_SENT, now=0.0)
    s.handle_timer(LARGE_HOLD_TIME - 0.5)
    assert s.state is State.OPEN_SENT
    s.handle_timer(LARGE_HOLD_TIME)
    _ended(s, notification(4, 0), "hold timer expired")


def test_stop_sends_cease_administrative_shutdown() -> None:
    s = drive(State.OPEN_SENT)
    s.stop(T)
    _ended(s, notification(6, 2), "manual stop (NOTIFICATION sent: Cease / Administrative Shutdown)")
    assert s.get_timer() is None  # no automatic restart


def test_stop_with_a_shutdown_communication() -> None:
    s = drive(State.ESTABLISHED)
    s.stop(T, Notification.shutdown("maintenance"))
    events = _ended(s, notification(6, 2, b"\x0bmaintenance"))
    (down,) = of(events, SessionDown)
    assert down.was_established and down.sent == Notification(6, 2, b"\x0bmaintenance")


def test_collision_dump_sends_cease_7() -> None:
    s = drive(State.OPEN_CONFIRM)
    s.collision_dump(T)
    _ended(s, notification(6, 7))


def test_reset_sends_cease_4_and_restarts_by_itself() -> None:
    s = drive(State.ESTABLISHED)
    s.reset(T)
    _ended(s, notification(6, 4), "automatic stop (NOTIFICATION sent: Cease / Administrative Reset)")
    assert s.idle_hold_remaining(T) == 0.0
    s.handle_timer(T)
    assert s.state is State.CONNECT and ConnectRequested() in s.next_events()


def test_second_connection_is_a_usage_error() -> None:
    s = drive(State.OPEN_SENT)
    with pytest.raises(UsageError):
        s.connection_made(T, incoming=True)


# -- OpenConfirm -----------------------------------------------------------------------------
def test_open_confirm_keepalive_establishes() -> None:
    s = drive(State.OPEN_CONFIRM)
    s.receive_data(KEEPALIVE, T)
    events = s.next_events()
    assert events[0] == StateChanged(State.OPEN_CONFIRM, State.ESTABLISHED, "KEEPALIVE received")
    (up,) = of(events, SessionUp)
    assert up.negotiated is s.negotiated
    assert s.deadline(Timer.HOLD) == T + 90


@pytest.mark.parametrize(("data", "kind"), [(peer_open(), "BGPOpen"), (update(), "UpdateMsg")])
def test_open_confirm_unexpected_message_is_fsm_error_5_2(data: bytes, kind: str) -> None:
    s = drive(State.OPEN_CONFIRM)
    s.receive_data(data, T)
    events = _ended(s, notification(5, 2))
    assert events[0].reason.startswith(f"FSM error: {kind} in OpenConfirm")


def test_open_confirm_notification_goes_idle() -> None:
    s = drive(State.OPEN_CONFIRM)
    s.receive_data(notification(2, 2), T)
    _ended(s, b"", "NOTIFICATION received: OPEN Message Error / Bad Peer AS")
    assert s.connect_retry_counter == 1


def test_version_error_notification_does_not_count() -> None:
    s = drive(State.OPEN_CONFIRM)
    s.receive_data(notification(2, 1, b"\x00\x04"), T)
    _ended(s, b"")
    assert s.connect_retry_counter == 0


def test_open_confirm_connection_lost_goes_idle() -> None:
    s = drive(State.OPEN_CONFIRM)
    s.connection_lost(T)
    events = s.next_events()
    assert events[0] == StateChanged(State.OPEN_CONFIRM, State.IDLE, "TCP connection lost")
    assert of(events, SessionDown)[0].negotiated is not None


# -- Established -----------------------------------------------------------------------------
def _announce(prefix: str = "10.0.1.0/24") -> bytes:
    return update(attrs=BASE, nlri=pfx(prefix))


def test_established_update_is_delivered_and_restarts_hold() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(_announce(), T + 50)
    (event,) = s.next_events()
    assert isinstance(event, UpdateReceived)
    assert event.update.announced() == {IPV4_UNICAST: [pfx("10.0.1.0/24")]}
    assert s.deadline(Timer.HOLD) == T + 50 + 90


def test_established_keepalive_restarts_hold() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(KEEPALIVE, T + 80)
    assert s.next_events() == [] and s.deadline(Timer.HOLD) == T + 80 + 90


def test_established_update_with_attribute_error_is_not_a_session_error() -> None:
    s = drive(State.ESTABLISHED)
    bad_origin = attr(0x40, 1, b"\x07") + seq_path(65002) + next_hop()
    s.receive_data(update(attrs=bad_origin, nlri=pfx("10.0.2.0/24")), T)
    (event,) = s.next_events()
    assert isinstance(event, UpdateReceived) and event.update.treat_as_withdraw
    assert s.state is State.ESTABLISHED and s.data_to_send() == b""


def test_established_malformed_update_is_3_1() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(message(2, b"\x00\x05\x00\x00"), T)
    events = _ended(s, notification(3, 1))
    assert events[0].reason.startswith("NOTIFICATION sent: UPDATE Message Error / Malformed Attribute List (")
    assert of(events, SessionDown)[0].was_established


def test_established_open_is_fsm_error_5_3() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(peer_open(), T)
    _ended(s, notification(5, 3))


def test_established_notification_reason_names_the_shutdown_text() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(notification(6, 2, b"\x04text"), T)
    events = _ended(s, b"", 'NOTIFICATION received: Cease / Administrative Shutdown "text"')
    (down,) = of(events, SessionDown)
    assert down.received == Notification(6, 2, b"\x04text") and down.was_established


def test_established_route_refresh_delivered_or_ignored() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(route_refresh(1, 1), T)
    (event,) = s.next_events()
    assert isinstance(event, RouteRefreshReceived) and event.refresh.family == IPV4_UNICAST
    s.receive_data(route_refresh(2, 1), T)  # IPv6 unicast was not negotiated
    s.receive_data(route_refresh(1, 1, subtype=1), T)  # BoRR: the peer did not send Enhanced RR
    s.receive_data(route_refresh(1, 1, subtype=7), T)
    assert s.next_events() == [] and s.state is State.ESTABLISHED


def test_established_borr_with_enhanced_route_refresh() -> None:
    s = drive(State.ESTABLISHED, peer=peer_open(extra=caps(cap(70))))
    s.receive_data(route_refresh(1, 1, subtype=1), T)
    (event,) = s.next_events()
    assert isinstance(event, RouteRefreshReceived) and event.refresh.subtype == 1


def test_established_route_refresh_of_wrong_length_is_7_1_with_the_message() -> None:
    s = drive(State.ESTABLISHED)
    bad = message(5, b"\x00\x01\x00\x01\x00")
    s.receive_data(bad, T)
    _ended(s, notification(7, 1, bad))


def test_established_connection_lost() -> None:
    s = drive(State.ESTABLISHED)
    s.connection_lost(T)
    events = s.next_events()
    assert events[0] == StateChanged(State.ESTABLISHED, State.IDLE, "TCP connection lost")
    (down,) = of(events, SessionDown)
    assert down.was_established and down.negotiated is not None and s.negotiated is None


def test_send_update_only_in_established_and_restarts_keepalive() -> None:
    s = drive(State.OPEN_CONFIRM)
    assert not s.send_update(_announce(), T)
    assert s.data_to_send() == b""
    s.receive_data(KEEPALIVE, T)
    s.next_events()
    assert s.send_update(_announce(), T + 10)
    assert s.data_to_send() == _announce()
    assert s.deadline(Timer.KEEPALIVE) == T + 10 + 30


def test_send_message_needs_a_connection() -> None:
    s = drive(State.OPEN_SENT)
    assert s.send_message(b"\x01\x02", T) and s.data_to_send() == b"\x01\x02"
    assert not drive(State.ACTIVE).send_message(KEEPALIVE, T)


def test_extended_message_only_when_negotiated() -> None:
    big = update(attrs=BASE, nlri=b"".join(pfx(f"10.{i // 256}.{i % 256}.0/24") for i in range(1300)))
    assert 4096 < len(big) < 65535
    settings = PeerSettings(65001, 65002, LOCAL_ID, extended_message=True)
    s = drive(State.ESTABLISHED, settings, peer=peer_open(extra=caps(cap(6))))
    s.receive_data(big, T)
    (event,) = s.next_events()
    assert isinstance(event, UpdateReceived) and len(event.update.nlri) == 1300
    s = drive(State.ESTABLISHED, settings)  # the peer did not offer it
    s.receive_data(big, T)
    _ended(s, notification(1, 2, struct.pack("!H", len(big))))


def test_data_after_the_end_is_ignored() -> None:
    s = drive(State.ESTABLISHED)
    s.receive_data(notification(6, 2) + _announce(), T)
    events = s.next_events()
    assert not of(events, UpdateReceived) and s.state is State.IDLE
    s.receive_data(_announce(), T)
    assert s.next_events() == []
