"""Path attribute sets, interned by their bytes and parsed lazily.

An :class:`AttrSet` is the attribute block of an UPDATE without MP_REACH_NLRI and
MP_UNREACH_NLRI (those carry prefixes, not attributes). Real tables have far fewer distinct
sets than prefixes, so a decoder parses and validates each distinct block once and hands
out the same object every time the block recurs. Typed values are decoded on first access.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any

from . import constants as c
from .context import Context
from .errors import AttrError, Disposition, NotificationError
from .validate import (
    HAS_AS_PATH,
    HAS_NEXT_HOP,
    HAS_ORIGIN,
    MANDATORY_BIT,
    FastRules,
    check_attribute,
    fast_rules,
    fast_scan,
    overrun,
)
from .values import (
    EMPTY_PATH,
    VALUE_DECODERS,
    Aggregator,
    AsPath,
    community_text,
    decode_as_path,
    encode_as_path,
    ext_community_text,
    large_community_text,
    merge_as4_path,
    u32,
)

IPv4Address = ipaddress.IPv4Address

HAS_ORIGIN_AS_PATH = HAS_ORIGIN | HAS_AS_PATH
AFTER_OTHER_MP = 0x100  # in ParsedBlock.*_flags: stood right after the other MP attribute
HAS_ALL = HAS_ORIGIN | HAS_AS_PATH | HAS_NEXT_HOP


def attribute(flags: int, code: int, value: bytes) -> bytes:
    """One encoded attribute; the Extended Length bit is set when the value needs it."""
    n = len(value)
    if n > 255:
        return bytes((flags | c.FLAG_EXTENDED, code)) + n.to_bytes(2, "big") + value
    return bytes((flags & ~c.FLAG_EXTENDED, code, n)) + value


def walk(raw: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(flags, code, value start, value end) of each attribute of a well-formed block."""
    i = 0
    n = len(raw)
    while i < n:
        flags = raw[i]
        code = raw[i + 1]
        if flags & c.FLAG_EXTENDED:
            start = i + 4
            end = start + ((raw[i + 2] << 8) | raw[i + 3])
        else:
            start = i + 3
            end = start + raw[i + 2]
        yield flags, code, start, end
        i = end


