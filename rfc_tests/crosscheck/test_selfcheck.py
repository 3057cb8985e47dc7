"""Self-check of the independent BGP decoders (tshark and scapy) used for cross-checking.

The UPDATE messages are built by hand here with a tiny struct-based builder, and
the expected normalized form is written out literally.
"""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rfc_tests.crosscheck.pcap import write_pcap

# --- tiny wire builder -------------------------------------------------------

ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR = 1, 2, 3, 4, 5, 6, 7
COMMUNITIES, MP_REACH, MP_UNREACH, EXT_COMMUNITIES, LARGE_COMMUNITIES = 8, 14, 15, 16, 32
WELL_KNOWN, OPTIONAL_TRANSITIVE, OPTIONAL, EXT_LEN = 0x40, 0xC0, 0x80, 0x10


def message(msg_type: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), msg_type) + body


def attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & EXT_LEN:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def prefixes(*nets: str) -> bytes:
    out = b""
    for text in nets:
        net = ipaddress.ip_network(text)
        out += bytes([net.prefixlen]) + net.network_address.packed[: (net.prefixlen + 7) // 8]
    return out


def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return message(2, body)


def as_path(*segments: tuple[int, list[int]]) -> bytes:
    value = b"".join(struct.pack("!BB", t, len(asns)) + struct.pack(f"!{len(asns)}I", *asns) for t, asns in segments)
    return attr(WELL_KNOWN, AS_PATH, value)


KEEPALIVE = message(4, b"")

# 1. IPv4 UPDATE carrying every attribute of the normalized form, 2 prefixes.
UPDATE_V4_FULL = update(
    attrs=(
        attr(WELL_KNOWN, ORIGIN, b"\x02")
        + as_path((2, [65001, 4200000000, 70000]), (1, [64512, 64513]))
        + attr(WELL_KNOWN, NEXT_HOP, bytes([192, 0, 2, 254]))
        + attr(OPTIONAL, MED, struct.pack("!I", 100))
        + attr(WELL_KNOWN, LOCAL_PREF, struct.pack("!I", 4294967295))
        + attr(WELL_KNOWN, ATOMIC_AGGREGATE, b"")
        + attr(OPTIONAL_TRANSITIVE, AGGREGATOR, struct.pack("!I", 4200000001) + bytes([198, 51, 100, 7]))
        + attr(OPTIONAL_TRANSITIVE, COMMUNITIES, struct.pack("!HHHHHH", 65001, 100, 0xFFFF, 0xFF01, 0, 0))
        + attr(
            OPTIONAL_TRANSITIVE,
            EXT_COMMUNITIES,
            bytes.fromhex("0002fde900000064") + bytes.fromhex("0102c0000201007b") + bytes.fromhex("030c000000000008"),
        )
        + attr(
            OPTIONAL_TRANSITIVE,
            LARGE_COMMUNITIES,
            struct.pack("!III", 4200000000, 1, 2) + struct.pack("!III", 65001, 4294967295, 0),
        )
    ),
    nlri=prefixes("203.0.113.128/25", "10.1.0.0/16"),
)

# 2. Withdrawal-only IPv4 UPDATE.
UPDATE_V4_WITHDRAW = update(withdrawn=prefixes("10.1.0.0/16", "198.51.100.1/32", "0.0.0.0/0"))

# 3. IPv6 MP_REACH UPDATE, 32-byte next hop (global + link-local), extended-length attribute.
UPDATE_V6_REACH = update(
    attrs=(
        attr(
            OPTIONAL | EXT_LEN,
            MP_REACH,
            struct.pack("!HBB", 2, 1, 32)
            + ipaddress.IPv6Address("2001:db8::1").packed
            + ipaddress.IPv6Address("fe80::1:2ff:fe03:405").packed
            + b"\x00"
            + prefixes("2001:db8:1::/48", "2001:db8:ff00::/40", "2001:db8:0:1::1/128"),
        )
        + attr(WELL_KNOWN, ORIGIN, b"\x00")
        + as_path((2, [65002]))
        + attr(WELL_KNOWN, LOCAL_PREF, struct.pack("!I", 100))
    ),
)

# 4. IPv6 MP_UNREACH UPDATE.
UPDATE_V6_UNREACH = update(
    attrs=attr(OPTIONAL, MP_UNREACH, struct.pack("!HB", 2, 1) + prefixes("2001:db8:1::/48", "::/0", "2001:db8:0:1::1/128")),
)

# 5. IPv4 End-of-RIB: an empty UPDATE.
UPDATE_V4_EOR = update()

STREAM = KEEPALIVE + UPDATE_V4_FULL + UPDATE_V4_WITHDRAW + KEEPALIVE + UPDATE_V6_REACH + UPDATE_V6_UNREACH + UPDATE_V4_EOR
