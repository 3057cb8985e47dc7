"""RFC 4271 8 and 10: the session timers on fake time (ConnectRetry, Hold, Keepalive,
DelayOpen, IdleHold with DampPeerOscillations)."""

from __future__ import annotations

import pytest

from pyspeaker.fsm import (
    CloseRequested,
    ConnectRequested,
    PeerSettings,
    Session,
    SessionDown,
    State,
    StateChanged,
    Timer,
)
from rfc_tests.conftest import BASE, KEEPALIVE, notification, pfx, update
from rfc_tests.rfc4271.fsm_link import LOCAL, LOCAL_ID, drive, of, peer_open, reason, state_of, states


def _keepalives(s: Session) -> int:
    out = s.data_to_send()
    assert out == KEEPALIVE * (len(out) // 19)
    return len(out) // 19


def test_get_timer_is_the_earliest_deadline() -> None:
    s = drive(State.OPEN_CONFIRM, now=10.0)
    assert s.timers() == {Timer.HOLD: 100.0, Timer.KEEPALIVE: 40.0}
    assert s.get_timer() == 40.0


def test_nothing_fires_before_its_deadline() -> None:
    s = drive(State.ESTABLISHED)
    s.handle_timer(29.999)
    assert s.data_to_send() == b"" and s.next_events() == []
    s.handle_timer(30.0)
    assert _keepalives(s) == 1


def test_keepalive_cadence_is_a_third_of_the_hold_time() -> None:
    s = drive(State.ESTABLISHED)
    sent_at = []
    now = 0.0
    while now < 200:
        now = s.get_timer() or 0.0
        if now == s.deadline(Timer.HOLD):
            s.receive_data(KEEPALIVE, now - 1)  # the peer keeps the session up
            continue
        s.handle_timer(now)
        assert _keepalives(s) == 1
        sent_at.append(now)
    assert sent_at[:6] == [30.0, 60.0, 90.0, 120.0, 150.0, 180.0]
    assert s.state is State.ESTABLISHED


@pytest.mark.parametrize(("configured", "hold", "expected"), [(10, 90, 10), (50, 90, 30), (None, 9, 3), (5, 9, 3)])
def test_configured_keepalive_is_capped_by_a_third_of_the_hold_time(
    configured: int | None, hold: int, expected: int
) -> None:
    s = drive(
        State.OPEN_CONFIRM, PeerSettings(65001, 65002, LOCAL_ID, keepalive_time=configured), peer=peer_open(hold=hold)
    )
    assert s.negotiated is not None and s.negotiated.keepalive_time == expected
    assert s.deadline(Timer.KEEPALIVE) == expected


def test_every_message_sent_restarts_the_keepalive_timer() -> None:
    s = drive(State.ESTABLISHED)
    s.send_update(update(attrs=BASE, nlri=pfx("10.0.0.0/8")), 25.0)
    s.data_to_send()
    s.handle_timer(30.0)
    assert s.data_to_send() == b""
    s.handle_timer(55.0)
    assert _keepalives(s) == 1


def test_hold_timer_expiry_sends_4_0_and_says_so() -> None:
    s = drive(State.ESTABLISHED)
    s.handle_timer(60.0)
    s.data_to_send()
    s.receive_data(KEEPALIVE, 70.0)
    s.handle_timer(159.9)
    assert s.state is State.ESTABLISHED
    s.handle_timer(160.0)
    assert state_of(s) is State.IDLE
    assert s.data_to_send() == KEEPALIVE + notification(4, 0)  # the overdue keepalive, then the NOTIFICATION
    events = s.next_events()
    assert events[0] == StateChanged(State.ESTABLISHED, State.IDLE, "hold timer expired")
    (down,) = of(events, SessionDown)
    assert down.reason == "hold timer expired" and down.sent is not None and down.sent.code == 4


def test_hold_time_zero_means_no_hold_and_no_keepalive() -> None:
    s = drive(State.ESTABLISHED, peer=peer_open(hold=0))
    assert s.negotiated is not None and (s.negotiated.hold_time, s.negotiated.keepalive_time) == (0, 0)
    assert s.get_timer() is None
    s.handle_timer(1e9)
    s.send_update(update(), 5.0)
    s.receive_data(KEEPALIVE, 6.0)
    assert s.get_timer() is None and s.state is State.ESTABLISHED


def test_delay_open_defers_our_open() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, delay_open_time=5.0)
    s = drive(State.CONNECT, settings)
    s.connection_made(1.0, incoming=False)
    assert s.state is State.CONNECT and s.data_to_send() == b""
    assert s.timers() == {Timer.DELAY_OPEN: 6.0}
    s.handle_timer(6.0)
    assert state_of(s) is State.OPEN_SENT and s.data_to_send() == s.local_open.encode()
    assert states(s.next_events()) == [("Connect", "OpenSent")]
    assert s.timers() == {Timer.HOLD: 246.0}


def test_open_received_while_delay_open_runs_is_answered_at_once() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, delay_open_time=5.0)
    s = drive(State.ACTIVE, settings)
    s.connection_made(1.0, incoming=True)
    s.receive_data(peer_open(), 2.0)
    assert s.state is State.OPEN_CONFIRM
    assert s.data_to_send() == s.local_open.encode() + KEEPALIVE
    assert reason(s.next_events()) == "OPEN received while delay open timer running"
    assert Timer.DELAY_OPEN not in s.timers()