class AttrSet:
    """An interned, immutable set of path attributes, held as wire bytes.

    ``raw`` is canonical: 4-octet ASNs, no MP_REACH/MP_UNREACH, attributes that RFC 7606
    discarded removed. ``mandatory`` has a bit per well-known mandatory attribute present.
    """

    __slots__ = ("_values", "mandatory", "raw")

    def __init__(self, raw: bytes, mandatory: int | None = None, values: dict[str, Any] | None = None) -> None:
        """``values``, when given, must be what :meth:`values` would decode from ``raw``
        (the decoder passes the values it decoded while checking the block)."""
        self.raw = raw
        if mandatory is None:
            mandatory = 0
            for _, code, _, _ in walk(raw):
                mandatory |= MANDATORY_BIT.get(code, 0)
        self.mandatory = mandatory
        self._values = values

    def __repr__(self) -> str:
        return f"AttrSet({self.to_json()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AttrSet) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    # -- raw access --------------------------------------------------------------------
    def items(self) -> Iterator[tuple[int, int, bytes]]:
        """(flags, code, value bytes) of each attribute, in wire order."""
        raw = self.raw
        for flags, code, start, end in walk(raw):
            yield flags, code, raw[start:end]

    def get_raw(self, code: int) -> bytes | None:
        raw = self.raw
        for _, cd, start, end in walk(raw):
            if cd == code:
                return raw[start:end]
        return None

    def __contains__(self, code: int) -> bool:
        return any(cd == code for _, cd, _, _ in walk(self.raw))

    # -- typed values, decoded on first access ------------------------------------------
    def values(self) -> dict[str, Any]:
        """Every attribute as a typed value, keyed by name (decoded once, then cached)."""
        if self._values is None:
            self._values = _decode_values(self)
        return self._values

    @property
    def origin(self) -> int | None:
        v: int | None = self.values().get("origin")
        return v

    @property
    def as_path(self) -> AsPath:
        v: AsPath = self.values().get("as_path", _EMPTY_PATH)
        return v

    @property
    def next_hop(self) -> IPv4Address | None:
        v: IPv4Address | None = self.values().get("next_hop")
        return v

    @property
    def med(self) -> int | None:
        v: int | None = self.values().get("med")
        return v

    @property
    def local_pref(self) -> int | None:
        v: int | None = self.values().get("local_pref")
        return v

    @property
    def atomic_aggregate(self) -> bool:
        return bool(self.values().get("atomic_aggregate", False))

    @property
    def aggregator(self) -> Aggregator | None:
        v: Aggregator | None = self.values().get("aggregator")
        return v

    @property
    def communities(self) -> tuple[int, ...]:
        v: tuple[int, ...] = self.values().get("communities", ())
        return v

    @property
    def originator_id(self) -> IPv4Address | None:
        v: IPv4Address | None = self.values().get("originator_id")
        return v

    @property
    def cluster_list(self) -> tuple[IPv4Address, ...]:
        v: tuple[IPv4Address, ...] = self.values().get("cluster_list", ())
        return v

    @property
    def ext_communities(self) -> tuple[bytes, ...]:
        v: tuple[bytes, ...] = self.values().get("ext_communities", ())
        return v

    @property
    def large_communities(self) -> tuple[tuple[int, int, int], ...]:
        v: tuple[tuple[int, int, int], ...] = self.values().get("large_communities", ())
        return v

    @property
    def unknown(self) -> tuple[tuple[int, int, bytes], ...]:
        """Attributes this codec does not know: (flags, code, value)."""
        v: tuple[tuple[int, int, bytes], ...] = self.values().get("unknown", ())
        return v

    def to_json(self) -> dict[str, Any]:
        """Readable values for logs, the CLI and ``pyspeaker decode``."""
        out: dict[str, Any] = {}
        for name, value in self.values().items():
            if name == "as_path" or name in ("next_hop", "originator_id"):
                out[name] = str(value)
            elif name == "aggregator":
                out[name] = f"{value.asn}:{value.address}"
            elif name == "communities":
                out[name] = [community_text(v) for v in value]
            elif name == "large_communities":
                out[name] = [large_community_text(v) for v in value]
            elif name == "ext_communities":
                out[name] = [ext_community_text(v) for v in value]
            elif name == "cluster_list":
                out[name] = [str(v) for v in value]
            elif name == "unknown":
                out[name] = [{"flags": f, "code": cd, "value": v.hex()} for f, cd, v in value]
            elif name == "origin":
                out[name] = ORIGIN_NAMES.get(value, value)
            else:
                out[name] = value
        return out

    # -- derived sets -------------------------------------------------------------------
    def replace(self, **changes: Any) -> AttrSet:
        """A new set with some typed values changed (None removes an attribute)."""
        values = dict(self.values())
        values.update(changes)
        return build(**{k: v for k, v in values.items() if v is not None})

    def for_export(self) -> AttrSet:
        """The set as passed on to another peer (RFC 4271 5, 9.1.4): unknown optional
        non-transitive attributes dropped, the Partial bit set on unknown optional
        transitive ones."""
        out = bytearray()
        changed = False
        raw = self.raw
        i = 0
        for flags, code, start, end in walk(raw):
            if code not in c.EXPECTED_FLAGS:
                if not flags & c.FLAG_TRANSITIVE:
                    changed = True
                    i = end
                    continue
                if not flags & c.FLAG_PARTIAL:
                    changed = True
                    out += attribute(flags | c.FLAG_PARTIAL, code, raw[start:end])
                    i = end
                    continue
            out += raw[i:end]
            i = end
        return AttrSet(bytes(out)) if changed else self


_EMPTY_PATH = EMPTY_PATH
ORIGIN_NAMES = {c.ORIGIN_IGP: "igp", c.ORIGIN_EGP: "egp", c.ORIGIN_INCOMPLETE: "incomplete"}


def _decode_values(attrs: AttrSet) -> dict[str, Any]:
    # walk() inlined: two generators per set cost as much as decoding the values themselves
    out: dict[str, Any] = {}
    unknown = []
    decoders = VALUE_DECODERS
    raw = attrs.raw
    i = 0
    n = len(raw)
    while i < n:
        flags = raw[i]
        code = raw[i + 1]
        if flags & c.FLAG_EXTENDED:
            start = i + 4
            i = start + ((raw[i + 2] << 8) | raw[i + 3])
        else:
            start = i + 3
            i = start + raw[i + 2]
        known = decoders.get(code)
        if known is None:
            unknown.append((flags, code, raw[start:i]))
        else:
            out[known[0]] = known[1](raw[start:i])
    if unknown:
        out["unknown"] = tuple(unknown)
    return out


