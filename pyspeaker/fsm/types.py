"""Plain values of the session state machine: states, timers, inputs, settings, what was
negotiated, and the events a :class:`~pyspeaker.fsm.session.Session` reports."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from ..wire import IPV4_UNICAST, Capability, Context, Family, GracefulRestart, Notification, Open, RouteRefresh, Update
from ..wire.open import ADDPATH_BOTH, ADDPATH_RECEIVE, ADDPATH_SEND, ROLES


class State(enum.Enum):
    """RFC 4271 8.2.2 session states."""

    IDLE = "Idle"
    CONNECT = "Connect"
    ACTIVE = "Active"
    OPEN_SENT = "OpenSent"
    OPEN_CONFIRM = "OpenConfirm"
    ESTABLISHED = "Established"


class Timer(enum.Enum):
    """RFC 4271 8 timers (IdleHold from the DampPeerOscillations option)."""

    CONNECT_RETRY = "ConnectRetry"
    HOLD = "Hold"
    KEEPALIVE = "Keepalive"
    DELAY_OPEN = "DelayOpen"
    IDLE_HOLD = "IdleHold"


class Input(enum.Enum):
    """What the state machine reacts to: the RFC 4271 8.1 events, merged where the RFC
    handles them alike (the RFC event numbers are in the comments)."""

    MANUAL_START = "ManualStart"  # 1
    MANUAL_STOP = "ManualStop"  # 2
    MANUAL_START_PASSIVE = "ManualStart_with_PassiveTcpEstablishment"  # 4
    AUTOMATIC_STOP = "AutomaticStop"  # 8
    CONNECT_RETRY_EXPIRES = "ConnectRetryTimer_Expires"  # 9
    HOLD_EXPIRES = "HoldTimer_Expires"  # 10
    KEEPALIVE_EXPIRES = "KeepaliveTimer_Expires"  # 11
    DELAY_OPEN_EXPIRES = "DelayOpenTimer_Expires"  # 12
    IDLE_HOLD_EXPIRES = "IdleHoldTimer_Expires"  # 13, then AutomaticStart (3 or 5)
    TCP_CR_ACKED = "Tcp_CR_Acked"  # 16: our connection is up
    TCP_CONNECTION_CONFIRMED = "TcpConnectionConfirmed"  # 17: the peer's connection is up
    TCP_CONNECTION_FAILS = "TcpConnectionFails"  # 18: connect failed, or the connection closed
    OPEN = "BGPOpen"  # 19
    OPEN_DELAYED = "BGPOpen with DelayOpenTimer running"  # 20
    MESSAGE_ERROR = "BGPHeaderErr/BGPOpenMsgErr/UpdateMsgErr"  # 21, 22, 28, and RFC 7313 errors
    OPEN_COLLISION_DUMP = "OpenCollisionDump"  # 23
    NOTIFICATION = "NotifMsg"  # 24, 25
    KEEPALIVE = "KeepAliveMsg"  # 26
    UPDATE = "UpdateMsg"  # 27
    ROUTE_REFRESH = "RouteRefreshMsg"  # RFC 2918 / RFC 7313


class UsageError(RuntimeError):
    """The shell called the Session in a way its contract excludes (a second TCP connection
    on a Session that has one: run collision detection with a second Session instead)."""


_VALID_ROLES = frozenset(ROLES)


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """What a session is configured with. Validated on construction (ValueError)."""

    local_as: int
    peer_as: int | None  # None: accept any
    router_id: str  # dotted quad
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    hold_time: int = 90  # proposed; 0 or >= 3
    keepalive_time: int | None = None  # None: hold_time // 3
    connect_retry_time: float = 30.0
    passive: bool = False  # never connects, waits in Active
    delay_open_time: float = 0.0  # 0: DelayOpen off
    idle_hold_time: float = 0.0  # base IdleHold; doubles per consecutive failure up to idle_hold_max
    idle_hold_max: float = 120.0
    allow_as4: bool = True  # send 4-octet AS capability
    route_refresh: bool = True
    enhanced_route_refresh: bool = True
    extended_message: bool = False
    extended_nexthop: tuple[tuple[Family, int], ...] = ()
    addpath: tuple[tuple[Family, int], ...] = ()  # (family, 1 receive / 2 send / 3 both)
    graceful_restart: Capability | None = None  # the exact GR capability to send
    long_lived_gr: Capability | None = None
    role: int | None = None  # RFC 9234 role to send
    strict_role: bool = False
    extra_capabilities: tuple[Capability, ...] = ()  # sent as given
    required_capabilities: tuple[int, ...] = ()  # codes the peer must send, else NOTIFICATION 2/7
    hostname: str | None = None  # FQDN capability if set ("host.domain": split at the first dot)
    stable_time: float = 60.0  # Established this long resets the consecutive failure count

    def __post_init__(self) -> None:
        if not 0 < self.local_as <= 0xFFFFFFFF:
            raise ValueError(f"local AS {self.local_as} out of range")
        if self.peer_as is not None and not 0 < self.peer_as <= 0xFFFFFFFF:
            raise ValueError(f"peer AS {self.peer_as} out of range")
        if self.local_as > 0xFFFF and not self.allow_as4:
            raise ValueError(f"local AS {self.local_as} needs the 4-octet AS capability")
        if not int(ipaddress.IPv4Address(self.router_id)):
            raise ValueError("router id 0.0.0.0")
        if self.hold_time in (1, 2) or not 0 <= self.hold_time <= 0xFFFF:
            raise ValueError(f"hold time {self.hold_time}: 0 or 3..65535")
        if self.keepalive_time is not None and not 0 < self.keepalive_time <= 0xFFFF:
            raise ValueError(f"keepalive time {self.keepalive_time}: at least 1")
        if self.connect_retry_time <= 0:
            raise ValueError(f"connect retry time {self.connect_retry_time}: must be positive")
        if self.delay_open_time < 0 or self.idle_hold_time < 0 or self.idle_hold_max < self.idle_hold_time:
            raise ValueError("delay open / idle hold times must be >= 0, idle_hold_max >= idle_hold_time")
        if any(mode not in (ADDPATH_RECEIVE, ADDPATH_SEND, ADDPATH_BOTH) for _, mode in self.addpath):
            raise ValueError("add-path modes are 1 (receive), 2 (send), 3 (both)")
        if self.role is not None and self.role not in _VALID_ROLES:
            raise ValueError(f"role {self.role}: one of {sorted(_VALID_ROLES)}")
        if self.strict_role and self.role is None:
            raise ValueError("strict_role needs a role")

    @property
    def keepalive(self) -> int:
        """The keepalive interval we would use with our own hold time."""
        return keepalive_for(self, self.hold_time)


def keepalive_for(settings: PeerSettings, hold: int) -> int:
    """Keepalive interval for a negotiated hold time: hold/3, or the configured keepalive
    capped by it; 0 when the hold time is 0 (no KEEPALIVEs at all)."""
    if hold == 0:
        return 0
    cap = max(hold // 3, 1)
    return cap if settings.keepalive_time is None else min(settings.keepalive_time, cap)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The result of the OPEN exchange."""

    local_open: Open
    peer_open: Open
    peer_as: int
    peer_id: str
    hold_time: int
    keepalive_time: int
    families: frozenset[Family]  # both sides' multiprotocol (IPv4 unicast implied without MP, RFC 4760)
    asn4: bool
    extended_message: bool
    route_refresh: bool
    enhanced_route_refresh: bool
    addpath_rx: frozenset[Family]
    addpath_tx: frozenset[Family]
    extended_nexthop: frozenset[Family]  # both advertised RFC 8950 with next-hop AFI 2
    graceful_restart: GracefulRestart | None  # what the PEER sent, byte exact in .raw
    ibgp: bool

    def context(self) -> Context:
        """The codec context for this session."""
        return Context(
            asn4=self.asn4,
            addpath_rx=self.addpath_rx,
            addpath_tx=self.addpath_tx,
            extended_message=self.extended_message,
            ibgp=self.ibgp,
            peer_as=self.peer_as,
            extended_nexthop=self.extended_nexthop,
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a peer's OPEN is refused: the NOTIFICATION to send, and a reason for people."""

    notification: Notification
    reason: str


# -- events the Session reports (pull them with Session.next_events()) -----------------------
@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State
    reason: str


@dataclass(frozen=True, slots=True)
class SessionUp:
    negotiated: Negotiated


@dataclass(frozen=True, slots=True)
class SessionDown:
    """A TCP connection the FSM had was released. ``negotiated`` is what the session had
    agreed (None if it never reached OpenConfirm): the GR helper needs it after the fact."""

    reason: str
    sent: Notification | None
    received: Notification | None
    was_established: bool
    negotiated: Negotiated | None = None


@dataclass(frozen=True, slots=True)
class UpdateReceived:
    update: Update


@dataclass(frozen=True, slots=True)
class RouteRefreshReceived:
    refresh: RouteRefresh


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """Open a TCP connection to the peer now."""


@dataclass(frozen=True, slots=True)
class CloseRequested:
    """Close the TCP connection (after flushing data_to_send()), or abandon the connection
    attempt in progress if no connection is up."""


@dataclass(frozen=True, slots=True)
class OpenReceived:
    """The peer's OPEN, decoded (reported before it is checked): for recording, and for
    the shell's collision detection (see :func:`~pyspeaker.fsm.collision.resolve_collision`)."""

    open: Open


Event = (
    StateChanged
    | SessionUp
    | SessionDown
    | UpdateReceived
    | RouteRefreshReceived
    | ConnectRequested
    | CloseRequested
    | OpenReceived
)
