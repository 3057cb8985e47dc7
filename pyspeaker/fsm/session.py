"""One BGP session's state machine, sans-IO: bytes and calls in, bytes and events out.

The shell feeds it (``start``, ``connection_made``, ``receive_data``, ``handle_timer``,
...), then pulls ``data_to_send()`` and ``next_events()`` and re-arms one timer at
``get_timer()``. Every input carries ``now``; nothing here reads a clock. A Session drives
one TCP connection at a time: collisions are run with two Sessions (see ``collision``).

Tracing is injected: ``trace(now, kind, fields)`` is called for

* ``"state"``: ``old``, ``new``, ``reason``
* ``"recv"`` / ``"send"``: ``type`` (message name), ``length`` (plus ``code``/``subcode`` for a
  NOTIFICATION)
* ``"timer"``: ``timer`` (the timer that fired)
* ``"connect"``, ``"connected"``, ``"close"``, ``"refused"``, ``"ignored"``, ``"dropped"``:
  what the session asked of the shell, or chose not to act on, and why
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..wire import Context, Decoder, Interner, Notification, NotificationError, Open
from ..wire import constants as c
from ..wire.framing import check_header
from ..wire.notification import KEEPALIVE_BYTES
from .collision import resolve_collision
from .negotiation import build_open, negotiate
from .table import FSM_ERROR_RULE, TABLE, TIMER_INPUT, TIMERS, lookup
from .timers import Timers
from .types import (
    CloseRequested,
    ConnectRequested,
    Event,
    Input,
    Negotiated,
    PeerSettings,
    SessionDown,
    State,
    StateChanged,
    Timer,
    UsageError,
)

__all__ = ["LARGE_HOLD_TIME", "Session", "Trace", "resolve_collision"]

Trace = Callable[[float, str, dict[str, Any]], None]

# RFC 4271 8.2.2: the Hold timer in OpenSent is set to "a large value"; 4 minutes is suggested.
LARGE_HOLD_TIME = 240.0

_MESSAGE_INPUT = {
    c.OPEN: Input.OPEN,
    c.UPDATE: Input.UPDATE,
    c.NOTIFICATION: Input.NOTIFICATION,
    c.KEEPALIVE: Input.KEEPALIVE,
    c.ROUTE_REFRESH: Input.ROUTE_REFRESH,
}
_PRE_OPEN = Context()  # OPEN, KEEPALIVE and NOTIFICATION do not depend on the context


def _kind(data: bytes | bytearray) -> str:
    return c.MESSAGE_NAMES.get(data[18], f"type {data[18]}") if len(data) >= 19 else "partial"


class Session:
    """The RFC 4271 section 8 finite state machine for one peer (see the module doc)."""

    def __init__(self, settings: PeerSettings, *, trace: Trace | None = None, interner: Interner | None = None) -> None:
        self.settings = settings
        self._trace = trace
        self._interner = interner
        self._local_open = build_open(settings)
        self._open_bytes = self._local_open.encode()
        self._state = State.IDLE
        self._timers = Timers()
        self._out = bytearray()
        self._events: list[Event] = []
        self._buf = bytearray()
        self._max_len = _PRE_OPEN.max_message_len
        self._decoder = Decoder(_PRE_OPEN, interner)
        self._connected = False
        self._connecting = False
        self._passive = settings.passive
        self._auto_restart = False
        self._connect_retry_time = settings.connect_retry_time
        self._connect_retry_counter = 0
        self._failures = 0
        self._negotiated: Negotiated | None = None
        self._peer_open: Open | None = None
        self._keepalive_interval = 0
        self._established_at: float | None = None
        # messages received by type code, counted as they are framed (the shell's counters)
        self.counts: dict[int, int] | None = None

    # -- what the shell reads ------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def negotiated(self) -> Negotiated | None:
        """What the OPEN exchange agreed (OpenConfirm and Established), else None."""
        return self._negotiated

    @property
    def local_open(self) -> Open:
        return self._local_open

    @property
    def peer_open(self) -> Open | None:
        """The OPEN received on the current connection (set as soon as it is decoded, even
        if it is then refused), else None."""
        return self._peer_open

    @property
    def peer_id(self) -> str | None:
        """The peer's BGP identifier from its OPEN on the current connection, else None."""
        return str(self._peer_open.bgp_id) if self._peer_open is not None else None

    @property
    def connected(self) -> bool:
        """A TCP connection is up and belongs to this session."""
        return self._connected

    @property
    def passive(self) -> bool:
        """The current (or last) start was passive: the session never connects."""
        return self._passive

    @property
    def consecutive_failures(self) -> int:
        """Sessions lost in a row (reset by ManualStart and by a stable Established period)."""
        return self._failures

    @property
    def connect_retry_counter(self) -> int:
        """RFC 4271 ConnectRetryCounter."""
        return self._connect_retry_counter

    @property
    def connect_retry_time(self) -> float:
        return self._connect_retry_time

    def next_connect_retry(self, seconds: float) -> None:
        """Use ``seconds`` each time the ConnectRetry timer is started from now on (the
        shell's backoff and jitter); a running timer keeps its deadline."""
        if seconds <= 0:
            raise ValueError(f"connect retry time {seconds}: must be positive")
        self._connect_retry_time = seconds

    def idle_hold_time(self) -> float:
        """The IdleHold interval the next automatic restart waits (DampPeerOscillations):
        the base, doubled per consecutive failure after the first, capped."""
        base = self.settings.idle_hold_time
        if self._failures <= 1 or base == 0:
            return base
        return min(base * (1 << min(self._failures - 1, 32)), self.settings.idle_hold_max)

    def idle_hold_remaining(self, now: float) -> float | None:
        """Seconds until the automatic restart, or None if none is scheduled."""
        deadline = self._timers.deadline(Timer.IDLE_HOLD)
        return None if deadline is None else max(deadline - now, 0.0)

    def deadline(self, timer: Timer) -> float | None:
        """When ``timer`` fires, or None if it is not running."""
        return self._timers.deadline(timer)

    def timers(self) -> dict[Timer, float]:
        """Every running timer's deadline."""
        return self._timers.snapshot()

    def collision_keep_self(self, remote_id: str, remote_as: int | None = None) -> bool:
        """RFC 4271 6.8: True to keep the connection we initiated, False to keep the peer's."""
        return resolve_collision(self.settings.router_id, remote_id, self.settings.local_as, remote_as)

    # -- inputs --------------------------------------------------------------------------------
    def start(self, now: float, passive: bool | None = None) -> None:
        """ManualStart (or ManualStart_with_PassiveTcpEstablishment); ignored unless Idle."""
        passive = self.settings.passive if passive is None else passive
        self._dispatch(Input.MANUAL_START_PASSIVE if passive else Input.MANUAL_START, now, None)

    def update_settings(self, settings: PeerSettings) -> None:
        """Settings for the next connection (the OPEN it sends); the current one keeps
        what it negotiated."""
        self.settings = settings
        if not self._connected:
            self._local_open = build_open(settings)

    def stop(self, now: float, notification: Notification | None = None) -> None:
        """ManualStop: send ``notification`` (default Cease / Administrative Shutdown) if a
        connection is up, close, Idle; no automatic restart until the next start()."""
        self._dispatch(Input.MANUAL_STOP, now, notification)

    def reset(self, now: float, notification: Notification | None = None) -> None:
        """AutomaticStop: like stop() (default Cease / Administrative Reset), but the
        session restarts by itself after the IdleHold time (and counts as a failure)."""
        self._dispatch(Input.AUTOMATIC_STOP, now, notification)

    def collision_dump(self, now: float) -> None:
        """OpenCollisionDump: this connection lost the collision; send Cease / Connection
        Collision Resolution, close, Idle."""
        self._dispatch(Input.OPEN_COLLISION_DUMP, now, None)

    def connection_made(self, now: float, *, incoming: bool) -> None:
        """TcpConnectionConfirmed (incoming) / Tcp_CR_Acked (our connection). A connection
        in Idle is refused (CloseRequested). Raises UsageError if one is already up."""
        if self._connected:
            raise UsageError("this Session already has a TCP connection; use a second Session for the collision")
        self._dispatch(Input.TCP_CONNECTION_CONFIRMED if incoming else Input.TCP_CR_ACKED, now, incoming)

    def connection_failed(self, now: float) -> None:
        """TcpConnectionFails: the connection attempt failed. Ignored while a connection is
        up (an attempt the session no longer waits for, e.g. the peer's connection won)."""
        if self._connected:
            self._log(now, "ignored", {"type": "connection failed", "reason": "a connection is up"})
            return
        self._dispatch(Input.TCP_CONNECTION_FAILS, now, None)

    def connection_lost(self, now: float) -> None:
        """TcpConnectionFails: the peer closed or reset the connection."""
        self._dispatch(Input.TCP_CONNECTION_FAILS, now, None)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from TCP, in any pieces. Each whole message is handled before the next
        header is checked, so how the stream is cut never changes the outcome."""
        if not self._connected:
            self._log(now, "ignored", {"type": "data", "length": len(data), "reason": "no connection"})
            return
        buf = self._buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        pos, size = 0, len(data)
        while size - pos >= 19:
            try:
                length, msg_type = check_header(data, pos, self._max_len)
            except NotificationError as err:
                self._log(now, "recv", {"type": _kind(data[pos:]), "length": size - pos, "error": str(err)})
                self._dispatch(Input.MESSAGE_ERROR, now, err)
                return
            end = pos + length
            if end > size:
                break
            self._on_message(msg_type, data, pos, end, now)
            if not self._connected:
                return
            pos = end
        if pos < size:
            self._buf += data[pos:]

    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is ``<= now`` (each at most once per call)."""
        for when, timer in self._timers.due(now):
            if self._timers.deadline(timer) != when:
                continue  # stopped or restarted by a timer that fired before it
            self._timers.cancel(timer)
            self._log(now, "timer", {"timer": timer.value})
            self._dispatch(TIMER_INPUT[timer], now, None)

    def get_timer(self) -> float | None:
        """The earliest deadline (same clock as ``now``), or None."""
        return self._timers.earliest()

    def send_update(self, data: bytes, now: float) -> bool:
        """Queue encoded UPDATE(s). Only in Established (else dropped: returns False)."""
        if self._state is not State.ESTABLISHED:
            self._log(now, "dropped", {"type": _kind(data), "length": len(data), "state": self._state.value})
            return False
        self._send(data, now)
        return True

    def send_message(self, data: bytes, now: float) -> bool:
        """Queue any encoded bytes (ROUTE-REFRESH, raw bytes from a test peer) while a
        connection is up (else dropped: returns False)."""
        if not self._connected:
            self._log(now, "dropped", {"type": _kind(data), "length": len(data), "state": self._state.value})
            return False
        self._send(data, now)
        return True

    # -- outputs -------------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    # -- the machine ---------------------------------------------------------------------------
    def _dispatch(self, kind: Input, now: float, arg: Any) -> None:
        old = self._state
        rule = lookup(old, kind)
        mark = len(self._events)
        outcome = rule.handler(self, now, kind if rule is FSM_ERROR_RULE else arg)
        if isinstance(outcome, tuple):
            new, reason = outcome
        else:
            new, reason = rule.next, outcome
        if new is not old:
            self._state = new
            self._timers.keep_only(TIMERS[new])
            self._events.insert(mark, StateChanged(old, new, reason))
            self._log(now, "state", {"old": old.value, "new": new.value, "reason": reason})

    def _on_message(self, msg_type: int, data: bytes, start: int, end: int, now: float) -> None:
        kind = _MESSAGE_INPUT[msg_type]
        if self.counts is not None:
            self.counts[msg_type] += 1
        if kind is Input.OPEN and self._timers.running(Timer.DELAY_OPEN):
            kind = Input.OPEN_DELAYED
        if self._trace is not None:
            fields: dict[str, Any] = {"type": c.MESSAGE_NAMES[msg_type], "length": end - start}
            if msg_type == c.NOTIFICATION:
                fields.update(code=data[start + 19], subcode=data[start + 20])
            self._trace(now, "recv", fields)
        if (self._state, kind) not in TABLE:
            self._dispatch(kind, now, None)  # the FSM Error rule: no need to decode
            return
        try:
            msg = self._decoder.decode_one(msg_type, data, start, end)
        except NotificationError as err:
            self._dispatch(Input.MESSAGE_ERROR, now, err)
            return
        self._dispatch(kind, now, msg)

    # -- actions, used by the handlers ---------------------------------------------------------
    def _log(self, now: float, kind: str, fields: dict[str, Any]) -> None:
        if self._trace is not None:
            self._trace(now, kind, fields)

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _send(self, data: bytes, now: float) -> None:
        self._out += data
        if self._trace is not None:
            fields: dict[str, Any] = {"type": _kind(data), "length": len(data)}
            if len(data) >= 21 and data[18] == c.NOTIFICATION:
                fields.update(code=data[19], subcode=data[20])
            self._trace(now, "send", fields)
        if self._keepalive_interval:
            # RFC 4271 4.4: any message sent restarts the KeepaliveTimer
            self._timers.arm(Timer.KEEPALIVE, now, self._keepalive_interval)

    def _send_open(self, now: float) -> None:
        self._send(self._open_bytes, now)
        self._timers.arm(Timer.HOLD, now, LARGE_HOLD_TIME)

    def _send_keepalive(self, now: float) -> None:
        self._send(KEEPALIVE_BYTES, now)

    def _begin(self, passive: bool) -> None:
        """ManualStart from Idle: a fresh start, automatic restarts allowed."""
        self._passive = passive
        self._auto_restart = True
        self._connect_retry_counter = 0
        self._failures = 0
        self._timers.cancel(Timer.IDLE_HOLD)

    def _connect(self, now: float) -> None:
        self._connecting = True
        self._emit(ConnectRequested())
        self._log(now, "connect", {"connect_retry": self._connect_retry_time})
        self._timers.arm(Timer.CONNECT_RETRY, now, self._connect_retry_time)

    def _arm_connect_retry(self, now: float) -> None:
        if not self._passive:
            self._timers.arm(Timer.CONNECT_RETRY, now, self._connect_retry_time)

    def _accept(self, peer_open: Open) -> None:
        """The peer's OPEN is good: negotiate, and decode with the session's context."""
        neg = negotiate(self.settings, self._local_open, peer_open)
        self._negotiated = neg
        self._keepalive_interval = neg.keepalive_time
        ctx = neg.context()
        self._decoder = Decoder(ctx, self._interner)
        self._max_len = ctx.max_message_len

    def _restart_hold(self, now: float) -> None:
        neg = self._negotiated
        if neg is not None and neg.hold_time:
            self._timers.arm(Timer.HOLD, now, neg.hold_time)
        else:
            self._timers.cancel(Timer.HOLD, Timer.KEEPALIVE)

    def _check_stable(self, now: float) -> None:
        at = self._established_at
        if at is not None and now - at >= self.settings.stable_time:
            self._failures = 0

    def _release(
        self, now: float, reason: str, sent: Notification | None = None, received: Notification | None = None
    ) -> None:
        """Give up the connection (or the attempt): CloseRequested, SessionDown."""
        if self._connected or self._connecting:
            self._emit(CloseRequested())
            self._log(now, "close", {"reason": reason})
        if self._connected:
            was_established = self._state is State.ESTABLISHED
            self._emit(SessionDown(reason, sent, received, was_established, self._negotiated))
        self._connected = self._connecting = False
        self._buf = bytearray()
        self._decoder = Decoder(_PRE_OPEN, self._interner)
        self._max_len = _PRE_OPEN.max_message_len
        self._negotiated = None
        self._peer_open = None
        self._keepalive_interval = 0
        self._established_at = None

    def _idle(
        self,
        now: float,
        reason: str,
        sent: Notification | None = None,
        received: Notification | None = None,
        count: bool = True,
    ) -> tuple[State, str]:
        """Release the connection and go to Idle; count a failure (DampPeerOscillations)
        and schedule the automatic restart unless stop() was called."""
        if count:
            self._check_stable(now)
            self._connect_retry_counter += 1
            self._failures += 1
        self._release(now, reason, sent, received)
        if self._auto_restart:
            self._timers.arm(Timer.IDLE_HOLD, now, self.idle_hold_time())
        return State.IDLE, reason
