"""Building UPDATEs: as many prefixes per message as fit, attribute bytes re-used.

Prefixes arrive in wire form, attributes as the bytes of an interned set, so packing is
arithmetic on lengths and ``b"".join``. The cut points are found with C-level helpers
(``itertools.accumulate``, ``bisect``), not a Python loop per prefix.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from . import constants as c
from .attrs import attribute
from .family import IPV4_UNICAST, Family

_UPDATE_HEADER = 23  # 19 + withdrawn length (2) + attribute length (2)


def _chunks(prefixes: Sequence[bytes], room: int) -> list[Sequence[bytes]]:
    """Split ``prefixes`` into runs whose total length is at most ``room`` octets."""
    if room <= 0:
        raise ValueError("attributes leave no room for prefixes in one message")
    lens = list(accumulate(map(len, prefixes)))
    if not lens:
        return []
    if lens[-1] <= room:
        return [prefixes]
    out = []
    start = 0
    base = 0
    n = len(lens)
    while start < n:
        stop = bisect_right(lens, base + room, start)
        if stop == start:
            raise ValueError("a single prefix does not fit in one message")
        out.append(prefixes[start:stop])
        base = lens[stop - 1]
        start = stop
    return out


def announce_ipv4(attrs: bytes, prefixes: Sequence[bytes], max_len: int = c.MAX_MESSAGE_LEN) -> list[bytes]:
    """UPDATEs announcing IPv4 unicast prefixes in the NLRI field with one attribute set."""
    head = c.MARKER
    alen = len(attrs).to_bytes(2, "big")
    fixed = _UPDATE_HEADER + len(attrs)
    out = []
    for chunk in _chunks(prefixes, max_len - fixed):
        body = b"".join(chunk)
        out.append(head + (fixed + len(body)).to_bytes(2, "big") + b"\x02\x00\x00" + alen + attrs + body)
    return out


def withdraw_ipv4(prefixes: Sequence[bytes], max_len: int = c.MAX_MESSAGE_LEN) -> list[bytes]:
    out = []
    for chunk in _chunks(prefixes, max_len - _UPDATE_HEADER):
        body = b"".join(chunk)
        n = len(body)
        out.append(c.MARKER + (n + _UPDATE_HEADER).to_bytes(2, "big") + b"\x02" + n.to_bytes(2, "big") + body + b"\0\0")
    return out


def _mp_header_len(value_len: int) -> int:
    return 4 if value_len > 255 else 3


def announce_mp(
    fam: Family, next_hop: bytes, attrs: bytes, prefixes: Sequence[bytes], max_len: int = c.MAX_MESSAGE_LEN
) -> list[bytes]:
    """UPDATEs announcing prefixes of a family in MP_REACH_NLRI (placed first, as is usual)."""
    fixed_value = fam.afi.to_bytes(2, "big") + bytes((fam.safi, len(next_hop))) + next_hop + b"\0"
    room = max_len - _UPDATE_HEADER - len(attrs) - 4 - len(fixed_value)
    out = []
    for chunk in _chunks(prefixes, room):
        value = fixed_value + b"".join(chunk)
        block = attribute(c.FLAG_OPTIONAL, c.MP_REACH_NLRI, value) + attrs
        out.append(_attributes_only(block))
    return out


def _attributes_only(block: bytes) -> bytes:
    """An UPDATE with no withdrawn routes and no NLRI field: only this attribute block."""
    return (
        c.MARKER
        + (_UPDATE_HEADER + len(block)).to_bytes(2, "big")
        + b"\x02\x00\x00"
        + len(block).to_bytes(2, "big")
        + block
    )


def withdraw_mp(fam: Family, prefixes: Sequence[bytes], max_len: int = c.MAX_MESSAGE_LEN) -> list[bytes]:
    head = fam.afi.to_bytes(2, "big") + bytes((fam.safi,))
    out = []
    for chunk in _chunks(prefixes, max_len - _UPDATE_HEADER - 4 - 3):
        block = attribute(c.FLAG_OPTIONAL, c.MP_UNREACH_NLRI, head + b"".join(chunk))
        out.append(_attributes_only(block))
    return out


def announce(
    fam: Family, attrs: bytes, prefixes: Sequence[bytes], next_hop: bytes = b"", max_len: int = c.MAX_MESSAGE_LEN
) -> list[bytes]:
    """Announce prefixes of any family: IPv4 unicast with a 4-octet next hop goes in the NLRI
    field (``attrs`` must then hold NEXT_HOP); everything else in MP_REACH_NLRI."""
    if fam == IPV4_UNICAST and not next_hop:
        return announce_ipv4(attrs, prefixes, max_len)
    return announce_mp(fam, next_hop, attrs, prefixes, max_len)


def withdraw(fam: Family, prefixes: Sequence[bytes], max_len: int = c.MAX_MESSAGE_LEN) -> list[bytes]:
    if fam == IPV4_UNICAST:
        return withdraw_ipv4(prefixes, max_len)
    return withdraw_mp(fam, prefixes, max_len)


def end_of_rib(fam: Family) -> bytes:
    """End-of-RIB (RFC 4724 2): an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI
    for every other family."""
    if fam == IPV4_UNICAST:
        return c.MARKER + b"\x00\x17\x02\x00\x00\x00\x00"
    return _attributes_only(
        attribute(c.FLAG_OPTIONAL, c.MP_UNREACH_NLRI, fam.afi.to_bytes(2, "big") + bytes((fam.safi,)))
    )
