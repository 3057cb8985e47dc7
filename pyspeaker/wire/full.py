"""Full decode of UPDATEs: every prefix as text, every attribute as a typed value.

:meth:`UpdateDecoder.decode <pyspeaker.wire.update.UpdateDecoder.decode>` keeps prefixes in
wire form and checks attribute sets on first use, which is what a RIB needs. A tool that
prints, stores or compares routes wants the readable form of everything instead; a
:class:`FullUpdate` holds it, with RFC 7606 already applied (the prefixes of a
treat-as-withdraw UPDATE are among the withdrawn ones).

:func:`decode_full` makes the text of each prefix straight from the message bytes, without
a wire-form slice in between, and uses the decoder's caches of attribute sets and next
hops, so a set seen before costs one look-up. It takes that fast path for the UPDATEs of
every day (IPv4 prefixes in the classic fields, one MP_REACH_NLRI or MP_UNREACH_NLRI first
in the block, a clean attribute set); anything else (a malformed UPDATE, an attribute error,
ADD-PATH, End-of-RIB, a family without a codec) is decoded by
:meth:`UpdateDecoder.decode` and converted by :func:`full_update`, so both give the same
result, errors and exceptions included.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final, NamedTuple

from . import constants as c
from .attrs import HAS_ALL, HAS_ORIGIN_AS_PATH
from .context import Context
from .errors import AttrError, Disposition
from .family import CODECS, IPV4_UNICAST, Family
from .prefix import (
    _AF_INET6,
    _DOT,
    _HEX_HIGH,
    _HEX_LOW,
    _OCTET,
    _SLASH,
    _ZERO_SLASH,
    _ZEROS4,
    NBYTES_V4,
    NBYTES_V6,
    _ntop,
    to_text,
)
from .update import Update, UpdateDecoder, known_addresses

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FullUpdate(NamedTuple):
    """One UPDATE decoded in full.

    ``announced`` and ``withdrawn``: the prefixes as text per family, as
    :meth:`Update.announced` and :meth:`Update.withdrawals` give them (RFC 7606 applied:
    a treat-as-withdraw UPDATE announces nothing); with ADD-PATH a prefix reads
    ``10.0.1.0/24 path 7``. ``values``: every path attribute as a typed value, keyed by
    name, in wire order (what :meth:`AttrSet.values` gives; shared by the UPDATEs that
    carry the same attributes, so not to be changed). ``next_hops``: the addresses of
    the MP_REACH_NLRI next hop (global, then link-local). ``errors`` and ``disposition``:
    RFC 7606 findings, as on :class:`Update`; ``end_of_rib``: the family an End-of-RIB
    marks."""

    announced: dict[Family, list[str]]
    withdrawn: dict[Family, list[str]]
    values: dict[str, Any]
    next_hops: tuple[Address, ...]
    errors: tuple[AttrError, ...]
    disposition: Disposition | None
    end_of_rib: Family | None


def full_update(update: Update, ctx: Context) -> FullUpdate:
    """The full form of a decoded UPDATE (``ctx``: the session's, for ADD-PATH)."""
    announced = {fam: _texts(fam, p, ctx) for fam, p in update.announced().items()}
    withdrawn = {fam: _texts(fam, p, ctx) for fam, p in update.withdrawals().items()}
    attrs = update.attrs
    reach = update.reach
    return FullUpdate(
        announced,
        withdrawn,
        attrs.values() if attrs is not None else {},
        tuple(reach.next_hops()) if reach is not None else (),
        update.errors,
        update.disposition,
        update.end_of_rib,
    )


def _texts(fam: Family, prefixes: list[bytes], ctx: Context) -> list[str]:
    address_len = CODECS[fam].address_len
    addpath = fam in ctx.addpath_rx
    return [to_text(p, address_len, addpath) for p in prefixes]


class _Plain(Exception):
    """Not an UPDATE of every day (a field that does not split into whole prefixes, a
    mandatory attribute missing...): the plain decoder judges it."""


_new_full = tuple.__new__
_EXTENDED: Final = c.FLAG_EXTENDED
_MP_REACH: Final = c.MP_REACH_NLRI
_MP_UNREACH: Final = c.MP_UNREACH_NLRI
_MP_FIRST: Final = bytes(1 if code in (c.MP_REACH_NLRI, c.MP_UNREACH_NLRI) else 0 for code in range(256))
_NO_HOPS: tuple[Address, ...] = ()
# in UpdateDecoder._full / _full_mp: a block the fast path leaves to the plain one
# (compared by identity; never handed out)
_PLAIN: Final[dict[str, Any]] = {}
_NO_ERRORS: tuple[AttrError, ...] = ()


def _plain(dec: UpdateDecoder, data: bytes, start: int, end: int) -> FullUpdate:
    """The UPDATE at ``data[start:end]`` as the plain decoder and :func:`full_update` make it
    (for all the fast path leaves)."""
    return full_update(dec.decode(data, start, end), dec.ctx)


def _v4_texts(data: bytes, k: int, end: int) -> list[str]:
    """Text of the IPv4 prefixes in ``data[k:end]``, read in place (what
    :func:`~pyspeaker.wire.prefix.texts` gives for what :func:`~pyspeaker.wire.prefix.split`
    cuts). Raises _Plain, or IndexError at the end of ``data``, if they do not fit exactly."""
    out: list[str] = []
    append = out.append
    dot = _DOT
    zero_slash = _ZERO_SLASH
    while k < end:
        bits = data[k]
        if 16 < bits <= 24:  # three octets, the usual case
            append(f"{dot[data[k + 1]]}{dot[data[k + 2]]}{dot[data[k + 3]]}{zero_slash[bits]}")
            k += 4
        else:
            j = k + 1 + NBYTES_V4[bits]
            q = data[k + 1 : j] + _ZEROS4
            append(f"{dot[q[0]]}{dot[q[1]]}{dot[q[2]]}{_OCTET[q[3]]}{_SLASH[bits]}")
            k = j
    if k != end:
        raise _Plain
    return out


# IPv6 prefix length -> its octet count when _v6_texts writes the text itself (a /17../48:
# two or three groups, then zeros), 0 when inet_ntop does
_V6_SHORT: Final = bytes(NBYTES_V6[bits] if 16 < bits <= 48 else 0 for bits in range(256))


def _v6_texts(data: bytes, k: int, end: int) -> list[str]:
    """Text of the IPv6 prefixes in ``data[k:end]``; raises _Plain if they do not fit (or
    ValueError: a length over 128 makes an address of more than 16 octets).

    The usual prefix, a /17../48 whose last group is not zero, is written here from tables:
    its two or three groups, then "::" for the zeros that follow (always the longest run of
    zero groups, at least five, so the one inet_ntop compresses). Any other goes to
    inet_ntop."""
    out: list[str] = []
    append = out.append
    short = _V6_SHORT
    high = _HEX_HIGH
    low = _HEX_LOW
    slash = _SLASH
    while k < end:
        bits = data[k]
        n = short[bits]
        if n == 6:
            b1, b2, b3, b4, b5, b6 = data[k + 1 : k + 7]
            if b5 or b6:
                append(f"{high[b1]}{low[b1][b2]}:{high[b3]}{low[b3][b4]}:{high[b5]}{low[b5][b6]}::{slash[bits]}")
                k += 7
                continue
        elif n == 4:
            b1, b2, b3, b4 = data[k + 1 : k + 5]
            if b3 or b4:
                append(f"{high[b1]}{low[b1][b2]}:{high[b3]}{low[b3][b4]}::{slash[bits]}")
                k += 5
                continue
        elif n == 5:  # the last group's low octet is 0
            b1, b2, b3, b4, b5 = data[k + 1 : k + 6]
            if b5:
                append(f"{high[b1]}{low[b1][b2]}:{high[b3]}{low[b3][b4]}:{high[b5]}00::{slash[bits]}")
                k += 6
                continue
        elif n == 3:
            b1, b2, b3 = data[k + 1 : k + 4]
            if b3:
                append(f"{high[b1]}{low[b1][b2]}:{high[b3]}00::{slash[bits]}")
                k += 4
                continue
        j = k + 1 + NBYTES_V6[bits]
        append(_ntop(_AF_INET6, data[k + 1 : j].ljust(16, b"\0")) + slash[bits])
        k = j
    if k != end:
        raise _Plain
    return out


def decode_full(dec: UpdateDecoder, data: bytes, start: int = 0, end: int = -1) -> FullUpdate:
    """Decode the UPDATE at ``data[start:end]`` (header included) in full, with the
    session's decoder ``dec`` (whose caches of checked attributes and next hops it shares).
    Raises what :meth:`UpdateDecoder.decode` raises."""
    if end < 0:
        end = len(data)
    if end - start < 23 or not dec._v4_inline:
        return _plain(dec, data, start, end)
    return decode_usual(dec, data, start, end)


def decode_usual(dec: UpdateDecoder, data: bytes, start: int, end: int) -> FullUpdate:
    """:func:`decode_full` for an UPDATE of 23 octets or more, on a session without ADD-PATH
    for IPv4 unicast (what :meth:`Decoder.iter_full` calls for every UPDATE of such a
    session: the checks above are made once per session, not once per message)."""
    i = start + 21  # the withdrawn routes
    try:
        we = i + ((data[i - 2] << 8) | data[i - 1])
        ab = we + 2
        ae = ab + ((data[we] << 8) | data[we + 1])
    except IndexError:  # the withdrawn routes run past the data: so past the message
        ae = end + 1
    if ae > end:  # (a length read past the message's end, too, makes it run past it)
        return _plain(dec, data, start, end)
    try:
        withdrawn = _v4_texts(data, i, we) if we > i else None
        nlri = _v4_texts(data, ae, end) if end > ae else None
    except (_Plain, IndexError):
        return _plain(dec, data, start, end)
    if ae == ab:  # no attributes: a plain withdrawal, or something the plain path judges
        if withdrawn is None or nlri is not None:
            return _plain(dec, data, start, end)
        return _new_full(FullUpdate, ({}, {IPV4_UNICAST: withdrawn}, {}, _NO_HOPS, _NO_ERRORS, None, None))
    if ae - ab < 3 or not _MP_FIRST[data[ab + 1]]:
        block = data[ab:ae]
        values = dec._full.get(block)
        if values is None:
            values = _learn(dec, block, False)
        if values is _PLAIN or nlri is None:  # (no NLRI: a withdrawal with attributes)
            return _plain(dec, data, start, end)
        return _new_full(
            FullUpdate,
            (
                {IPV4_UNICAST: nlri},
                {IPV4_UNICAST: withdrawn} if withdrawn is not None else {},
                values,
                _NO_HOPS,
                _NO_ERRORS,
                None,
                None,
            ),
        )
    # an MP attribute first, as most speakers send it: the rest is an ordinary set
    code = data[ab + 1]
    flags = data[ab]
    if flags & _EXTENDED:
        vs = ab + 4
        ve = vs + ((data[ab + 2] << 8) | data[ab + 3]) if vs <= ae else ae + 1
    else:
        vs = ab + 3
        ve = vs + data[ab + 2]
    if ve > ae or flags & 0xC0 != 0x80 or ve - vs < 3:
        return _plain(dec, data, start, end)
    # the family, and for MP_REACH_NLRI the next hop length, as the decoder takes them at once
    if code == _MP_REACH:
        head = dec._reach_heads.get(data[vs : vs + 4])
    else:
        head = dec._unreach_heads.get(data[vs : vs + 3])
    if head is None or head[2]:  # a family without a codec, a next hop it refuses, or ADD-PATH
        return _plain(dec, data, start, end)
    fam = head[0]
    if ve < ae:
        rest = data[ve:ae]
        values = dec._full_mp.get(rest)
        if values is None:
            values = dec._full.get(rest)
            if values is None:
                values = _learn(dec, rest, True)
    else:  # the MP attribute alone: a withdrawal
        values = {} if code == _MP_UNREACH else _PLAIN
    v6 = head[1] is NBYTES_V6  # prefixes of up to 128 bits
    hops = _NO_HOPS
    try:
        if values is _PLAIN or (nlri is not None and "next_hop" not in values):
            raise _Plain  # a set only the plain path takes, or NEXT_HOP missing
        if code == _MP_REACH:
            nh_len = data[vs + 3]
            k = vs + 5 + nh_len
            if k > ve:
                raise _Plain
            prefixes = _v6_texts(data, k, ve) if v6 else _v4_texts(data, k, ve)
            hops = known_addresses(dec._next_hops, data[vs + 4 : vs + 4 + nh_len])
            announced = _merged(IPV4_UNICAST, nlri, fam, prefixes)
            withdrawn_out = {IPV4_UNICAST: withdrawn} if withdrawn is not None else {}
        else:
            prefixes = _v6_texts(data, vs + 3, ve) if v6 else _v4_texts(data, vs + 3, ve)
            if not prefixes and withdrawn is None and nlri is None:
                raise _Plain  # End-of-RIB, or nearly: the plain path tells
            announced = {IPV4_UNICAST: nlri} if nlri is not None else {}
            withdrawn_out = _merged(IPV4_UNICAST, withdrawn, fam, prefixes)
    except (_Plain, IndexError, ValueError):
        return _plain(dec, data, start, end)
    return _new_full(FullUpdate, (announced, withdrawn_out, values, hops, _NO_ERRORS, None, None))


def _learn(dec: UpdateDecoder, block: bytes, mp: bool) -> dict[str, Any]:
    """File a block not seen before, and return what an UPDATE carrying it takes: with an
    MP attribute first (``mp``), or without. Its typed values go to ``dec._full`` if its
    every attribute is known and valid (checked and decoded in one walk) and ORIGIN,
    AS_PATH and NEXT_HOP are among them, to ``dec._full_mp`` with ORIGIN and AS_PATH only
    (_PLAIN in ``dec._full``: an IPv4 NLRI cannot take it); any other block is _PLAIN in
    both, so the plain path takes it at once the next time it comes."""
    found = dec._known.scan(block)
    if found is None or found[0] & HAS_ORIGIN_AS_PATH != HAS_ORIGIN_AS_PATH:
        dec._full[block] = dec._full_mp[block] = _PLAIN
        return _PLAIN
    if found[0] == HAS_ALL:
        values = dec._full[block] = found[1]
        return values
    values = dec._full_mp[block] = found[1]
    dec._full[block] = _PLAIN
    return values if mp else _PLAIN


def _merged(first: Family, texts: list[str] | None, fam: Family, more: list[str]) -> dict[Family, list[str]]:
    """Prefixes per family, as :meth:`Update.announced` / :meth:`Update.withdrawals` put
    the classic field's and the MP attribute's together (empty lists left out)."""
    if texts is None:
        return {fam: more} if more else {}
    if not more:
        return {first: texts}
    if fam == first:
        return {first: texts + more}
    return {first: texts, fam: more}
