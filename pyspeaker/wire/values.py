"""Typed values of path attributes, and their encoding and decoding.

These are the readable forms. The lazy decode path never builds them: an :class:`AttrSet`
keeps the wire bytes and its values are decoded only when something asks for them (once per
distinct attribute per session, see :mod:`pyspeaker.wire.attrcache`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from struct import Struct, unpack_from
from typing import Any, Final

from . import constants as c
from .constants import AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET, AS_TRANS
from .errors import EncodeError

IPv4 = ipaddress.IPv4Address

_SEGMENT_NAMES = {
    AS_SET: "set",
    AS_SEQUENCE: "sequence",
    AS_CONFED_SEQUENCE: "confed-sequence",
    AS_CONFED_SET: "confed-set",
}


# Precomputed big-endian unpackers of 0..255 32-bit words (an f-string format per call
# costs as much as the unpacking itself).
WORDS: Final = tuple(Struct(f">{n}I") for n in range(256))
_HALVES: Final = tuple(Struct(f">{n}H") for n in range(256))


Segments = tuple[tuple[int, tuple[int, ...]], ...]


class AsPath:
    """An AS_PATH as segments of (type, ASNs), always with 4-octet ASNs. Immutable; equal
    paths compare and hash equal.

    The usual path, a single AS_SEQUENCE, keeps only its tuple of ASNs and makes its
    ``segments`` when asked. Nearly every distinct attribute set has a path of its own, and a
    decoder keeps its sets' values: held as ``((AS_SEQUENCE, asns),)``, the two outer tuples
    reach the collector's oldest generation still tracked (it untracks a nested tuple one
    level per collection) and make it run full collections twice as often."""

    __slots__ = ("_segs", "_seq")

    _seq: tuple[int, ...] | None  # the ASNs of a single AS_SEQUENCE; None: see _segs
    _segs: Segments  # the segments of any other path (() when _seq holds it)

    def __init__(self, segments: Segments = ()) -> None:
        if len(segments) == 1 and segments[0][0] == AS_SEQUENCE:
            _set_seq(self, segments[0][1])
            _set_segs(self, ())
        else:
            _set_seq(self, None)
            _set_segs(self, segments)

    @property
    def segments(self) -> Segments:
        seq = self._seq
        return self._segs if seq is None else ((AS_SEQUENCE, seq),)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AsPath):
            return NotImplemented
        return self._seq == other._seq and self._segs == other._segs

    def __hash__(self) -> int:
        return hash((self._seq, self._segs))

    def __repr__(self) -> str:
        return f"AsPath(segments={self.segments!r})"

    def __reduce__(self) -> tuple[type[AsPath], tuple[Segments]]:
        return AsPath, (self.segments,)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"AsPath is immutable: cannot set {name!r}")

    @classmethod
    def sequence(cls, *asns: int) -> AsPath:
        return cls(((AS_SEQUENCE, tuple(asns)),)) if asns else cls()

    @property
    def length(self) -> int:
        """Path length for best-path selection (RFC 4271 9.1.2.2; RFC 5065: confed segments count 0)."""
        if self._seq is not None:
            return len(self._seq)
        n = 0
        for seg_type, asns in self._segs:
            if seg_type == AS_SEQUENCE:
                n += len(asns)
            elif seg_type == AS_SET:
                n += 1
        return n

    @property
    def first_as(self) -> int | None:
        """The neighbour AS: first ASN of a leading AS_SEQUENCE."""
        if self._seq is not None:
            return self._seq[0] if self._seq else None
        for seg_type, asns in self.segments:
            if seg_type in (AS_CONFED_SEQUENCE, AS_CONFED_SET):
                continue
            return asns[0] if seg_type == AS_SEQUENCE and asns else None
        return None

    @property
    def origin_as(self) -> int | None:
        if self._seq is not None:
            return self._seq[-1] if self._seq else None
        segments = self._segs
        if segments and segments[-1][0] == AS_SEQUENCE and segments[-1][1]:
            return segments[-1][1][-1]
        return None

    def asns(self) -> list[int]:
        if self._seq is not None:
            return list(self._seq)
        return [a for _, asns in self._segs for a in asns]

    def contains(self, asn: int) -> bool:
        if self._seq is not None:
            return asn in self._seq
        return any(asn in asns for _, asns in self._segs)

    def prepend(self, asn: int, count: int = 1) -> AsPath:
        segments = self.segments
        if segments and segments[0][0] == AS_SEQUENCE and len(segments[0][1]) + count <= 255:
            first = ((AS_SEQUENCE, (asn,) * count + segments[0][1]),)
            return AsPath(first + segments[1:])
        return AsPath(((AS_SEQUENCE, (asn,) * count), *segments))

    def to_json(self) -> list[list[object]]:
        return [[_SEGMENT_NAMES.get(t, str(t)), list(a)] for t, a in self.segments]

    def __str__(self) -> str:
        parts = []
        for seg_type, asns in self.segments:
            text = " ".join(map(str, asns))
            if seg_type == AS_SEQUENCE:
                parts.append(text)
            elif seg_type == AS_SET:
                parts.append("{" + text + "}")
            elif seg_type == AS_CONFED_SEQUENCE:
                parts.append("(" + text + ")")
            else:
                parts.append("[" + text + "]")
        return " ".join(parts)


# The slots, set directly: __setattr__ refuses, and a decoded path is made without __init__.
_set_seq: Final[Callable[[AsPath, tuple[int, ...] | None], None]] = vars(AsPath)["_seq"].__set__
_set_segs: Final[Callable[[AsPath, Segments], None]] = vars(AsPath)["_segs"].__set__


@dataclass(frozen=True, slots=True)
class Aggregator:
    asn: int
    address: ipaddress.IPv4Address


def decode_as_path(value: bytes, asn_len: int) -> AsPath | None:
    """Segments of an AS_PATH/AS4_PATH; None if malformed (RFC 7606 5.x: bad segment type,
    zero-length segment, or overrun)."""
    segs = []
    i = 0
    end = len(value)
    while i < end:
        if i + 2 > end:
            return None
        seg_type = value[i]
        count = value[i + 1]
        if seg_type not in _SEGMENT_NAMES or count == 0:
            return None
        j = i + 2 + count * asn_len
        if j > end:
            return None
        asns = (WORDS if asn_len == 4 else _HALVES)[count].unpack_from(value, i + 2)
        segs.append((seg_type, asns))
        i = j
    return AsPath(tuple(segs))


def words(value: bytes, start: int, count: int) -> tuple[int, ...]:
    """``count`` big-endian 32-bit words of ``value`` from ``start``."""
    if count < 256:
        out: tuple[int, ...] = WORDS[count].unpack_from(value, start)
        return out
    return unpack_from(f">{count}I", value, start)


EMPTY_PATH: Final = AsPath()

_new_object = object.__new__


def sequence_path(asns: tuple[int, ...]) -> AsPath:
    """``AsPath(((AS_SEQUENCE, asns),))`` (``asns`` not empty), made without a call to
    ``__init__``, which would cost as much again."""
    path: AsPath = _new_object(AsPath)
    _set_seq(path, asns)
    _set_segs(path, ())
    return path


def as_path_value(value: bytes) -> AsPath:
    """The AS_PATH of a 4-octet attribute value already checked (a malformed one reads as
    the empty path)."""
    n = len(value)
    if n > 2 and value[0] == AS_SEQUENCE and n == 2 + 4 * value[1]:
        # one AS_SEQUENCE, the usual case
        return sequence_path(WORDS[value[1]].unpack_from(value, 2))
    return decode_as_path(value, 4) or EMPTY_PATH


def _origin_value(value: bytes) -> int:
    return value[0]


def _u32_value(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _true(value: bytes) -> bool:
    return True


def _aggregator_value(value: bytes) -> Aggregator:
    return Aggregator(int.from_bytes(value[:4], "big"), IPv4(value[4:]))


def _communities_value(value: bytes) -> tuple[int, ...]:
    return words(value, 0, len(value) >> 2)


def _ids_value(value: bytes) -> tuple[ipaddress.IPv4Address, ...]:
    return tuple(IPv4(value[i : i + 4]) for i in range(0, len(value), 4))


def _ext_communities_value(value: bytes) -> tuple[bytes, ...]:
    return tuple(value[k : k + 8] for k in range(0, len(value), 8))


def _large_communities_value(value: bytes) -> tuple[tuple[int, int, int], ...]:
    each = iter(words(value, 0, len(value) >> 2))
    return tuple(zip(each, each, each, strict=True))


# type code -> (name in AttrSet.values(), decoder of a checked value in canonical
# 4-octet form). One table for every path that decodes attribute values.
VALUE_DECODERS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    c.ORIGIN: ("origin", _origin_value),
    c.AS_PATH: ("as_path", as_path_value),
    c.NEXT_HOP: ("next_hop", IPv4),
    c.MULTI_EXIT_DISC: ("med", _u32_value),
    c.LOCAL_PREF: ("local_pref", _u32_value),
    c.ATOMIC_AGGREGATE: ("atomic_aggregate", _true),
    c.AGGREGATOR: ("aggregator", _aggregator_value),
    c.COMMUNITIES: ("communities", _communities_value),
    c.ORIGINATOR_ID: ("originator_id", IPv4),
    c.CLUSTER_LIST: ("cluster_list", _ids_value),
    c.EXTENDED_COMMUNITIES: ("ext_communities", _ext_communities_value),
    c.LARGE_COMMUNITY: ("large_communities", _large_communities_value),
}


def encode_as_path(path: AsPath, asn_len: int = 4) -> bytes:
    out = bytearray()
    for seg_type, asns in path.segments:
        for k in range(0, len(asns), 255):
            chunk = asns[k : k + 255]
            out += bytes((seg_type, len(chunk)))
            for a in chunk:
                if asn_len == 2 and a > 0xFFFF:
                    a = AS_TRANS
                out += a.to_bytes(asn_len, "big")
    return bytes(out)


def merge_as4_path(as_path: AsPath, as4_path: AsPath) -> AsPath:
    """RFC 6793 4.2.3: rebuild the 4-octet path from a 2-octet session's AS_PATH + AS4_PATH."""

    def count(p: AsPath) -> int:
        return sum(len(a) if t == AS_SEQUENCE else 1 for t, a in p.segments if t in (AS_SEQUENCE, AS_SET))

    n_old, n_new = count(as_path), count(as4_path)
    if n_old < n_new:
        return as_path
    keep = n_old - n_new
    head: list[tuple[int, tuple[int, ...]]] = []
    for seg_type, asns in as_path.segments:
        if keep <= 0:
            if seg_type in (AS_CONFED_SEQUENCE, AS_CONFED_SET):
                head.append((seg_type, asns))
                continue
            break
        if seg_type == AS_SEQUENCE:
            take = asns[:keep]
            head.append((seg_type, take))
            keep -= len(take)
        elif seg_type == AS_SET:
            head.append((seg_type, asns))
            keep -= 1
        else:
            head.append((seg_type, asns))
    tail = as4_path.segments
    if head and tail and head[-1][0] == AS_SEQUENCE and tail[0][0] == AS_SEQUENCE:
        # one AS_SEQUENCE, not two back to back, as a 4-octet speaker would have sent it
        joined = head[-1][1] + tail[0][1]
        if len(joined) <= 255:
            head[-1] = (AS_SEQUENCE, joined)
            tail = tail[1:]
    return AsPath(tuple(head) + tail)


