"""RFC 7606 checks of individual path attributes (RFC 4271 6.3 as revised).

Each check looks at one attribute's flags and value and returns None if it is fine, or
an :class:`AttrError` with the disposition RFC 7606 assigns to that attribute. Checks of
the whole UPDATE (missing mandatory attributes, duplicates, length overruns, MP_REACH)
live in :mod:`pyspeaker.wire.attrs` and :mod:`pyspeaker.wire.update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from . import constants as c
from .context import Context
from .errors import AttrError, Disposition
from .values import decode_as_path

TAW: Final = Disposition.TREAT_AS_WITHDRAW
DISCARD: Final = Disposition.ATTRIBUTE_DISCARD

# Subcodes RFC 4271 would have sent, kept for logs and for peers that want them.
_MALFORMED_LIST = 1
_FLAGS = 4
_LENGTH = 5
_ORIGIN = 6
_NEXT_HOP = 8
_OPTIONAL = 9
_AS_PATH = 11

# The disposition of each known attribute when it is malformed (RFC 7606 section 7,
# RFC 6793 for AS4_*, RFC 8092 for LARGE_COMMUNITY).
ON_ERROR: Final = {
    c.ORIGIN: TAW,
    c.AS_PATH: TAW,
    c.NEXT_HOP: TAW,
    c.MULTI_EXIT_DISC: TAW,
    c.LOCAL_PREF: TAW,
    c.ATOMIC_AGGREGATE: DISCARD,
    c.AGGREGATOR: DISCARD,
    c.COMMUNITIES: TAW,
    c.ORIGINATOR_ID: TAW,
    c.CLUSTER_LIST: TAW,
    c.EXTENDED_COMMUNITIES: TAW,
    c.AS4_PATH: DISCARD,
    c.AS4_AGGREGATOR: DISCARD,
    c.LARGE_COMMUNITY: TAW,
}

Check = Callable[[bytes, Context], AttrError | None]


def _err(code: int, subcode: int, reason: str) -> AttrError:
    return AttrError(ON_ERROR[code], code, reason, subcode)


def _fixed(code: int, size: int) -> Check:
    name = c.ATTR_NAMES[code]

    def check(value: bytes, ctx: Context) -> AttrError | None:
        if len(value) != size:
            return _err(code, _LENGTH, f"{name} length {len(value)}, expected {size}")
        return None

    return check


def _multiple(code: int, size: int) -> Check:
    name = c.ATTR_NAMES[code]

    def check(value: bytes, ctx: Context) -> AttrError | None:
        if not value or len(value) % size:
            return _err(code, _LENGTH, f"{name} length {len(value)} is not a non-zero multiple of {size}")
        return None

    return check


def _origin(value: bytes, ctx: Context) -> AttrError | None:
    if len(value) != 1:
        return _err(c.ORIGIN, _LENGTH, f"origin length {len(value)}, expected 1")
    if value[0] > c.ORIGIN_INCOMPLETE:
        return _err(c.ORIGIN, _ORIGIN, f"undefined origin value {value[0]}")
    return None


def _as_path(value: bytes, ctx: Context) -> AttrError | None:
    path = decode_as_path(value, 4 if ctx.asn4 else 2)
    if path is None:
        return _err(c.AS_PATH, _AS_PATH, "malformed AS_PATH (bad segment type, empty segment or overrun)")
    if not ctx.ibgp and any(t in (c.AS_CONFED_SEQUENCE, c.AS_CONFED_SET) for t, _ in path.segments):
        return _err(c.AS_PATH, _AS_PATH, "confederation segment in AS_PATH from an external peer")
    return None


def _next_hop(value: bytes, ctx: Context) -> AttrError | None:
    if len(value) != 4:
        return _err(c.NEXT_HOP, _LENGTH, f"next_hop length {len(value)}, expected 4")
    first = value[0]
    if first == 0 or first >= 224:
        return _err(c.NEXT_HOP, _NEXT_HOP, f"next hop {'.'.join(map(str, value))} is not a unicast address")
    return None


def _local_pref(value: bytes, ctx: Context) -> AttrError | None:
    if not ctx.ibgp:
        return AttrError(DISCARD, c.LOCAL_PREF, "LOCAL_PREF from an external peer is ignored")
    return _fixed(c.LOCAL_PREF, 4)(value, ctx)


def _ibgp_only(code: int, inner: Check) -> Check:
    name = c.ATTR_NAMES[code]

    def check(value: bytes, ctx: Context) -> AttrError | None:
        if not ctx.ibgp:
            return AttrError(DISCARD, code, f"{name} from an external peer is ignored")
        return inner(value, ctx)

    return check


def _aggregator(value: bytes, ctx: Context) -> AttrError | None:
    size = 8 if ctx.asn4 else 6
    if len(value) != size:
        return _err(c.AGGREGATOR, _LENGTH, f"aggregator length {len(value)}, expected {size}")
    return None


def _as4_path(value: bytes, ctx: Context) -> AttrError | None:
    if ctx.asn4:
        return AttrError(DISCARD, c.AS4_PATH, "AS4_PATH on a 4-octet AS session is ignored (RFC 6793)")
    path = decode_as_path(value, 4)
    if path is None:
        return _err(c.AS4_PATH, _OPTIONAL, "malformed AS4_PATH")
    if any(t in (c.AS_CONFED_SEQUENCE, c.AS_CONFED_SET) for t, _ in path.segments):
        return _err(c.AS4_PATH, _OPTIONAL, "confederation segment in AS4_PATH")
    return None


def _as4_aggregator(value: bytes, ctx: Context) -> AttrError | None:
    if ctx.asn4:
        return AttrError(DISCARD, c.AS4_AGGREGATOR, "AS4_AGGREGATOR on a 4-octet AS session is ignored")
    if len(value) != 8:
        return _err(c.AS4_AGGREGATOR, _LENGTH, f"as4_aggregator length {len(value)}, expected 8")
    return None


CHECKS: Final[dict[int, Check]] = {
    c.ORIGIN: _origin,
    c.AS_PATH: _as_path,
    c.NEXT_HOP: _next_hop,
    c.MULTI_EXIT_DISC: _fixed(c.MULTI_EXIT_DISC, 4),
    c.LOCAL_PREF: _local_pref,
    c.ATOMIC_AGGREGATE: _fixed(c.ATOMIC_AGGREGATE, 0),
    c.AGGREGATOR: _aggregator,
    c.COMMUNITIES: _multiple(c.COMMUNITIES, 4),
    c.ORIGINATOR_ID: _ibgp_only(c.ORIGINATOR_ID, _fixed(c.ORIGINATOR_ID, 4)),
    c.CLUSTER_LIST: _ibgp_only(c.CLUSTER_LIST, _multiple(c.CLUSTER_LIST, 4)),
    c.EXTENDED_COMMUNITIES: _multiple(c.EXTENDED_COMMUNITIES, 8),
    c.AS4_PATH: _as4_path,
    c.AS4_AGGREGATOR: _as4_aggregator,
    c.LARGE_COMMUNITY: _multiple(c.LARGE_COMMUNITY, 12),
}


def check_attribute(flags: int, code: int, value: bytes, ctx: Context) -> AttrError | None:
    """Check one known attribute (not MP_REACH/MP_UNREACH). Unknown codes return None."""
    check = CHECKS.get(code)
    if check is None:
        return None
    expected = c.EXPECTED_FLAGS[code]
    if flags & (c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE) != expected:
        # RFC 7606 3.c: a flags conflict is handled as that attribute's length error
        return AttrError(
            ON_ERROR[code], code, f"{c.ATTR_NAMES[code]} flags 0x{flags:02x}, expected 0x{expected:02x}", _FLAGS
        )
    if flags & c.FLAG_PARTIAL and not expected & c.FLAG_OPTIONAL:
        return AttrError(ON_ERROR[code], code, f"partial bit set on well-known {c.ATTR_NAMES[code]}", _FLAGS)
    return check(value, ctx)


def overrun(reason: str) -> AttrError:
    """RFC 7606 section 4: attribute lengths disagree with the Total Attribute Length."""
    return AttrError(TAW, 0, reason, _MALFORMED_LIST)


# -- the fast path: a per-session table of cheap checks -----------------------------------
# A valid attribute passes these checks without a function call; anything that does not
# pass goes to check_attribute(), which builds the precise AttrError.
EXACT = 0
MULTIPLE = 1
ORIGIN_VALUE = 2
NEXT_HOP_VALUE = 3
AS_PATH_SEGMENTS = 4

QuickTable = dict[int, tuple[int, int, int]]


def quick_table(ctx: Context) -> QuickTable:
    """code -> (expected optional/transitive flags, kind, parameter) for this session.
    Attributes whose handling depends on the session in a way these kinds cannot express
    (LOCAL_PREF from eBGP, AS4_* on a 4-octet session) are left out: they take the slow path."""
    table: QuickTable = {
        c.ORIGIN: (c.FLAG_TRANSITIVE, ORIGIN_VALUE, 1),
        c.AS_PATH: (c.FLAG_TRANSITIVE, AS_PATH_SEGMENTS, 4 if ctx.asn4 else 2),
        c.NEXT_HOP: (c.FLAG_TRANSITIVE, NEXT_HOP_VALUE, 4),
        c.MULTI_EXIT_DISC: (c.FLAG_OPTIONAL, EXACT, 4),
        c.ATOMIC_AGGREGATE: (c.FLAG_TRANSITIVE, EXACT, 0),
        c.AGGREGATOR: (c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE, EXACT, 8 if ctx.asn4 else 6),
        c.COMMUNITIES: (c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE, MULTIPLE, 4),
        c.EXTENDED_COMMUNITIES: (c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE, MULTIPLE, 8),
        c.LARGE_COMMUNITY: (c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE, MULTIPLE, 12),
    }
    if ctx.ibgp:
        table[c.LOCAL_PREF] = (c.FLAG_TRANSITIVE, EXACT, 4)
        table[c.ORIGINATOR_ID] = (c.FLAG_OPTIONAL, EXACT, 4)
        table[c.CLUSTER_LIST] = (c.FLAG_OPTIONAL, MULTIPLE, 4)
    return table


def quick_ok(rule: tuple[int, int, int], flags: int, block: bytes, start: int, end: int) -> bool:
    """True if the attribute at block[start:end] passes its cheap check (see quick_table)."""
    expected, kind, param = rule
    if flags & 0xC0 != expected or (flags & c.FLAG_PARTIAL and not expected & c.FLAG_OPTIONAL):
        return False
    n = end - start
    if kind == EXACT:
        return n == param
    if kind == MULTIPLE:
        return n > 0 and n % param == 0
    if kind == ORIGIN_VALUE:
        return n == 1 and block[start] <= c.ORIGIN_INCOMPLETE
    if kind == NEXT_HOP_VALUE:
        return n == 4 and 0 < block[start] < 224
    # AS_PATH: segments of known type, non-empty, exactly filling the value; no
    # confederation segments checked here (the slow path handles eBGP sessions' rule)
    i = start
    while i < end:
        if i + 2 > end:
            return False
        seg_type = block[i]
        count = block[i + 1]
        if count == 0 or not c.AS_SET <= seg_type <= c.AS_SEQUENCE:
            return False
        i += 2 + count * param
    return i == end