# -- building from typed values ------------------------------------------------------------
def build(
    *,
    origin: int | None = None,
    as_path: AsPath | None = None,
    next_hop: str | IPv4Address | None = None,
    med: int | None = None,
    local_pref: int | None = None,
    atomic_aggregate: bool = False,
    aggregator: Aggregator | None = None,
    communities: Iterable[int] = (),
    originator_id: str | IPv4Address | None = None,
    cluster_list: Iterable[str | IPv4Address] = (),
    ext_communities: Iterable[bytes] = (),
    large_communities: Iterable[tuple[int, int, int]] = (),
    unknown: Iterable[tuple[int, int, bytes]] = (),
) -> AttrSet:
    """Encode typed values into an AttrSet, attributes in ascending type code."""
    parts: list[tuple[int, bytes]] = []
    if origin is not None:
        if origin not in (0, 1, 2):
            raise ValueError(f"origin must be 0 (igp), 1 (egp) or 2 (incomplete), not {origin}")
        parts.append((c.ORIGIN, attribute(c.FLAG_TRANSITIVE, c.ORIGIN, bytes((origin,)))))
    if as_path is not None:
        parts.append((c.AS_PATH, attribute(c.FLAG_TRANSITIVE, c.AS_PATH, encode_as_path(as_path))))
    if next_hop is not None:
        parts.append((c.NEXT_HOP, attribute(c.FLAG_TRANSITIVE, c.NEXT_HOP, IPv4Address(next_hop).packed)))
    if med is not None:
        parts.append((c.MULTI_EXIT_DISC, attribute(c.FLAG_OPTIONAL, c.MULTI_EXIT_DISC, u32(med, "med"))))
    if local_pref is not None:
        parts.append((c.LOCAL_PREF, attribute(c.FLAG_TRANSITIVE, c.LOCAL_PREF, u32(local_pref, "local_pref"))))
    if atomic_aggregate:
        parts.append((c.ATOMIC_AGGREGATE, attribute(c.FLAG_TRANSITIVE, c.ATOMIC_AGGREGATE, b"")))
    opt_trans = c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE
    if aggregator is not None:
        value = u32(aggregator.asn, "aggregator AS") + IPv4Address(aggregator.address).packed
        parts.append((c.AGGREGATOR, attribute(opt_trans, c.AGGREGATOR, value)))
    comms = b"".join(u32(v, "community") for v in communities)
    if comms:
        parts.append((c.COMMUNITIES, attribute(opt_trans, c.COMMUNITIES, comms)))
    if originator_id is not None:
        parts.append((c.ORIGINATOR_ID, attribute(c.FLAG_OPTIONAL, c.ORIGINATOR_ID, IPv4Address(originator_id).packed)))
    clusters = b"".join(IPv4Address(v).packed for v in cluster_list)
    if clusters:
        parts.append((c.CLUSTER_LIST, attribute(c.FLAG_OPTIONAL, c.CLUSTER_LIST, clusters)))
    ext = b"".join(ext_communities)
    if ext:
        if len(ext) % 8:
            raise ValueError("extended communities must be 8 octets each")
        parts.append((c.EXTENDED_COMMUNITIES, attribute(opt_trans, c.EXTENDED_COMMUNITIES, ext)))
    large = b"".join(
        u32(a, "large community") + u32(b, "large community") + u32(d, "large community")
        for a, b, d in large_communities
    )
    if large:
        parts.append((c.LARGE_COMMUNITY, attribute(opt_trans, c.LARGE_COMMUNITY, large)))
    for flags, code, value in unknown:
        parts.append((code, attribute(flags, code, value)))
    parts.sort(key=lambda p: p[0])
    return AttrSet(b"".join(p for _, p in parts))


# -- parsing and validating a received block -----------------------------------------------


class ParsedBlock:
    """A received attribute block split into its attribute set and its MP attributes.
    ``reach_pos``/``unreach_pos`` are the offsets in ``attrs.raw`` where the MP attributes
    stood (-1: absent), so a decoded UPDATE re-encodes byte for byte."""

    __slots__ = (
        "attrs",
        "disposition",
        "errors",
        "reach",
        "reach_flags",
        "reach_pos",
        "unreach",
        "unreach_flags",
        "unreach_pos",
    )

    def __init__(
        self,
        attrs: AttrSet,
        errors: tuple[AttrError, ...] = (),
        reach: bytes | None = None,
        unreach: bytes | None = None,
        reach_flags: int = 0,
        unreach_flags: int = 0,
        reach_pos: int = -1,
        unreach_pos: int = -1,
        disposition: Disposition | None = None,
    ) -> None:
        self.attrs = attrs
        self.errors = errors
        self.reach = reach
        self.unreach = unreach
        self.reach_flags = reach_flags
        self.unreach_flags = unreach_flags
        self.reach_pos = reach_pos
        self.unreach_pos = unreach_pos
        self.disposition = disposition


