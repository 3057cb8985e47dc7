"""The configuration, as typed values. Built only by :mod:`pyspeaker.config.load`, which
checks every field before anything starts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    asn: int
    router_id: ipaddress.IPv4Address
    listen: tuple[IPAddress, ...] = (ipaddress.IPv4Address("127.0.0.1"),)
    port: int = 179
    listen_backlog: int = 1024


@dataclass(frozen=True, slots=True)
class Config:
    source: str  # the file it came from, for messages
    global_: GlobalConfig
    neighbors: tuple[NeighborConfig, ...] = ()

    def neighbor(self, address: str | IPAddress) -> NeighborConfig | None:
        addr = ipaddress.ip_address(address)
        return next((n for n in self.neighbors if n.address == addr), None)
