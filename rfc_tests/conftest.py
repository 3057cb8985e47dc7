"""Hand-built BGP messages for the RFC tests.

Everything here is written from the RFC layouts with ``struct`` and ``ipaddress`` only, so
that the tests never use the encoder they are testing to build their inputs.
"""

from __future__ import annotations

import ipaddress
import struct

MARKER = b"\xff" * 16

# message types (RFC 4271 4.1, RFC 2918)
T_OPEN, T_UPDATE, T_NOTIFICATION, T_KEEPALIVE, T_ROUTE_REFRESH = 1, 2, 3, 4, 5

# attribute flags (RFC 4271 4.3)
OPT, TRANS, PARTIAL, EXT = 0x80, 0x40, 0x20, 0x10
WK = TRANS  # well-known: not optional, transitive
OPT_TRANS = OPT | TRANS

KEEPALIVE = MARKER + b"\x00\x13\x04"


def message(msg_type: int, body: bytes = b"", length: int | None = None) -> bytes:
    """A whole message; ``length`` overrides the header's Length field."""
    n = 19 + len(body) if length is None else length
    return MARKER + struct.pack("!HB", n, msg_type) + body


# -- UPDATE ------------------------------------------------------------------------------
def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return message(T_UPDATE, body)


def attr(flags: int, code: int, value: bytes) -> bytes:
    """One path attribute; a 2-octet length when ``flags`` has the Extended Length bit."""
    if flags & EXT:
        return struct.pack("!BBH", flags, code, len(value)) + value
    assert len(value) <= 255
    return struct.pack("!BBB", flags, code, len(value)) + value


def v4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def v6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def pfx(text: str, path_id: int | None = None) -> bytes:
    """Wire form of a prefix: the length octet, then ceil(len/8) octets (RFC 4271 4.3)."""
    net = ipaddress.ip_network(text)
    raw = bytes((net.prefixlen,)) + net.network_address.packed[: (net.prefixlen + 7) // 8]
    return raw if path_id is None else struct.pack("!I", path_id) + raw


def asns(values: list[int] | tuple[int, ...], asn_len: int = 4) -> bytes:
    return b"".join(a.to_bytes(asn_len, "big") for a in values)


def segment(seg_type: int, values: list[int] | tuple[int, ...], asn_len: int = 4) -> bytes:
    return bytes((seg_type, len(values))) + asns(values, asn_len)


def origin(value: int = 0) -> bytes:
    return attr(WK, 1, bytes((value,)))


def as_path(*segments: bytes) -> bytes:
    return attr(WK, 2, b"".join(segments))


def seq_path(*values: int, asn_len: int = 4) -> bytes:
    return as_path(segment(2, values, asn_len)) if values else as_path()


def next_hop(text: str = "192.0.2.1") -> bytes:
    return attr(WK, 3, v4(text))


def med(value: int) -> bytes:
    return attr(OPT, 4, struct.pack("!I", value))


def local_pref(value: int) -> bytes:
    return attr(WK, 5, struct.pack("!I", value))


def communities(*values: int) -> bytes:
    return attr(OPT_TRANS, 8, b"".join(struct.pack("!I", v) for v in values))


# ORIGIN IGP, AS_PATH 65001, NEXT_HOP 192.0.2.1 (4-octet AS session)
BASE = origin(0) + seq_path(65001) + next_hop("192.0.2.1")
# the same without NEXT_HOP, for MP_REACH-only UPDATEs
BASE_MP = origin(0) + seq_path(65001)


def mp_reach(afi: int, safi: int, nh: bytes, nlri: bytes, flags: int = OPT, reserved: int = 0) -> bytes:
    return attr(flags, 14, struct.pack("!HBB", afi, safi, len(nh)) + nh + bytes((reserved,)) + nlri)


def mp_unreach(afi: int, safi: int, nlri: bytes, flags: int = OPT) -> bytes:
    return attr(flags, 15, struct.pack("!HB", afi, safi) + nlri)


# -- OPEN --------------------------------------------------------------------------------
def cap(code: int, value: bytes = b"") -> bytes:
    return bytes((code, len(value))) + value


def param(ptype: int, value: bytes) -> bytes:
    return bytes((ptype, len(value))) + value


def open_msg(
    my_as: int = 65001,
    hold: int = 90,
    bgp_id: str = "192.0.2.1",
    params: bytes = b"",
    version: int = 4,
    opt_len: int | None = None,
) -> bytes:
    n = len(params) if opt_len is None else opt_len
    body = struct.pack("!BHH", version, my_as, hold) + v4(bgp_id) + bytes((n,)) + params
    return message(T_OPEN, body)


def open_ext(my_as: int = 65001, hold: int = 90, bgp_id: str = "192.0.2.1", params: tuple[bytes, ...] = ()) -> bytes:
    """An OPEN in the RFC 9072 format: each parameter value gets a 2-octet length."""
    opt = b"".join(bytes((2,)) + struct.pack("!H", len(p)) + p for p in params)
    body = struct.pack("!BHH", 4, my_as, hold) + v4(bgp_id) + b"\xff\xff" + struct.pack("!H", len(opt)) + opt
    return message(T_OPEN, body)


def notification(code: int, subcode: int, data: bytes = b"") -> bytes:
    return message(T_NOTIFICATION, bytes((code, subcode)) + data)


def route_refresh(afi: int, safi: int, subtype: int = 0) -> bytes:
    return message(T_ROUTE_REFRESH, struct.pack("!HBB", afi, subtype, safi))