def parse_block(block: bytes, ctx: Context, rules: FastRules | None = None) -> ParsedBlock:
    """Split and validate an attribute block. Raises NotificationError only where RFC 7606
    still demands a session reset (duplicate MP attributes, unknown well-known attribute).
    ``rules`` is the session's :func:`~pyspeaker.wire.validate.fast_rules` (made here if
    not given): a block they vouch for is taken as it is, without the full parse."""
    if rules is None:
        rules = fast_rules(ctx)
    fast = fast_scan(block, rules)
    if fast is not None:
        return ParsedBlock(AttrSet(block, fast))
    pieces: list[bytes] = []
    size = 0
    errors: list[AttrError] = []
    seen: set[int] = set()
    mandatory = 0
    reach = unreach = None
    reach_flags = unreach_flags = 0
    reach_pos = unreach_pos = -1
    as4_path: bytes | None = None
    as4_aggr: bytes | None = None
    dropped = False
    i = 0
    n = len(block)
    while i < n:
        if n - i < 3:
            errors.append(overrun(f"{n - i} octets left over after the last attribute"))
            if not dropped:
                pieces.append(block[:i])
                dropped = True
            break
        flags = block[i]
        code = block[i + 1]
        if flags & c.FLAG_EXTENDED:
            if n - i < 4:
                errors.append(overrun("attribute header truncated"))
                if not dropped:
                    pieces.append(block[:i])
                    dropped = True
                break
            start = i + 4
            end = start + ((block[i + 2] << 8) | block[i + 3])
        else:
            start = i + 3
            end = start + block[i + 2]
        if end > n:
            errors.append(overrun(f"attribute {code} overruns the attribute block by {end - n} octets"))
            if not dropped:
                pieces.append(block[:i])
                dropped = True
            break
        piece_start = i
        i = end
        if code in seen:
            if code in (c.MP_REACH_NLRI, c.MP_UNREACH_NLRI):
                raise NotificationError(3, 1, b"", f"attribute {code} appears twice")
            errors.append(AttrError(Disposition.ATTRIBUTE_DISCARD, code, "repeated attribute, first kept", 1))
            if not dropped:
                pieces.append(block[:piece_start])
                dropped = True
            continue
        seen.add(code)
        if code == c.MP_REACH_NLRI or code == c.MP_UNREACH_NLRI:
            if flags & (c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE) != c.FLAG_OPTIONAL:
                raise NotificationError(3, 4, block[piece_start:end], f"attribute {code} flags 0x{flags:02x}")
            if code == c.MP_REACH_NLRI:
                # 0x100 marks the second of two MP attributes standing at the same place
                later = AFTER_OTHER_MP if unreach_pos == size else 0
                reach, reach_flags, reach_pos = block[start:end], flags | later, size
            else:
                later = AFTER_OTHER_MP if reach_pos == size else 0
                unreach, unreach_flags, unreach_pos = block[start:end], flags | later, size
            if not dropped:
                pieces.append(block[:piece_start])
                dropped = True
            continue
        elif code in c.EXPECTED_FLAGS:
            value = block[start:end]
            err = check_attribute(flags, code, value, ctx)
            if err is not None:
                errors.append(err)
                if not dropped:
                    pieces.append(block[:piece_start])
                    dropped = True
                continue
            if code == c.AS4_PATH:
                as4_path = value
                if not dropped:
                    pieces.append(block[:piece_start])
                    dropped = True
                continue
            if code == c.AS4_AGGREGATOR:
                as4_aggr = value
                if not dropped:
                    pieces.append(block[:piece_start])
                    dropped = True
                continue
            mandatory |= MANDATORY_BIT.get(code, 0)
        elif not flags & c.FLAG_OPTIONAL:
            raise NotificationError(3, 2, block[piece_start:end], f"unrecognized well-known attribute {code}")
        if dropped:
            pieces.append(block[piece_start:end])
        size += end - piece_start
    raw = b"".join(pieces) if dropped else block
    if not ctx.asn4:
        raw, moved = _to_four_octet(raw, as4_path, as4_aggr)
        # AS_PATH/AGGREGATOR grew: the MP attributes' places move with them
        reach_pos, unreach_pos = moved.get(reach_pos, -1), moved.get(unreach_pos, -1)
    disposition = max((e.disposition for e in errors), default=None) if errors else None
    return ParsedBlock(
        AttrSet(raw, mandatory),
        tuple(errors),
        reach,
        unreach,
        reach_flags,
        unreach_flags,
        reach_pos,
        unreach_pos,
        disposition,
    )


