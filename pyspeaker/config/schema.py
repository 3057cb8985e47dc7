"""The configuration, as typed values. Built only by :mod:`pyspeaker.config.load`, which
checks every field before anything starts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..rib.policy import Policy
from ..wire.family import Family

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class NeighborConfig:
    address: IPAddress
    remote_as: int
    families: tuple[Family, ...]
    description: str = ""
    port: int = 179
    passive: bool = False
    hold_time: int = 90
    keepalive_time: int | None = None
    connect_retry: float = 5.0  # first retry; doubles per failure up to connect_retry_max, with jitter
    connect_retry_max: float = 120.0
    delay_open: float = 0.0
    password: str | None = None  # TCP-MD5 (RFC 2385)
    ttl_security: int | None = None  # GTSM (RFC 5082): hops; 1 = directly connected
    local_address: IPAddress | None = None
    max_prefixes: dict[Family, int] = field(default_factory=dict)
    enabled: bool = True
    rr_client: bool = False  # RFC 4456: this iBGP neighbor is a route reflector client
    next_hop_self: bool = False  # our address as next hop for routes from eBGP peers and our own
    next_hop_v4: IPAddress | None = None  # the IPv4 next hop we announce (default: the session's address)
    next_hop_v6: IPAddress | None = None  # the IPv6 next hop we announce (default: the session's address)
    import_policy: Policy | None = None  # None: everything for iBGP, nothing for eBGP (RFC 8212)
    export_policy: Policy | None = None
    extended_nexthop: bool = False  # RFC 8950: offer IPv4 routes with IPv6 next hops
    graceful_restart: bool = True  # announce GR (RFC 4724, with N: RFC 8538) and keep a restarting peer's routes
    restart_time: int = 120  # the restart time we announce
    stale_time: float = 360.0  # after the peer is back, how long its stale routes may wait for End-of-RIB
    gr_flags: dict[Family, int] = field(default_factory=dict)  # per-family flags after our restart (default F)
    long_lived_stale_time: int = 0  # RFC 9494: announce LLGR for our families with this stale time (0: aware only)
    dynamic: bool = False  # made from a listen range when the peer connected
    mrt_record: str | None = None  # record the session as MRT to this path (strftime, {peer}; pyspeaker.mrt)


@dataclass(frozen=True, slots=True)
class ListenRange:
    """Dynamic neighbors: any address in ``network`` may connect and is accepted with the
    settings of ``template`` (its address is the range's first address); never dialled."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    template: NeighborConfig
    limit: int = 10000  # sessions from this range at once


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    asn: int
    router_id: ipaddress.IPv4Address
    listen: tuple[IPAddress, ...] = (ipaddress.IPv4Address("127.0.0.1"),)
    port: int = 179
    listen_backlog: int = 1024
    cluster_id: ipaddress.IPv4Address | None = None  # RFC 4456; default: the router id
    always_compare_med: bool = False
    state_file: str | None = None  # set: pyspeaker restarts gracefully (RFC 4724 4.1) using this file
    selection_deferral: float = 360.0  # after our restart, the longest wait for peers' End-of-RIB
    graceful_stop: str = "close"  # close: TCP closed without NOTIFICATION; notification: Cease (RFC 8538)
    # MRT (RFC 6396, docs/mrt.md): every session recorded to mrt_record (strftime, {peer}); the
    # Loc-RIB dumped as TABLE_DUMP_V2 to mrt_dump every mrt_dump_interval seconds (0: never)
    mrt_record: str | None = None
    mrt_dump: str | None = None
    mrt_dump_interval: float = 0.0
    mrt_dump_all_paths: bool = False  # every candidate route per prefix, not only the best
    mrt_extended_timestamps: bool = False  # recordings as BGP4MP_ET (microseconds)


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """``[metrics]``: the Prometheus endpoint (``listen = "127.0.0.1:9179"``); off when absent."""

    address: IPAddress
    port: int
    path: str = "/metrics"


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """``[control]``: the control API. A Unix socket (``socket``: None is the default path,
    see :func:`pyspeaker.api.protocol.default_socket`) whose file mode decides who may use
    it; TCP only when ``tcp`` is set, and then only with mutual TLS."""

    enabled: bool = True
    socket: str | None = None
    mode: int = 0o660
    group: str | None = None  # the socket's group (who may use it, with mode); None: the speaker's
    tcp: tuple[IPAddress, int] | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    source: str  # the file it came from, for messages
    global_: GlobalConfig
    neighbors: tuple[NeighborConfig, ...] = ()
    listen_ranges: tuple[ListenRange, ...] = ()
    policies: dict[str, Policy] = field(default_factory=dict)
    metrics: MetricsConfig | None = None
    control: ControlConfig = field(default_factory=ControlConfig)

    def neighbor(self, address: str | IPAddress) -> NeighborConfig | None:
        addr = ipaddress.ip_address(address)
        return next((n for n in self.neighbors if n.address == addr), None)

    def listen_range(self, address: str | IPAddress) -> ListenRange | None:
        """The most specific listen range holding ``address``, if any."""
        addr = ipaddress.ip_address(address)
        found = [r for r in self.listen_ranges if addr.version == r.network.version and addr in r.network]
        return max(found, key=lambda r: r.network.prefixlen, default=None)
