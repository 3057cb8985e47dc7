"""RFC 7606 checks of individual path attributes (RFC 4271 6.3 as revised).

Each check looks at one attribute's flags and value and returns None if it is fine, or
an :class:`AttrError` with the disposition RFC 7606 assigns to that attribute. Checks of
the whole UPDATE (missing mandatory attributes, duplicates, length overruns, MP_REACH)
live in :mod:`pyspeaker.wire.attrs` and :mod:`pyspeaker.wire.update`.
"""

from __future__ import annotations

import functools
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


# -- the fast path ---------------------------------------------------------------------------
# Most attribute blocks are entirely valid, with known attributes only. fast_scan() proves
# that in one tight loop, checking each attribute against a per-session table; a block it
# cannot vouch for goes to the full parse, which finds and classifies every problem.
EXACT = 0
MULTIPLE = 1
ORIGIN_VALUE = 2
NEXT_HOP_VALUE = 3
AS_PATH_SEGMENTS = 4

# Bits of AttrSet.mandatory: which well-known mandatory attributes a set holds.
HAS_ORIGIN = 1
HAS_AS_PATH = 2
HAS_NEXT_HOP = 4
MANDATORY_BIT: Final = {c.ORIGIN: HAS_ORIGIN, c.AS_PATH: HAS_AS_PATH, c.NEXT_HOP: HAS_NEXT_HOP}

FastRules = dict[int, tuple[int, int, int, int]]


def _allowed_flags(expected: int) -> int:
    """A 256-bit mask of the flag octets a valid attribute with these optional/transitive
    bits may carry (Partial only on optional attributes; Extended Length and the unused
    low bits free)."""
    mask = 0
    for flags in range(256):
        if flags & 0xC0 == expected and (expected & c.FLAG_OPTIONAL or not flags & c.FLAG_PARTIAL):
            mask |= 1 << flags
    return mask


# the four possible masks, computed once at import (a constant table, not a cache)
_ALLOWED: Final = {expected: _allowed_flags(expected) for expected in (0x00, 0x40, 0x80, 0xC0)}


def fast_rules(ctx: Context) -> FastRules:
    """code -> (allowed flags mask, kind, parameter, mandatory bit) for this session.
    Attributes whose handling depends on the session beyond that (everything on a 2-octet
    AS session, LOCAL_PREF and RR attributes from eBGP, AS4_*) are left out: a block that
    holds one takes the full parse. One table per kind of session, shared: read only."""
    return _fast_rules(ctx.asn4, ctx.ibgp)


@functools.cache
def _fast_rules(asn4: bool, ibgp: bool) -> FastRules:
    if not asn4:
        return {}
    rules = {
        c.ORIGIN: (ORIGIN_VALUE, 1),
        c.AS_PATH: (AS_PATH_SEGMENTS, 4),
        c.NEXT_HOP: (NEXT_HOP_VALUE, 4),
        c.MULTI_EXIT_DISC: (EXACT, 4),
        c.ATOMIC_AGGREGATE: (EXACT, 0),
        c.AGGREGATOR: (EXACT, 8),
        c.COMMUNITIES: (MULTIPLE, 4),
        c.EXTENDED_COMMUNITIES: (MULTIPLE, 8),
        c.LARGE_COMMUNITY: (MULTIPLE, 12),
    }
    if ibgp:
        rules[c.LOCAL_PREF] = (EXACT, 4)
        rules[c.ORIGINATOR_ID] = (EXACT, 4)
        rules[c.CLUSTER_LIST] = (MULTIPLE, 4)
    return {
        code: (_ALLOWED[c.EXPECTED_FLAGS[code] & 0xC0], kind, param, MANDATORY_BIT.get(code, 0))
        for code, (kind, param) in rules.items()
    }


def fast_scan(block: bytes, rules: FastRules) -> int | None:
    """The mandatory bits of a block whose every attribute is known, valid and unique;
    None if the block needs the full parse (an error, an MP or unknown attribute...)."""
    i = 0
    n = len(block)
    seen = 0
    mandatory = 0
    get = rules.get
    while i < n:
        if n - i < 4 and (n - i < 3 or block[i] & c.FLAG_EXTENDED):
            return None
        flags = block[i]
        code = block[i + 1]
        rule = get(code)
        if rule is None:
            return None
        if flags & c.FLAG_EXTENDED:
            start = i + 4
            end = start + ((block[i + 2] << 8) | block[i + 3])
        else:
            start = i + 3
            end = start + block[i + 2]
        if end > n:
            return None
        bit = 1 << code
        if seen & bit:
            return None
        seen |= bit
        allowed, kind, param, mbit = rule
        if not (allowed >> flags) & 1:
            return None
        length = end - start
        if kind == EXACT:
            if length != param:
                return None
        elif kind == MULTIPLE:
            if not length or length % param:
                return None
        elif kind == ORIGIN_VALUE:
            if length != 1 or block[start] > c.ORIGIN_INCOMPLETE:
                return None
        elif kind == NEXT_HOP_VALUE:
            if length != 4 or not 0 < block[start] < 224:
                return None
        else:
            j = start
            while j < end:
                count = block[j + 1] if j + 1 < end else 0
                if count == 0 or not c.AS_SET <= block[j] <= c.AS_SEQUENCE:
                    return None
                j += 2 + count * param
            if j != end:
                return None
        mandatory |= mbit
        i = end
    return mandatory