def _to_four_octet(raw: bytes, as4_path: bytes | None, as4_aggr: bytes | None) -> tuple[bytes, dict[int, int]]:
    """RFC 6793 4.2.3: rewrite a 2-octet session's AS_PATH/AGGREGATOR to 4-octet form,
    merged with AS4_PATH/AS4_AGGREGATOR. Also returns where each attribute boundary of
    ``raw`` is in the result."""
    out: list[bytes] = []
    moved: dict[int, int] = {}
    size = 0
    aggr_is_trans = True
    for _, code, start, _ in walk(raw):
        if code == c.AGGREGATOR:
            aggr_is_trans = ((raw[start] << 8) | raw[start + 1]) == c.AS_TRANS
    for flags, code, start, end in walk(raw):
        moved[walk_start(raw, start, flags)] = size
        value = raw[start:end]
        if code == c.AS_PATH:
            path = decode_as_path(value, 2) or AsPath()
            if as4_path is not None and aggr_is_trans:
                path = merge_as4_path(path, decode_as_path(as4_path, 4) or AsPath())
            out.append(attribute(flags, code, encode_as_path(path)))
        elif code == c.AGGREGATOR:
            if as4_aggr is not None and aggr_is_trans:
                out.append(attribute(flags, code, as4_aggr))
            else:
                out.append(attribute(flags, code, value[:2].rjust(4, b"\0") + value[2:]))
        else:
            out.append(raw[walk_start(raw, start, flags) : end])
        size += len(out[-1])
    moved[len(raw)] = size
    return b"".join(out), moved


def walk_start(raw: bytes, value_start: int, flags: int) -> int:
    return value_start - (4 if flags & c.FLAG_EXTENDED else 3)


def to_two_octet(attrs: AttrSet) -> bytes:
    """The attribute bytes for a peer without 4-octet AS support (RFC 6793 4.2.2): AS_PATH
    with AS_TRANS for large ASNs plus AS4_PATH, AGGREGATOR 2-octet plus AS4_AGGREGATOR."""
    out: list[tuple[int, bytes]] = []
    raw = attrs.raw
    for flags, code, start, end in walk(raw):
        value = raw[start:end]
        if code == c.AS_PATH:
            path = decode_as_path(value, 4) or AsPath()
            out.append((code, attribute(flags, code, encode_as_path(path, 2))))
            if any(a > 0xFFFF for a in path.asns()):
                plain = AsPath(tuple(s for s in path.segments if s[0] in (c.AS_SEQUENCE, c.AS_SET)))
                out.append(
                    (c.AS4_PATH, attribute(c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE, c.AS4_PATH, encode_as_path(plain, 4)))
                )
        elif code == c.AGGREGATOR:
            asn = int.from_bytes(value[:4], "big")
            small = asn if asn <= 0xFFFF else c.AS_TRANS
            out.append((code, attribute(flags, code, small.to_bytes(2, "big") + value[4:8])))
            if asn > 0xFFFF:
                out.append((c.AS4_AGGREGATOR, attribute(c.FLAG_OPTIONAL | c.FLAG_TRANSITIVE, c.AS4_AGGREGATOR, value)))
        else:
            out.append((code, raw[walk_start(raw, start, flags) : end]))
    out.sort(key=lambda p: p[0])
    return b"".join(p for _, p in out)


class Interner:
    """Shares one AttrSet object per distinct canonical attribute block, across sessions.
    Owned by the speaker; nothing here is global."""

    __slots__ = ("_sets",)

    def __init__(self) -> None:
        self._sets: dict[bytes, AttrSet] = {}

    def intern(self, attrs: AttrSet) -> AttrSet:
        return self._sets.setdefault(attrs.raw, attrs)

    def __len__(self) -> int:
        return len(self._sets)

    def forget_unused(self, in_use: Iterable[AttrSet]) -> int:
        keep = {a.raw for a in in_use}
        before = len(self._sets)
        self._sets = {k: v for k, v in self._sets.items() if k in keep}
        return before - len(self._sets)
