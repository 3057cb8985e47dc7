"""Attributes checked and decoded once per session, shared by every set that carries them.

Distinct attribute *sets* are many (about one per ten prefixes), but most of their
attributes recur: a handful of ORIGIN, NEXT_HOP, LOCAL_PREF and MED values, and often the
same AS_PATH or COMMUNITIES under different neighbours. :class:`AttrCache` keys each
attribute by its bytes on the wire (flags, type, length and value) and keeps what checking
and decoding it gave: its name in :meth:`AttrSet.values`, its typed value and its
mandatory-attribute bit. A set is then checked and decoded in one walk of its attribute
headers, with one dict look-up per attribute; only attributes never seen before are checked
(with the session's :func:`~pyspeaker.wire.validate.fast_rules`, the same rules as
:func:`~pyspeaker.wire.validate.fast_scan`) and decoded.

The cache belongs to one session's decoder (its rules depend on the session's context);
nothing here is global. It holds at most ``limit`` attributes and starts afresh when full,
so a stream of unique attributes cannot grow it without bound.
"""

from __future__ import annotations

from typing import Any

from . import constants as c
from .constants import AS_SEQUENCE
from .validate import HAS_AS_PATH, FastRules, fast_scan
from .values import VALUE_DECODERS, WORDS, AsPath

Known = tuple[str, Any, int]  # (name, typed value, mandatory bit)


class AttrCache:
    """Per-session cache of checked, decoded attributes (see the module text)."""

    __slots__ = ("_flags", "_known", "_rules", "limit")

    def __init__(self, rules: FastRules, limit: int = 16384) -> None:
        self._rules = rules
        self._flags = {code: rule[0] for code, rule in rules.items()}  # allowed flag octets
        self._known: dict[bytes, Known] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._known)

    def scan(self, block: bytes) -> tuple[int, dict[str, Any]] | None:
        """The mandatory bits and typed values of a block whose every attribute is known,
        valid and unique (what :func:`~pyspeaker.wire.validate.fast_scan` accepts); None if
        the block needs the full parse."""
        get = self._known.get
        out: dict[str, Any] = {}
        mandatory = 0
        i = 0
        n = len(block)
        try:
            while i < n:
                # the usual header, without Extended Length; an attribute that has it, or
                # that overruns the block, is cut wrong here, so never found, and _learn
                # takes it
                end = i + 3 + block[i + 2]
                piece = block[i:end]
                hit = get(piece)
                if hit is None:
                    hit = self._learn(block, i, piece)
                    if hit is None:
                        return None
                    if block[i] & c.FLAG_EXTENDED:
                        end = i + 4 + ((block[i + 2] << 8) | block[i + 3])
                name, value, bit = hit
                if name in out:
                    return None
                out[name] = value
                mandatory |= bit
                i = end
        except IndexError:  # a truncated attribute header
            return None
        return mandatory, out

    def _learn(self, block: bytes, i: int, piece: bytes) -> Known | None:
        """Check and decode the attribute at ``block[i]``, not seen before, and file it.
        ``piece`` is what :meth:`scan` took for its bytes, before looking at its flags."""
        flags = block[i]
        if flags & c.FLAG_EXTENDED:
            start = i + 4
            end = start + ((block[i + 2] << 8) | block[i + 3])
            piece = block[i:end]
            hit = self._known.get(piece)
            if hit is not None:
                return hit
        else:
            start = i + 3
            end = start + block[i + 2]
        if end > len(block):
            return None
        code = block[i + 1]
        size = end - start
        hit = None
        if (self._flags.get(code, 0) >> flags) & 1:
            # the two attributes nearly always new, in their usual form, checked and
            # decoded in one go (what fast_scan accepts for them; see the tests)
            if code == c.AS_PATH:
                if size > 2 and block[start] == AS_SEQUENCE and size == 2 + 4 * block[start + 1]:
                    path = AsPath(((AS_SEQUENCE, WORDS[block[start + 1]].unpack_from(block, start + 2)),))
                    hit = ("as_path", path, HAS_AS_PATH)
            elif code == c.COMMUNITIES and size and not size & 3 and size < 1024:
                hit = ("communities", WORDS[size >> 2].unpack_from(block, start), 0)
        if hit is None:
            bit = fast_scan(piece, self._rules)
            if bit is None:
                return None
            name, decode = VALUE_DECODERS[code]
            hit = (name, decode(block[start:end]), bit)
        known = self._known
        if len(known) >= self.limit:
            known.clear()
        known[piece] = hit
        return hit

    def clear(self) -> None:
        self._known.clear()
