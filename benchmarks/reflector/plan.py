"""Who is who in a reflector benchmark run: addresses, prefixes, next hops.

Everything runs inside one network namespace made for the run: the reflector listens on
127.0.0.1 port 179 and client ``i`` connects from its own loopback address (all of
127.0.0.0/8 is local on Linux). A veth pair (``bench0``/``bench1``, both ends in the
namespace) carries the networks the next hops live in, so every reflector can resolve them
(BIRD resolves iBGP next hops recursively, FRR tracks them through zebra; both ignore or
refuse a route whose next hop they cannot reach, and GoBGP and FRR refuse 127.0.0.0/8 next
hops outright).

A client's routes carry an *epoch* in their next hops: a re-announced route differs from the
route it replaces, so a receiver can tell which one it holds without keeping a timeline.
"""

from __future__ import annotations

from typing import Final

ASN: Final = 65000
REFLECTOR: Final = "127.0.0.1"
PORT: Final = 179
CLIENT_RANGE: Final = "127.1.0.0/16"  # every client address; the reflectors' listen range
HOLD_TIME: Final = 240
CLIENT_RESTART_TIME: Final = 120  # the restart time the clients announce (graceful-restart runs)
REFLECTOR_RESTART_TIME: Final = 120  # ... and the reflectors
MAX_CLIENTS: Final = 250 * 256
MAX_EPOCH: Final = 62  # IPv4 next hops 100.(64 + epoch).x.y stay inside 100.64.0.0/10

# addresses of bench0 (the next hops' networks): never equal to a client's next hop
LINK_ADDRESSES: Final = ("100.127.255.254/10", "192.0.2.254/24", "fd00:ffff::1/16")


def client_address(i: int) -> str:
    """Client ``i``'s source address and router id: 127.1.0.1, 127.1.0.2, ... 127.1.0.250,
    127.1.1.1, ... (no .0 or .255 octets)."""
    if not 0 <= i < MAX_CLIENTS:
        raise ValueError(f"client index {i} out of range")
    return f"127.1.{i // 250}.{i % 250 + 1}"


def prefix4(i: int) -> bytes:
    """Client ``i``'s IPv4 pod block in wire form: the i-th /26 of 10.0.0.0/8."""
    return b"\x1a" + ((10 << 24) | (i << 6)).to_bytes(4, "big")


def prefix6(i: int) -> bytes:
    """Client ``i``'s IPv6 pod block in wire form: fd10:0:<i>::/64."""
    return b"\x40\xfd\x10\x00\x00" + i.to_bytes(2, "big") + b"\x00\x00"


def next_hop4(i: int, epoch: int) -> bytes:
    """100.(64 + epoch).(i >> 8).(i & 255)."""
    return bytes((100, 64 + epoch, i >> 8, i & 255))


def next_hop6(i: int, epoch: int) -> bytes:
    """fd00::1:<epoch>:<i>."""
    return b"\xfd\x00" + bytes(8) + b"\x00\x01" + epoch.to_bytes(2, "big") + i.to_bytes(2, "big")


def value4(next_hop: bytes | None) -> int:
    """What a receiver records for an IPv4 route with this next hop: epoch + 1, or 255 for a
    next hop this plan never sends (which then never counts as the expected route)."""
    if next_hop is not None and len(next_hop) == 4 and next_hop[0] == 100 and 64 <= next_hop[1] <= 64 + MAX_EPOCH:
        return next_hop[1] - 63
    return 255


def value6(next_hop: bytes) -> int:
    """As :func:`value4` for an MP_REACH_NLRI IPv6 next hop (16 octets, or 32 with a
    link-local address after the global one)."""
    if len(next_hop) in (16, 32) and next_hop[:12] == b"\xfd\x00" + bytes(8) + b"\x00\x01":
        epoch = (next_hop[12] << 8) | next_hop[13]
        if epoch <= MAX_EPOCH:
            return epoch + 1
    return 255


def text4(prefix: bytes) -> str:
    b = prefix[1:] + bytes(4)
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}/{prefix[0]}"


def chosen(n: int, fraction: float, salt: int) -> list[int]:
    """A deterministic spread-out subset of ``fraction`` of ``n`` clients (at least one),
    different for a different ``salt``."""
    k = max(1, round(n * fraction))
    step = n / k
    return sorted({(int(j * step) + salt) % n for j in range(k)})
