"""The RFC 4271 section 8 state machine as a table: everything that affects a transition
lives here.

``TABLE[(state, input)]`` is a :class:`Rule`: the handler that performs the actions, and
the state it normally leads to (a handler may divert, e.g. to Idle when a peer's OPEN is
refused). A pair that is not in the table is the one path to a Finite State Machine Error
NOTIFICATION (RFC 6608 subcodes per state) and Idle.

Where this follows common practice rather than the letter of RFC 4271 8.2.2:

* Connect, TcpConnectionFails: to Active with the ConnectRetry timer restarted (the RFC
  goes to Idle), so a peer that is down is retried every ConnectRetry interval whatever the
  IdleHold configuration.
* Connect/Active with a connection up (DelayOpen running): an unexpected message or
  error is answered with a NOTIFICATION (FSM Error, subcode 0, or the message error) as if
  SendNOTIFICATIONwithoutOPEN were set.
* OPEN in OpenConfirm or Established on the same connection is an FSM Error; collisions
  between two connections are resolved by the shell (two Sessions, collision_dump()).
* Idle ignores every input but ManualStart, ManualStop and the IdleHold timer; a TCP
  connection reported in Idle is refused (CloseRequested).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import handlers as h
from .types import Input, State, Timer

I = Input  # noqa: E741  (short names keep the table one rule per line)
S = State


@dataclass(frozen=True, slots=True)
class Rule:
    handler: h.Handler
    next: State


TABLE: dict[tuple[State, Input], Rule] = {
    # -- Idle ------------------------------------------------------------------------------
    (S.IDLE, I.MANUAL_START): Rule(h.manual_start, S.CONNECT),
    (S.IDLE, I.MANUAL_START_PASSIVE): Rule(h.manual_start_passive, S.ACTIVE),
    (S.IDLE, I.MANUAL_STOP): Rule(h.stop_in_idle, S.IDLE),
    (S.IDLE, I.AUTOMATIC_STOP): Rule(h.ignore, S.IDLE),
    (S.IDLE, I.IDLE_HOLD_EXPIRES): Rule(h.automatic_start, S.CONNECT),  # or Active when passive
    (S.IDLE, I.TCP_CR_ACKED): Rule(h.refuse_connection, S.IDLE),
    (S.IDLE, I.TCP_CONNECTION_CONFIRMED): Rule(h.refuse_connection, S.IDLE),
    (S.IDLE, I.TCP_CONNECTION_FAILS): Rule(h.ignore, S.IDLE),
    (S.IDLE, I.OPEN_COLLISION_DUMP): Rule(h.ignore, S.IDLE),
    # -- Connect ---------------------------------------------------------------------------
    (S.CONNECT, I.MANUAL_START): Rule(h.ignore, S.CONNECT),
    (S.CONNECT, I.MANUAL_START_PASSIVE): Rule(h.ignore, S.CONNECT),
    (S.CONNECT, I.MANUAL_STOP): Rule(h.manual_stop, S.IDLE),
    (S.CONNECT, I.AUTOMATIC_STOP): Rule(h.automatic_stop, S.IDLE),
    (S.CONNECT, I.CONNECT_RETRY_EXPIRES): Rule(h.retry_connect, S.CONNECT),
    (S.CONNECT, I.DELAY_OPEN_EXPIRES): Rule(h.delay_open_expired, S.OPEN_SENT),
    (S.CONNECT, I.TCP_CR_ACKED): Rule(h.connection_up, S.OPEN_SENT),  # stays while DelayOpen runs
    (S.CONNECT, I.TCP_CONNECTION_CONFIRMED): Rule(h.connection_up, S.OPEN_SENT),
    (S.CONNECT, I.TCP_CONNECTION_FAILS): Rule(h.connect_failed, S.ACTIVE),
    (S.CONNECT, I.OPEN_DELAYED): Rule(h.open_received, S.OPEN_CONFIRM),
    (S.CONNECT, I.MESSAGE_ERROR): Rule(h.message_error, S.IDLE),
    (S.CONNECT, I.NOTIFICATION): Rule(h.notification_received, S.IDLE),
    (S.CONNECT, I.OPEN_COLLISION_DUMP): Rule(h.collision_dump, S.IDLE),
    # -- Active ----------------------------------------------------------------------------
    (S.ACTIVE, I.MANUAL_START): Rule(h.ignore, S.ACTIVE),
    (S.ACTIVE, I.MANUAL_START_PASSIVE): Rule(h.ignore, S.ACTIVE),
    (S.ACTIVE, I.MANUAL_STOP): Rule(h.manual_stop, S.IDLE),
    (S.ACTIVE, I.AUTOMATIC_STOP): Rule(h.automatic_stop, S.IDLE),
    (S.ACTIVE, I.CONNECT_RETRY_EXPIRES): Rule(h.retry_connect, S.CONNECT),  # stays Active when passive
    (S.ACTIVE, I.DELAY_OPEN_EXPIRES): Rule(h.delay_open_expired, S.OPEN_SENT),
    (S.ACTIVE, I.TCP_CR_ACKED): Rule(h.connection_up, S.OPEN_SENT),
    (S.ACTIVE, I.TCP_CONNECTION_CONFIRMED): Rule(h.connection_up, S.OPEN_SENT),
    (S.ACTIVE, I.TCP_CONNECTION_FAILS): Rule(h.connection_lost_in_active, S.IDLE),
    (S.ACTIVE, I.OPEN_DELAYED): Rule(h.open_received, S.OPEN_CONFIRM),
    (S.ACTIVE, I.MESSAGE_ERROR): Rule(h.message_error, S.IDLE),
    (S.ACTIVE, I.NOTIFICATION): Rule(h.notification_received, S.IDLE),
    (S.ACTIVE, I.OPEN_COLLISION_DUMP): Rule(h.collision_dump, S.IDLE),
    # -- OpenSent --------------------------------------------------------------------------
    (S.OPEN_SENT, I.MANUAL_START): Rule(h.ignore, S.OPEN_SENT),
    (S.OPEN_SENT, I.MANUAL_START_PASSIVE): Rule(h.ignore, S.OPEN_SENT),
    (S.OPEN_SENT, I.MANUAL_STOP): Rule(h.manual_stop, S.IDLE),
    (S.OPEN_SENT, I.AUTOMATIC_STOP): Rule(h.automatic_stop, S.IDLE),
    (S.OPEN_SENT, I.HOLD_EXPIRES): Rule(h.hold_expired, S.IDLE),
    (S.OPEN_SENT, I.TCP_CONNECTION_FAILS): Rule(h.connection_lost_in_open_sent, S.ACTIVE),
    (S.OPEN_SENT, I.OPEN): Rule(h.open_received, S.OPEN_CONFIRM),
    (S.OPEN_SENT, I.MESSAGE_ERROR): Rule(h.message_error, S.IDLE),
    (S.OPEN_SENT, I.NOTIFICATION): Rule(h.notification_received, S.IDLE),
    (S.OPEN_SENT, I.OPEN_COLLISION_DUMP): Rule(h.collision_dump, S.IDLE),
    # -- OpenConfirm -----------------------------------------------------------------------
    (S.OPEN_CONFIRM, I.MANUAL_START): Rule(h.ignore, S.OPEN_CONFIRM),
    (S.OPEN_CONFIRM, I.MANUAL_START_PASSIVE): Rule(h.ignore, S.OPEN_CONFIRM),
    (S.OPEN_CONFIRM, I.MANUAL_STOP): Rule(h.manual_stop, S.IDLE),
    (S.OPEN_CONFIRM, I.AUTOMATIC_STOP): Rule(h.automatic_stop, S.IDLE),
    (S.OPEN_CONFIRM, I.HOLD_EXPIRES): Rule(h.hold_expired, S.IDLE),
    (S.OPEN_CONFIRM, I.KEEPALIVE_EXPIRES): Rule(h.send_keepalive, S.OPEN_CONFIRM),
    (S.OPEN_CONFIRM, I.TCP_CONNECTION_FAILS): Rule(h.connection_lost, S.IDLE),
    (S.OPEN_CONFIRM, I.KEEPALIVE): Rule(h.established, S.ESTABLISHED),
    (S.OPEN_CONFIRM, I.MESSAGE_ERROR): Rule(h.message_error, S.IDLE),
    (S.OPEN_CONFIRM, I.NOTIFICATION): Rule(h.notification_received, S.IDLE),
    (S.OPEN_CONFIRM, I.OPEN_COLLISION_DUMP): Rule(h.collision_dump, S.IDLE),
    # -- Established -----------------------------------------------------------------------
    (S.ESTABLISHED, I.MANUAL_START): Rule(h.ignore, S.ESTABLISHED),
    (S.ESTABLISHED, I.MANUAL_START_PASSIVE): Rule(h.ignore, S.ESTABLISHED),
    (S.ESTABLISHED, I.MANUAL_STOP): Rule(h.manual_stop, S.IDLE),
    (S.ESTABLISHED, I.AUTOMATIC_STOP): Rule(h.automatic_stop, S.IDLE),
    (S.ESTABLISHED, I.HOLD_EXPIRES): Rule(h.hold_expired, S.IDLE),
    (S.ESTABLISHED, I.KEEPALIVE_EXPIRES): Rule(h.send_keepalive, S.ESTABLISHED),
    (S.ESTABLISHED, I.TCP_CONNECTION_FAILS): Rule(h.connection_lost, S.IDLE),
    (S.ESTABLISHED, I.KEEPALIVE): Rule(h.keepalive_received, S.ESTABLISHED),
    (S.ESTABLISHED, I.UPDATE): Rule(h.update_received, S.ESTABLISHED),
    (S.ESTABLISHED, I.ROUTE_REFRESH): Rule(h.route_refresh_received, S.ESTABLISHED),
    (S.ESTABLISHED, I.MESSAGE_ERROR): Rule(h.message_error, S.IDLE),
    (S.ESTABLISHED, I.NOTIFICATION): Rule(h.notification_received, S.IDLE),
    (S.ESTABLISHED, I.OPEN_COLLISION_DUMP): Rule(h.collision_dump, S.IDLE),
}

# The rule for every pair missing from TABLE (RFC 6608 subcodes: h.FSM_ERROR_SUBCODE).
FSM_ERROR_RULE = Rule(h.fsm_error, S.IDLE)

# The timers that may run in each state; entering a state stops the others.
TIMERS: dict[State, frozenset[Timer]] = {
    S.IDLE: frozenset({Timer.IDLE_HOLD}),
    S.CONNECT: frozenset({Timer.CONNECT_RETRY, Timer.DELAY_OPEN}),
    S.ACTIVE: frozenset({Timer.CONNECT_RETRY, Timer.DELAY_OPEN}),
    S.OPEN_SENT: frozenset({Timer.HOLD}),
    S.OPEN_CONFIRM: frozenset({Timer.HOLD, Timer.KEEPALIVE}),
    S.ESTABLISHED: frozenset({Timer.HOLD, Timer.KEEPALIVE}),
}

# Which input a timer's expiry is.
TIMER_INPUT: dict[Timer, Input] = {
    Timer.CONNECT_RETRY: I.CONNECT_RETRY_EXPIRES,
    Timer.HOLD: I.HOLD_EXPIRES,
    Timer.KEEPALIVE: I.KEEPALIVE_EXPIRES,
    Timer.DELAY_OPEN: I.DELAY_OPEN_EXPIRES,
    Timer.IDLE_HOLD: I.IDLE_HOLD_EXPIRES,
}


def lookup(state: State, kind: Input) -> Rule:
    """The rule for (state, input): the table's, or the FSM Error rule."""
    return TABLE.get((state, kind), FSM_ERROR_RULE)
