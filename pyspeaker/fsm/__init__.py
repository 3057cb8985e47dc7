"""The RFC 4271 section 8 session state machine, sans-IO (no sockets, no clock, no asyncio).

>>> session = Session(PeerSettings(local_as=65001, peer_as=65002, router_id="192.0.2.1"))
>>> session.start(now=0.0)
>>> session.next_events()
[StateChanged(old=<State.IDLE: 'Idle'>, new=<State.CONNECT: 'Connect'>, reason='manual start'), ConnectRequested()]
"""

from .collision import resolve_collision
from .negotiation import build_open, check_open, negotiate
from .session import LARGE_HOLD_TIME, Session, Trace
from .types import (
    CloseRequested,
    ConnectRequested,
    Event,
    Input,
    Negotiated,
    OpenReceived,
    PeerSettings,
    Rejection,
    RouteRefreshReceived,
    SessionDown,
    SessionUp,
    State,
    StateChanged,
    Timer,
    UpdateReceived,
    UsageError,
)

__all__ = [
    "LARGE_HOLD_TIME",
    "CloseRequested",
    "ConnectRequested",
    "Event",
    "Input",
    "Negotiated",
    "OpenReceived",
    "PeerSettings",
    "Rejection",
    "RouteRefreshReceived",
    "Session",
    "SessionDown",
    "SessionUp",
    "State",
    "StateChanged",
    "Timer",
    "Trace",
    "UpdateReceived",
    "UsageError",
    "build_open",
    "check_open",
    "negotiate",
    "resolve_collision",
]