def test_delay_open_unexpected_message_is_fsm_error_0() -> None:
    s = drive(State.CONNECT, PeerSettings(65001, 65002, LOCAL_ID, delay_open_time=5.0))
    s.connection_made(1.0, incoming=False)
    s.receive_data(KEEPALIVE, 2.0)
    assert s.state is State.IDLE and s.data_to_send() == notification(5, 0)


def test_delay_open_connection_lost_goes_active() -> None:
    s = drive(State.CONNECT, PeerSettings(65001, 65002, LOCAL_ID, delay_open_time=5.0))
    s.connection_made(1.0, incoming=False)
    s.connection_lost(2.0)
    assert s.state is State.ACTIVE and s.timers() == {Timer.CONNECT_RETRY: 32.0}


def test_next_connect_retry_is_used_from_then_on() -> None:
    s = drive(State.CONNECT)
    assert s.connect_retry_time == 30.0
    s.next_connect_retry(7.5)
    assert s.deadline(Timer.CONNECT_RETRY) == 30.0  # the running timer keeps its deadline
    s.connection_failed(1.0)
    assert s.deadline(Timer.CONNECT_RETRY) == 8.5
    with pytest.raises(ValueError):
        s.next_connect_retry(0)


def test_handle_timer_fires_each_timer_once_per_call() -> None:
    s = drive(State.CONNECT, PeerSettings(65001, 65002, LOCAL_ID, connect_retry_time=1.0))
    s.handle_timer(1000.0)  # far past: fires once, re-armed relative to that now
    assert s.next_events() == [CloseRequested(), ConnectRequested()]
    assert s.deadline(Timer.CONNECT_RETRY) == 1001.0


def _fail_once(s: Session, now: float) -> float | None:
    """From Connect: connection up, OPEN exchange, the peer sends a NOTIFICATION."""
    s.connection_made(now, incoming=False)
    s.receive_data(peer_open(), now)
    s.receive_data(notification(6, 5), now)
    assert s.state is State.IDLE
    s.data_to_send()
    s.next_events()
    return s.idle_hold_remaining(now)


def test_idle_hold_doubles_per_consecutive_failure_up_to_the_cap() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, idle_hold_time=1.0, idle_hold_max=8.0)
    s = drive(State.CONNECT, settings)
    now = 0.0
    waits = []
    for _ in range(6):
        wait = _fail_once(s, now)
        assert wait is not None
        waits.append(wait)
        now += wait
        s.handle_timer(now - 0.01)
        assert s.state is State.IDLE  # still holding
        s.handle_timer(now)
        assert state_of(s) is State.CONNECT
        assert s.next_events() == [
            StateChanged(State.IDLE, State.CONNECT, "idle hold timer expired: automatic start"),
            ConnectRequested(),
        ]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert s.consecutive_failures == 6 and s.connect_retry_counter == 6


def test_a_stable_established_period_resets_the_damping() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, idle_hold_time=1.0, stable_time=60.0)
    s = drive(State.CONNECT, settings)
    assert _fail_once(s, 0.0) == 1.0
    s.handle_timer(1.0)
    assert _fail_once(s, 1.0) == 2.0
    s.handle_timer(3.0)
    s.connection_made(3.0, incoming=False)
    s.receive_data(peer_open(hold=0), 3.0)
    s.receive_data(KEEPALIVE, 3.0)
    assert s.state is State.ESTABLISHED
    s.receive_data(notification(6, 2), 100.0)  # up for 97 s
    assert s.idle_hold_remaining(100.0) == 1.0 and s.consecutive_failures == 1


def test_manual_start_resets_the_damping_and_stop_prevents_restart() -> None:
    settings = PeerSettings(65001, 65002, LOCAL_ID, idle_hold_time=1.0)
    s = drive(State.CONNECT, settings)
    _fail_once(s, 0.0)
    s.handle_timer(1.0)
    _fail_once(s, 1.0)
    assert s.consecutive_failures == 2
    s.stop(2.0)
    assert s.get_timer() is None and s.idle_hold_remaining(2.0) is None
    s.handle_timer(1000.0)
    assert s.state is State.IDLE
    s.start(1000.0)
    assert s.consecutive_failures == 0 and state_of(s) is State.CONNECT


def test_passive_session_restarts_into_active() -> None:
    s = drive(State.ACTIVE, PeerSettings(65001, 65002, LOCAL_ID, passive=True, idle_hold_time=2.0))
    s.connection_made(0.0, incoming=True)
    s.receive_data(notification(6, 3), 0.0)
    s.next_events()
    s.handle_timer(2.0)
    assert s.state is State.ACTIVE
    assert s.next_events() == [
        StateChanged(State.IDLE, State.ACTIVE, "idle hold timer expired: automatic start (passive)")
    ]
    assert s.get_timer() is None  # a passive session never connects


def test_default_idle_hold_restarts_at_once() -> None:
    s = drive(State.ESTABLISHED, LOCAL)
    s.connection_lost(5.0)
    assert s.idle_hold_remaining(5.0) == 0.0 and s.get_timer() == 5.0
