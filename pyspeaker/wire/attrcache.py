"""Attributes checked and decoded once per session, shared by every set that carries them.

Distinct attribute *sets* are many (about one per ten prefixes), but most of their
attributes recur: a handful of ORIGIN, NEXT_HOP, LOCAL_PREF and MED values.
:class:`AttrCache` keys each attribute by its bytes on the wire (flags, type, length and
value) and keeps what checking and decoding it gave: its typed value (its name in
:meth:`AttrSet.values` follows from its type code). A set is then checked and decoded in
one walk of its attribute headers, with one dict look-up per attribute; only attributes
never seen before are checked (with the session's
:func:`~pyspeaker.wire.validate.fast_rules`, the same rules as
:func:`~pyspeaker.wire.validate.fast_scan`) and decoded. AS_PATH and COMMUNITIES are the
exception: nearly every set has its own, so in their usual form they are checked and
decoded in the walk itself and not filed (filing them would only push the others out).

The cache belongs to one session's decoder (its rules depend on the session's context);
nothing here is global. It holds at most ``limit`` attributes and starts afresh when full,
so a stream of unique attributes cannot grow it without bound.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from . import constants as c
from .constants import AS_SEQUENCE
from .validate import HAS_AS_PATH, HAS_NEXT_HOP, HAS_ORIGIN, FastRules, fast_scan
from .values import VALUE_DECODERS, WORDS, sequence_path

# type code -> name in AttrSet.values() ("": never in the cache)
NAMES: Final = tuple(VALUE_DECODERS[code][0] if code in VALUE_DECODERS else "" for code in range(256))
_EXTENDED: Final = c.FLAG_EXTENDED


@functools.cache
def _short_flags(allowed: int) -> bytes:
    """Octet ``f`` is 1 where bit ``f`` of ``allowed`` is set and ``f`` has no Extended
    Length bit. (Made once per mask: a reflector makes a cache per session.)"""
    return bytes((allowed >> f) & 1 if not f & _EXTENDED else 0 for f in range(256))


class AttrCache:
    """Per-session cache of checked, decoded attributes (see the module text)."""

    __slots__ = ("_comm_flags", "_known", "_path_flags", "_rules", "limit")

    def __init__(self, rules: FastRules, limit: int = 16384) -> None:
        self._rules = rules
        self._known: dict[bytes, Any] = {}  # attribute bytes -> typed value (never None)
        # the flag octets allowed for the two attributes scan() decodes itself, without
        # Extended Length: a table indexed by the flags octet (1: allowed)
        self._path_flags = _short_flags(rules[c.AS_PATH][0] if c.AS_PATH in rules else 0)
        self._comm_flags = _short_flags(rules[c.COMMUNITIES][0] if c.COMMUNITIES in rules else 0)
        self.limit = limit

    def __len__(self) -> int:
        return len(self._known)

    def scan(self, block: bytes) -> tuple[int, dict[str, Any]] | None:
        """The mandatory bits and typed values of a block whose every attribute is known,
        valid and unique (what :func:`~pyspeaker.wire.validate.fast_scan` accepts); None if
        the block needs the full parse."""
        get = self._known.get
        names = NAMES
        out: dict[str, Any] = {}
        count = 0  # attributes walked: a repeated one leaves ``out`` shorter
        i = 0
        n = len(block)
        path_ok = self._path_flags
        comm_ok = self._comm_flags
        try:
            while i < n:
                code = block[i + 1]
                count += 1
                if code == 2 and path_ok[block[i]]:  # 2: AS_PATH
                    # AS_PATH, nearly always new: its usual form (one AS_SEQUENCE, what
                    # fast_scan accepts of it) checked and decoded here, not filed
                    start = i + 3
                    size = block[i + 2]
                    end = start + size
                    if end <= n and size > 2 and block[start] == AS_SEQUENCE and size == 2 + 4 * block[start + 1]:
                        out["as_path"] = sequence_path(WORDS[block[start + 1]].unpack_from(block, start + 2))
                        i = end
                        continue
                elif code == 8 and comm_ok[block[i]]:  # 8: COMMUNITIES
                    # nearly always new as well: in its usual form (a whole number of
                    # communities), decoded here, not filed
                    size = block[i + 2]
                    end = i + 3 + size
                    if size and not size & 3 and end <= n:
                        out["communities"] = WORDS[size >> 2].unpack_from(block, i + 3)
                        i = end
                        continue
                # the usual header, without Extended Length; an attribute that has it, or
                # that overruns the block, is cut wrong here, so never found, and _learn
                # takes it
                end = i + 3 + block[i + 2]
                piece = block[i:end]
                value = get(piece)
                if value is None:
                    value = self._learn(block, i, piece)
                    if value is None:
                        return None
                    if block[i] & _EXTENDED:
                        end = i + 4 + ((block[i + 2] << 8) | block[i + 3])
                out[names[code]] = value
                i = end
        except IndexError:  # a truncated attribute header
            return None
        if len(out) != count:  # an attribute repeated
            return None
        mandatory = 0
        if "origin" in out:
            mandatory = HAS_ORIGIN
        if "as_path" in out:
            mandatory |= HAS_AS_PATH
        if "next_hop" in out:
            mandatory |= HAS_NEXT_HOP
        return mandatory, out

    def _learn(self, block: bytes, i: int, piece: bytes) -> Any:
        """Check and decode the attribute at ``block[i]``, not seen before, and file it;
        None if it is not one the cache takes. ``piece`` is what :meth:`scan` took for its
        bytes, before looking at its flags."""
        flags = block[i]
        if flags & c.FLAG_EXTENDED:
            start = i + 4
            end = start + ((block[i + 2] << 8) | block[i + 3])
            piece = block[i:end]
            value = self._known.get(piece)
            if value is not None:
                return value
        else:
            start = i + 3
            end = start + block[i + 2]
        if end > len(block):
            return None
        if fast_scan(piece, self._rules) is None:
            return None
        value = VALUE_DECODERS[block[i + 1]][1](block[start:end])
        known = self._known
        if len(known) >= self.limit:
            known.clear()
        known[piece] = value
        return value

    def clear(self) -> None:
        self._known.clear()
