"""Prefixes in wire form: one length octet, then the significant octets.

``b"\\x18\\x0a\\x00\\x01"`` is 10.0.1.0/24. With ADD-PATH the 4-octet path identifier comes
first, so the key still names exactly one path. Splitting an NLRI field is slicing; text
and :mod:`ipaddress` objects are made only at the edges.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

from .errors import WireError

_BAD: Final = 1 << 20  # an impossible byte count: makes the split loop overrun and fail


def _table(max_bits: int) -> tuple[int, ...]:
    return tuple((bits + 7) >> 3 if bits <= max_bits else _BAD for bits in range(256))


NBYTES_V4: Final = _table(32)
NBYTES_V6: Final = _table(128)
TABLES: Final = {32: NBYTES_V4, 128: NBYTES_V6}


class PrefixError(WireError):
    """An NLRI field does not split into whole, valid prefixes."""


def split(data: bytes, start: int, end: int, table: tuple[int, ...]) -> list[bytes]:
    """Split ``data[start:end]`` into wire-form prefixes."""
    out: list[bytes] = []
    append = out.append
    i = start
    while i < end:
        j = i + 1 + table[data[i]]
        append(data[i:j])
        i = j
    if i != end:
        raise PrefixError(f"NLRI does not split into prefixes (at offset {start})")
    return out


def split_addpath(data: bytes, start: int, end: int, table: tuple[int, ...]) -> list[bytes]:
    """Split an ADD-PATH NLRI field (RFC 7911): each prefix keeps its path identifier."""
    out: list[bytes] = []
    append = out.append
    i = start
    while i < end:
        if i + 5 > end:
            raise PrefixError("ADD-PATH NLRI truncated")
        j = i + 5 + table[data[i + 4]]
        append(data[i:j])
        i = j
    if i != end:
        raise PrefixError(f"ADD-PATH NLRI does not split into prefixes (at offset {start})")
    return out


def to_text(prefix: bytes, address_len: int, addpath: bool = False) -> str:
    """Text form, e.g. ``10.0.1.0/24``; with ADD-PATH, ``10.0.1.0/24 path 7``."""
    if addpath:
        path_id = int.from_bytes(prefix[:4], "big")
        return f"{to_text(prefix[4:], address_len)} path {path_id}"
    if address_len == 4:
        b = prefix + b"\0\0\0\0"
        return f"{b[1]}.{b[2]}.{b[3]}.{b[4]}/{b[0]}"
    return socket.inet_ntop(socket.AF_INET6, prefix[1:].ljust(16, b"\0")) + "/" + str(prefix[0])


_SLASH: Final = tuple(f"/{n}" for n in range(256))
# Text of an IPv4 prefix from tables indexed by octet: "10." for 10, "0/24" for the fourth
# octet and length of a /17../24 (four octets on the wire, the last address octet 0).
_DOT: Final = tuple(f"{n}." for n in range(256))
_OCTET: Final = tuple(str(n) for n in range(256))
_ZERO_SLASH: Final = tuple(f"0/{n}" for n in range(256))
_ZEROS4: Final = b"\0\0\0\0"
# Text of an IPv6 group from its two octets, as inet_ntop writes it (lower-case hex, no
# leading zeros): _HEX_HIGH[high] + _HEX_LOW[high][low] ("" + "db" for 0x00db, "20" + "01"
# for 0x2001, "" + "0" for 0).
_HEX_HIGH: Final = tuple(f"{n:x}" if n else "" for n in range(256))
_HEX_LOW: Final = tuple(tuple(f"{n:02x}" if high else f"{n:x}" for n in range(256)) for high in range(256))
_ntop = socket.inet_ntop
_AF_INET6: Final = socket.AF_INET6


def texts(prefixes: list[bytes], address_len: int) -> list[str]:
    """Text forms of many prefixes of one family (no ADD-PATH), without a call per prefix.
    (A plain loop on module tables: a list comprehension's own frame costs more than the
    few prefixes of an UPDATE.)"""
    out: list[str] = []
    if address_len == 4:
        for p in prefixes:
            if len(p) == 4:
                out.append(f"{_DOT[p[1]]}{_DOT[p[2]]}{_DOT[p[3]]}{_ZERO_SLASH[p[0]]}")
            else:
                q = p + _ZEROS4
                out.append(f"{_DOT[q[1]]}{_DOT[q[2]]}{_DOT[q[3]]}{_OCTET[q[4]]}{_SLASH[q[0]]}")
        return out
    for p in prefixes:
        out.append(_ntop(_AF_INET6, p[1:].ljust(16, b"\0")) + _SLASH[p[0]])
    return out


def to_network(prefix: bytes, address_len: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An :mod:`ipaddress` network (host bits beyond the length are cleared)."""
    bits = prefix[0]
    raw = prefix[1:].ljust(address_len, b"\0")
    if address_len == 4:
        return ipaddress.IPv4Network((raw, bits), strict=False)
    return ipaddress.IPv6Network((raw, bits), strict=False)


def from_network(net: ipaddress.IPv4Network | ipaddress.IPv6Network | str, path_id: int | None = None) -> bytes:
    """Wire form of a network given as an object or text."""
    if isinstance(net, str):
        net = ipaddress.ip_network(net, strict=False)
    bits = net.prefixlen
    raw = net.network_address.packed[: (bits + 7) >> 3]
    wire = bytes((bits,)) + raw
    if path_id is not None:
        return path_id.to_bytes(4, "big") + wire
    return wire


def parse(text: str, path_id: int | None = None) -> bytes:
    """Wire form of a prefix given as text; raises ValueError naming the text if it is not one."""
    try:
        return from_network(ipaddress.ip_network(text, strict=False), path_id)
    except ValueError as exc:
        raise ValueError(f"not a prefix: {text!r}") from exc