def community_text(value: int) -> str:
    return f"{value >> 16}:{value & 0xFFFF}"


def parse_community(text: str) -> int:
    names = {
        "no-export": 0xFFFFFF01,
        "no-advertise": 0xFFFFFF02,
        "no-export-subconfed": 0xFFFFFF03,
        "graceful-shutdown": 0xFFFF0000,
        "llgr-stale": 0xFFFF0006,
        "no-llgr": 0xFFFF0007,
    }
    if text in names:
        return names[text]
    hi, sep, lo = text.partition(":")
    if not sep or not hi.isdigit() or not lo.isdigit() or int(hi) > 0xFFFF or int(lo) > 0xFFFF:
        raise ValueError(f"not a community: {text!r} (expected ASN:VALUE, each 0..65535)")
    return (int(hi) << 16) | int(lo)


def large_community_text(value: tuple[int, int, int]) -> str:
    return f"{value[0]}:{value[1]}:{value[2]}"


def parse_large_community(text: str) -> tuple[int, int, int]:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= 0xFFFFFFFF for p in parts):
        raise ValueError(f"not a large community: {text!r} (expected A:B:C, each 0..4294967295)")
    return int(parts[0]), int(parts[1]), int(parts[2])


def ext_community_text(value: bytes) -> str:
    """Readable form of the common extended communities (RFC 4360), hex otherwise."""
    t, st = value[0], value[1]
    if st == 0x02 or st == 0x03:
        kind = "rt" if st == 0x02 else "soo"
        if t == 0x00:
            return f"{kind}:{int.from_bytes(value[2:4], 'big')}:{int.from_bytes(value[4:8], 'big')}"
        if t == 0x01:
            return f"{kind}:{ipaddress.IPv4Address(value[2:6])}:{int.from_bytes(value[6:8], 'big')}"
        if t == 0x02:
            return f"{kind}:{int.from_bytes(value[2:6], 'big')}:{int.from_bytes(value[6:8], 'big')}"
    return value.hex()


def u32(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise EncodeError(f"{what} {value} is not a 32-bit unsigned value")
    return value.to_bytes(4, "big")
