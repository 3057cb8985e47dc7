"""The actions of each transition in :mod:`pyspeaker.fsm.table`.

A handler is called as ``handler(session, now, arg)``; ``arg`` is what came with the input
(the decoded message, the NotificationError, the NOTIFICATION to send on a stop, whether a
connection is incoming; the input itself for :func:`fsm_error`). It returns the reason for
the transition (the rule's next state applies), or ``(state, reason)`` to go elsewhere.

Handlers are part of the Session's own code, kept apart so that each module stays short:
they use its private helpers (``_send``, ``_idle``, ``_release``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..wire import Notification, NotificationError, Open, RouteRefresh, Update
from ..wire import constants as c
from ..wire.notification import (
    CEASE,
    CEASE_ADMIN_RESET,
    CEASE_COLLISION,
    FSM_ERROR,
    HOLD_TIMER_EXPIRED,
    OPEN_MESSAGE_ERROR,
)
from ..wire.open import UNSUPPORTED_VERSION
from .negotiation import check_open
from .types import CloseRequested, Input, OpenReceived, RouteRefreshReceived, SessionUp, State, Timer, UpdateReceived

if TYPE_CHECKING:
    from .session import Session

Outcome = str | tuple[State, str]
Handler = Callable[["Session", float, Any], Outcome]

# RFC 6608: the FSM Error subcode for an unexpected message in each state (0: unspecified).
FSM_ERROR_SUBCODE: dict[State, int] = {State.OPEN_SENT: 1, State.OPEN_CONFIRM: 2, State.ESTABLISHED: 3}


def _sent(reason: str, notification: Notification | None) -> str:
    return f"{reason} (NOTIFICATION sent: {notification})" if notification is not None else reason


def ignore(s: Session, now: float, arg: Any) -> Outcome:
    return ""


# -- starting and stopping -------------------------------------------------------------------
def manual_start(s: Session, now: float, arg: Any) -> Outcome:
    s._begin(passive=False)
    s._connect(now)
    return "manual start"


def manual_start_passive(s: Session, now: float, arg: Any) -> Outcome:
    s._begin(passive=True)
    return "manual start (passive)"


def automatic_start(s: Session, now: float, arg: Any) -> Outcome:
    if s.passive:
        return State.ACTIVE, "idle hold timer expired: automatic start (passive)"
    s._connect(now)
    return "idle hold timer expired: automatic start"


def stop_in_idle(s: Session, now: float, arg: Any) -> Outcome:
    s._auto_restart = False
    s._connect_retry_counter = 0
    s._timers.cancel(Timer.IDLE_HOLD)
    return "manual stop"


def manual_stop(s: Session, now: float, notification: Notification | None) -> Outcome:
    s._auto_restart = False
    s._connect_retry_counter = 0
    sent = None
    if s.connected:
        sent = notification if notification is not None else Notification.shutdown()
        s._send(sent.encode(), now)
    return s._idle(now, _sent("manual stop", sent), sent=sent, count=False)


def automatic_stop(s: Session, now: float, notification: Notification | None) -> Outcome:
    sent = None
    if s.connected:
        sent = notification if notification is not None else Notification(CEASE, CEASE_ADMIN_RESET)
        s._send(sent.encode(), now)
    return s._idle(now, _sent("automatic stop", sent), sent=sent)


def collision_dump(s: Session, now: float, arg: Any) -> Outcome:
    sent = None
    if s.connected:
        sent = Notification(CEASE, CEASE_COLLISION)
        s._send(sent.encode(), now)
    return s._idle(now, _sent("connection collision resolution", sent), sent=sent)


# -- the TCP connection ------------------------------------------------------------------------
def refuse_connection(s: Session, now: float, incoming: bool) -> Outcome:
    s._emit(CloseRequested())
    s._log(now, "refused", {"incoming": incoming, "reason": "connection in Idle"})
    return ""


def retry_connect(s: Session, now: float, arg: Any) -> Outcome:
    if s.passive:
        return s.state, ""
    if s._connecting:
        s._emit(CloseRequested())  # abandon the attempt in progress
    s._timers.cancel(Timer.DELAY_OPEN)
    s._connect(now)
    return "connect retry timer expired"


def connection_up(s: Session, now: float, incoming: bool) -> Outcome:
    s._connected = True
    s._connecting = False
    s._timers.cancel(Timer.CONNECT_RETRY)
    how = "incoming" if incoming else "outgoing"
    if s.settings.delay_open_time > 0:
        s._timers.arm(Timer.DELAY_OPEN, now, s.settings.delay_open_time)
        s._log(now, "connected", {"incoming": incoming, "delay_open": s.settings.delay_open_time})
        return s.state, f"TCP connection up ({how}), delay open timer started"
    s._log(now, "connected", {"incoming": incoming})
    s._send_open(now)
    return f"TCP connection up ({how}), OPEN sent"


def delay_open_expired(s: Session, now: float, arg: Any) -> Outcome:
    s._send_open(now)
    return "delay open timer expired"


def connect_failed(s: Session, now: float, arg: Any) -> Outcome:
    """Connect: the attempt failed (or the connection, up while DelayOpen ran, closed)."""
    if s.connected:
        reason = "TCP connection lost"
        s._release(now, reason)
    else:
        reason = "TCP connection failed"
        s._connecting = False  # nothing to close
    s._timers.cancel(Timer.DELAY_OPEN)
    s._arm_connect_retry(now)
    return reason


def connection_lost_in_active(s: Session, now: float, arg: Any) -> Outcome:
    if not s.connected:
        return s.state, ""  # nothing was up: a late report of an abandoned attempt
    return s._idle(now, "TCP connection lost")


def connection_lost_in_open_sent(s: Session, now: float, arg: Any) -> Outcome:
    s._release(now, "TCP connection lost")
    s._arm_connect_retry(now)
    return "TCP connection lost"


def connection_lost(s: Session, now: float, arg: Any) -> Outcome:
    return s._idle(now, "TCP connection lost")


# -- messages ----------------------------------------------------------------------------------
def open_received(s: Session, now: float, msg: Open) -> Outcome:
    s._peer_open = msg
    s._emit(OpenReceived(msg))
    rejection = check_open(s.settings, s.local_open, msg)
    if rejection is not None:
        sent = rejection.notification
        s._send(sent.encode(), now)
        return s._idle(now, f"NOTIFICATION sent: {sent} ({rejection.reason})", sent=sent)
    delayed = s._timers.running(Timer.DELAY_OPEN)
    s._timers.cancel(Timer.CONNECT_RETRY, Timer.DELAY_OPEN)
    if delayed:
        s._send_open(now)
    s._accept(msg)
    s._send_keepalive(now)
    s._restart_hold(now)
    return "OPEN received while delay open timer running" if delayed else "OPEN received"


def established(s: Session, now: float, arg: Any) -> Outcome:
    s._restart_hold(now)
    s._established_at = now
    negotiated = s.negotiated
    assert negotiated is not None
    s._emit(SessionUp(negotiated))
    return "KEEPALIVE received"


def keepalive_received(s: Session, now: float, arg: Any) -> Outcome:
    s._restart_hold(now)
    return ""


def update_received(s: Session, now: float, update: Update) -> Outcome:
    s._restart_hold(now)
    s._emit(UpdateReceived(update))
    return ""


def route_refresh_received(s: Session, now: float, refresh: RouteRefresh) -> Outcome:
    """RFC 2918 / RFC 7313: a request for a family not negotiated, or with an unknown
    subtype (BoRR/EoRR without Enhanced Route Refresh), is ignored."""
    s._restart_hold(now)
    neg = s.negotiated
    assert neg is not None
    if not s.local_open.has(c.CAP_ROUTE_REFRESH):
        why = "route refresh not advertised"
    elif refresh.family not in neg.families:
        why = f"family {refresh.family} not negotiated"
    elif refresh.subtype not in (c.REFRESH_NORMAL, c.REFRESH_BORR, c.REFRESH_EORR):
        why = f"subtype {refresh.subtype}"
    elif refresh.subtype != c.REFRESH_NORMAL and not neg.enhanced_route_refresh:
        why = "enhanced route refresh not negotiated"
    else:
        s._emit(RouteRefreshReceived(refresh))
        return ""
    s._log(now, "ignored", {"type": "ROUTE-REFRESH", "reason": why})
    return ""


def notification_received(s: Session, now: float, notification: Notification) -> Outcome:
    version_error = notification.code == OPEN_MESSAGE_ERROR and notification.subcode == UNSUPPORTED_VERSION
    return s._idle(now, f"NOTIFICATION received: {notification}", received=notification, count=not version_error)


def message_error(s: Session, now: float, err: NotificationError) -> Outcome:
    sent = Notification.from_error(err)
    s._send(sent.encode(), now)
    reason = f"NOTIFICATION sent: {sent}" + (f" ({err.reason})" if err.reason else "")
    return s._idle(now, reason, sent=sent)


# -- timers ------------------------------------------------------------------------------------
def send_keepalive(s: Session, now: float, arg: Any) -> Outcome:
    s._send_keepalive(now)
    s._check_stable(now)
    return ""


def hold_expired(s: Session, now: float, arg: Any) -> Outcome:
    sent = Notification(HOLD_TIMER_EXPIRED, 0)
    s._send(sent.encode(), now)
    return s._idle(now, "hold timer expired", sent=sent)


# -- the one path to an FSM Error --------------------------------------------------------------
def fsm_error(s: Session, now: float, kind: Input) -> Outcome:
    state = s.state
    sent = None
    if s.connected:
        sent = Notification(FSM_ERROR, FSM_ERROR_SUBCODE.get(state, 0))
        s._send(sent.encode(), now)
    return s._idle(now, _sent(f"FSM error: {kind.value} in {state.value}", sent), sent=sent)
