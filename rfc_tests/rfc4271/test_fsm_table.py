"""The FSM table itself: what it covers, the one path to an FSM Error, tracing, sans-IO,
and hypothesis driving random (state, input) sequences."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyspeaker.fsm import (
    CloseRequested,
    ConnectRequested,
    Input,
    OpenReceived,
    PeerSettings,
    RouteRefreshReceived,
    Session,
    SessionDown,
    SessionUp,
    State,
    StateChanged,
    UpdateReceived,
    UsageError,
)
from pyspeaker.fsm.table import FSM_ERROR_RULE, TABLE, TIMER_INPUT, TIMERS, lookup
from pyspeaker.wire import Notification
from rfc_tests.conftest import BASE, KEEPALIVE, message, notification, pfx, route_refresh, update
from rfc_tests.rfc4271.fsm_link import LOCAL_ID, drive, of, peer_open

ROOT = Path(__file__).resolve().parents[2]
CONNECTED = (State.OPEN_SENT, State.OPEN_CONFIRM, State.ESTABLISHED)
MESSAGES = {
    Input.OPEN: peer_open(),
    Input.KEEPALIVE: KEEPALIVE,
    Input.UPDATE: update(attrs=BASE, nlri=pfx("10.0.0.0/8")),
    Input.ROUTE_REFRESH: route_refresh(1, 1),
}


def test_inputs_from_the_shell_never_reach_the_fsm_error_rule() -> None:
    """Only a message can be unexpected: every call the shell makes, and every timer that
    can run in a state, has a rule there."""
    for state in State:
        for kind in (Input.MANUAL_START, Input.MANUAL_START_PASSIVE, Input.MANUAL_STOP, Input.AUTOMATIC_STOP):
            assert (state, kind) in TABLE, (state, kind)
        assert (state, Input.OPEN_COLLISION_DUMP) in TABLE
        assert (state, Input.TCP_CONNECTION_FAILS) in TABLE
        for timer in TIMERS[state]:
            assert (state, TIMER_INPUT[timer]) in TABLE, (state, timer)
    for state in (State.IDLE, State.CONNECT, State.ACTIVE):
        assert (state, Input.TCP_CR_ACKED) in TABLE and (state, Input.TCP_CONNECTION_CONFIRMED) in TABLE


def test_missing_pairs_get_the_fsm_error_rule() -> None:
    assert lookup(State.OPEN_SENT, Input.KEEPALIVE) is FSM_ERROR_RULE
    assert lookup(State.ESTABLISHED, Input.UPDATE) is TABLE[(State.ESTABLISHED, Input.UPDATE)]
    assert FSM_ERROR_RULE.next is State.IDLE


@pytest.mark.parametrize(
    ("state", "kind"),
    [(state, kind) for state in CONNECTED for kind in MESSAGES if (state, kind) not in TABLE],
    ids=lambda v: v.value,
)
def test_every_unexpected_message_is_an_fsm_error_with_the_rfc_6608_subcode(state: State, kind: Input) -> None:
    s = drive(state)
    s.receive_data(MESSAGES[kind], 1.0)
    subcode = {State.OPEN_SENT: 1, State.OPEN_CONFIRM: 2, State.ESTABLISHED: 3}[state]
    assert s.state is State.IDLE
    assert s.data_to_send() == notification(5, subcode)
    events = s.next_events()
    (down,) = of(events, SessionDown)
    assert down.sent == Notification(5, subcode)
    assert events[0] == StateChanged(state, State.IDLE, down.reason)
    assert down.reason.startswith(f"FSM error: {kind.value} in {state.value}")


def test_trace_sees_states_messages_and_timers() -> None:
    seen: list[tuple[float, str, dict[str, Any]]] = []
    s = Session(PeerSettings(65001, 65002, LOCAL_ID), trace=lambda now, kind, fields: seen.append((now, kind, fields)))
    s.start(1.0)
    s.connection_made(2.0, incoming=False)
    s.receive_data(peer_open() + KEEPALIVE, 3.0)
    s.handle_timer(33.0)
    s.receive_data(notification(6, 2), 34.0)
    kinds = [k for _, k, _ in seen]
    assert {"connect", "connected", "state", "send", "recv", "timer"} <= set(kinds)
    assert (1.0, "state", {"old": "Idle", "new": "Connect", "reason": "manual start"}) in seen
    assert (2.0, "send", {"type": "OPEN", "length": len(s.local_open.encode())}) in seen
    assert (3.0, "recv", {"type": "KEEPALIVE", "length": 19}) in seen
    assert (33.0, "timer", {"timer": "Keepalive"}) in seen
    assert (34.0, "recv", {"type": "NOTIFICATION", "length": 21, "code": 6, "subcode": 2}) in seen


def test_fsm_is_sans_io() -> None:
    banned = {"asyncio", "threading", "selectors", "socket", "time", "uvloop", "random"}
    for path in (ROOT / "pyspeaker" / "fsm").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module.split(".")[0]]
            assert not banned & set(names), f"{path.name} imports {banned & set(names)}"


def test_no_state_is_shared_between_sessions() -> None:
    a, b = drive(State.ESTABLISHED), drive(State.OPEN_SENT)
    a.receive_data(MESSAGES[Input.UPDATE], 1.0)
    assert b.next_events() == [] and b.state is State.OPEN_SENT


# -- hypothesis: random inputs in random states ----------------------------------------------
DATA = [
    peer_open(),
    peer_open(hold=0),
    peer_open(asn=65009),
    peer_open(hold=1),
    KEEPALIVE,
    MESSAGES[Input.UPDATE],
    message(2, b"\x00\x05\x00\x00"),
    notification(6, 2, b"\x03bye"),
    notification(2, 1),
    route_refresh(1, 1),
    route_refresh(2, 1, 1),
    message(5, b"\x00"),
    b"\xff" * 16 + b"\x00\x13",
    b"\x00" * 19,
]

inputs = st.one_of(
    st.tuples(st.just("start"), st.sampled_from([None, True, False])),
    st.tuples(st.just("stop"), st.sampled_from([None, Notification.shutdown("x")])),
    st.tuples(st.just("reset"), st.none()),
    st.tuples(st.just("collision_dump"), st.none()),
    st.tuples(st.just("connection_made"), st.booleans()),
    st.tuples(st.just("connection_failed"), st.none()),
    st.tuples(st.just("connection_lost"), st.none()),
    st.tuples(st.just("receive"), st.sampled_from(DATA)),
    st.tuples(st.just("receive_pieces"), st.tuples(st.sampled_from(DATA), st.integers(1, 40))),
    st.tuples(st.just("receive_bytes"), st.binary(max_size=60)),
    st.tuples(st.just("advance"), st.floats(0, 300, allow_nan=False)),
    st.tuples(st.just("timer"), st.none()),
    st.tuples(st.just("send_update"), st.none()),
    st.tuples(st.just("send_message"), st.none()),
)

SETTINGS = st.builds(
    PeerSettings,
    local_as=st.just(65001),
    peer_as=st.sampled_from([65002, None]),
    router_id=st.just(LOCAL_ID),
    hold_time=st.sampled_from([0, 3, 90]),
    passive=st.booleans(),
    delay_open_time=st.sampled_from([0.0, 5.0]),
    idle_hold_time=st.sampled_from([0.0, 1.0]),
)


def _apply(s: Session, now: float, op: str, arg: Any) -> float:
    if op == "start":
        s.start(now, arg)
    elif op == "stop":
        s.stop(now, arg)
    elif op == "reset":
        s.reset(now)
    elif op == "collision_dump":
        s.collision_dump(now)
    elif op == "connection_made":
        try:
            s.connection_made(now, incoming=arg)
        except UsageError:
            assert s.connected
    elif op == "connection_failed":
        s.connection_failed(now)
    elif op == "connection_lost":
        s.connection_lost(now)
    elif op == "receive":
        s.receive_data(arg, now)
    elif op == "receive_pieces":
        data, step = arg
        for i in range(0, len(data), step):
            s.receive_data(data[i : i + step], now)
    elif op == "receive_bytes":
        s.receive_data(arg, now)
    elif op == "advance":
        now += arg
        s.handle_timer(now)
    elif op == "timer":
        deadline = s.get_timer()
        if deadline is not None:
            now = max(now, deadline)
            s.handle_timer(now)
    elif op == "send_update":
        s.send_update(MESSAGES[Input.UPDATE], now)
    elif op == "send_message":
        s.send_message(KEEPALIVE, now)
    return now


def _check(s: Session, before: State) -> None:
    assert isinstance(s.state, State)
    assert set(s.timers()) <= TIMERS[s.state]
    assert (s.negotiated is not None) == (s.state in (State.OPEN_CONFIRM, State.ESTABLISHED))
    if s.state in CONNECTED:
        assert s.connected
    if s.state is State.IDLE:
        assert not s.connected and s.peer_open is None
    s.data_to_send()
    state = before
    for event in s.next_events():
        if isinstance(event, StateChanged):
            assert event.old is state and event.new is not state and event.reason
            state = event.new
        elif isinstance(event, SessionUp):
            assert state is State.ESTABLISHED
        elif isinstance(event, SessionDown):
            assert event.reason
        else:
            assert isinstance(event, (ConnectRequested, CloseRequested, OpenReceived, UpdateReceived,
                                      RouteRefreshReceived))  # fmt: skip
    assert state is s.state


# the way to Established, so that random inputs also land in the later states
HAPPY: list[tuple[str, Any]] = [
    ("start", False),
    ("connection_made", False),
    ("receive", peer_open()),
    ("receive", KEEPALIVE),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SETTINGS, st.integers(0, len(HAPPY)), st.lists(inputs, max_size=25))
def test_random_input_sequences(cfg: PeerSettings, happy: int, ops: list[tuple[str, Any]]) -> None:
    """No exception but the documented UsageError (caught above), state always a State,
    timers always allowed in the state, negotiated present exactly when it should be."""
    s = Session(cfg)
    now = 0.0
    for op, arg in HAPPY[:happy] + ops:
        before = s.state
        now = _apply(s, now, op, arg)
        _check(s, before)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(State)), st.lists(inputs, max_size=8))
def test_random_inputs_from_every_state(state: State, ops: list[tuple[str, Any]]) -> None:
    s = drive(state)
    now = 0.0
    for op, arg in ops:
        before = s.state
        now = _apply(s, now, op, arg)
        _check(s, before)
