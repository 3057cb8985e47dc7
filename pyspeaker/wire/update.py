"""UPDATE messages: the decoder (hot path) and the decoded value.

The decoder keeps, per session, a dict from received attribute-block bytes to the parsed
and validated result, so a block seen before costs one dict look-up; a block is checked
and its values decoded on first use, sharing the attributes it has in common with the
session's other blocks (:mod:`pyspeaker.wire.attrcache`). Prefixes are sliced out in wire
form. Nothing per prefix is built beyond the ``bytes`` slice itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, Final

from . import constants as c
from .attrcache import AttrCache
from .attrs import HAS_ALL, HAS_ORIGIN_AS_PATH, AttrSet, Interner, ParsedBlock, attribute, parse_block
from .context import DEFAULT, Context
from .errors import AttrError, Disposition, NotificationError
from .family import BY_KEY, CODECS, IPV4_UNICAST, Family, family
from .prefix import NBYTES_V4, TABLES, PrefixError, split, split_addpath, to_text
from .validate import fast_rules

_EMPTY: list[bytes] = []
_new = object.__new__
_MANDATORY_NAMES = ((1, "ORIGIN"), (2, "AS_PATH"), (4, "NEXT_HOP"))
_CLEAN: tuple[tuple[AttrError, ...], Disposition | None] = ((), None)
# Attribute type codes a new block is looked at for (in UpdateDecoder._entry): the MP
# attributes, and the codes this codec does not know (an error if well-known).
_LOOK: Final = tuple(
    code in (c.MP_REACH_NLRI, c.MP_UNREACH_NLRI) or code not in c.EXPECTED_FLAGS for code in range(256)
)


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NextHops = dict[bytes, tuple[Address, ...]]
_NEXT_HOPS_LIMIT = 1024  # distinct next hops a decoder keeps decoded; it starts afresh beyond


def _addresses(nh: bytes) -> tuple[Address, ...]:
    if len(nh) == 4:
        return (ipaddress.IPv4Address(nh),)
    if len(nh) == 16:
        return (ipaddress.IPv6Address(nh),)
    if len(nh) == 32:
        return (ipaddress.IPv6Address(nh[:16]), ipaddress.IPv6Address(nh[16:]))
    return ()


def known_addresses(known: NextHops, nh: bytes) -> tuple[Address, ...]:
    """The addresses of next hop ``nh``, decoded once per session (``known``: its cache)."""
    hops = known.get(nh)
    if hops is None:
        hops = _addresses(nh)
        if len(known) >= _NEXT_HOPS_LIMIT:
            known.clear()
        known[nh] = hops
    return hops


class MpReach:
    """The MP_REACH_NLRI of one UPDATE: family, next hop (raw) and wire-form prefixes.
    ``known`` is the decoding session's table of next hops already turned into addresses
    (a session has few), shared by its UPDATEs."""

    __slots__ = ("_known", "family", "next_hop", "prefixes")

    def __init__(self, fam: Family, next_hop: bytes, prefixes: list[bytes], known: NextHops | None = None) -> None:
        self.family = fam
        self.next_hop = next_hop
        self.prefixes = prefixes
        self._known = known

    def next_hops(self) -> list[Address]:
        """The next hop addresses: one, or global + link-local for a 32-octet IPv6 next hop."""
        known = self._known
        if known is None:
            return list(_addresses(self.next_hop))
        return list(known_addresses(known, self.next_hop))


Checked = tuple[tuple[AttrError, ...], Disposition | None]


class Entry:
    """One distinct attribute block received on a session, validated on first use.

    The decoder files each new block here without parsing it (after a scan of the
    attribute headers for MP attributes, which carry prefixes and are always split at once).
    The first access to the UPDATE's attributes, errors or disposition checks the block
    and decodes its values, once for every UPDATE that carries it: ``attrs`` is None until
    then, ``checked`` the block's own (errors, disposition) after."""

    __slots__ = ("attrs", "block", "checked", "owner")

    def __init__(
        self, block: bytes, owner: UpdateDecoder | None, attrs: AttrSet | None = None, checked: Checked = _CLEAN
    ) -> None:
        self.block = block
        self.owner = owner
        self.attrs = attrs
        self.checked = checked

    @classmethod
    def of(cls, block: bytes, parsed: ParsedBlock) -> Entry:
        """The entry of a block parsed already."""
        return cls(block, None, parsed.attrs, (parsed.errors, parsed.disposition) if parsed.errors else _CLEAN)

    def get(self) -> AttrSet:
        attrs = self.attrs
        if attrs is None:
            assert self.owner is not None
            attrs = self.owner.fill(self)
        return attrs


class Update:
    """A decoded UPDATE.

    ``withdrawn`` and ``nlri`` are the IPv4 unicast prefixes of the classic fields; ``reach``
    and ``unreach`` the multiprotocol ones (for a family the codec does not speak, its NLRI is
    kept as one opaque item and left out of :meth:`announced` and :meth:`withdrawals`).
    :attr:`attrs` is the interned attribute set (None
    when the UPDATE carries none). :attr:`errors` lists RFC 7606 findings; when
    :attr:`disposition` is TREAT_AS_WITHDRAW every announced prefix must be handled as
    withdrawn, which :meth:`announced` and :meth:`withdrawals` already do. Attributes are
    parsed and validated on first access to any of these three.

    ``_entry`` is the decoder's record of the attribute block: an :class:`Entry`, or, once
    the block is known to be clean (checked, nothing found), its AttrSet itself.
    """

    __slots__ = ("_checked", "_entry", "_layout", "nlri", "reach", "unreach", "withdrawn")

    def __init__(
        self,
        withdrawn: list[bytes],
        nlri: list[bytes],
        entry: Entry | AttrSet | None,
        reach: MpReach | None = None,
        unreach: tuple[Family, list[bytes]] | None = None,
        layout: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.withdrawn = withdrawn
        self.nlri = nlri
        self._entry = entry
        self.reach = reach
        self.unreach = unreach
        self._layout = layout
        self._checked: Checked | None = None

    @classmethod
    def build(
        cls,
        withdrawn: list[bytes],
        nlri: list[bytes],
        attrs: AttrSet | None,
        reach: MpReach | None = None,
        unreach: tuple[Family, list[bytes]] | None = None,
    ) -> Update:
        """An UPDATE made by this speaker (nothing to validate)."""
        return cls(withdrawn, nlri, attrs, reach, unreach)

    @property
    def attrs(self) -> AttrSet | None:
        entry = self._entry
        if entry is None or isinstance(entry, AttrSet):
            return entry
        attrs = entry.attrs
        return attrs if attrs is not None else entry.get()

    def _check(self) -> Checked:
        checked = self._checked
        if checked is not None:
            return checked
        entry = self._entry
        if entry is None:
            if self.nlri:
                err = AttrError(Disposition.TREAT_AS_WITHDRAW, 0, "NLRI without path attributes", 3)
                checked = ((err,), err.disposition)
            else:
                checked = _CLEAN
        else:
            if isinstance(entry, AttrSet):
                attrs = entry
                checked = _CLEAN
            else:
                known = entry.attrs
                if known is None:
                    owner = entry.owner
                    assert owner is not None
                    known = owner.fill(entry)
                attrs = known
                checked = entry.checked
            mandatory = attrs.mandatory
            if mandatory != HAS_ALL and (self.nlri or (self.reach is not None and self.reach.prefixes)):
                need = HAS_ALL if self.nlri else HAS_ORIGIN_AS_PATH
                if mandatory & need != need:
                    checked = _missing(checked[0], attrs, need)
        self._checked = checked
        return checked

    @property
    def errors(self) -> tuple[AttrError, ...]:
        entry = self._entry
        if isinstance(entry, AttrSet) and (
            entry.mandatory == HAS_ALL or (entry.mandatory == HAS_ORIGIN_AS_PATH and not self.nlri)
        ):
            return _CLEAN[0]  # a clean set, no mandatory attribute missing
        return self._check()[0]

    @property
    def disposition(self) -> Disposition | None:
        entry = self._entry
        if isinstance(entry, AttrSet) and (
            entry.mandatory == HAS_ALL or (entry.mandatory == HAS_ORIGIN_AS_PATH and not self.nlri)
        ):
            return _CLEAN[1]  # a clean set, no mandatory attribute missing
        return self._check()[1]

    # -- what the UPDATE means, per family ---------------------------------------------
    @property
    def treat_as_withdraw(self) -> bool:
        return self.disposition is Disposition.TREAT_AS_WITHDRAW

    def announced(self) -> dict[Family, list[bytes]]:
        if (self._checked or self._check())[1] is Disposition.TREAT_AS_WITHDRAW:
            return {}
        out: dict[Family, list[bytes]] = {}
        if self.nlri:
            out[IPV4_UNICAST] = self.nlri
        if self.reach is not None and self.reach.prefixes and self.reach.family in CODECS:
            _merge(out, self.reach.family, self.reach.prefixes)
        return out

    def withdrawals(self) -> dict[Family, list[bytes]]:
        out: dict[Family, list[bytes]] = {}
        if self.withdrawn:
            out[IPV4_UNICAST] = self.withdrawn
        if self.unreach is not None and self.unreach[1] and self.unreach[0] in CODECS:
            _merge(out, self.unreach[0], self.unreach[1])
        if (self._checked or self._check())[1] is Disposition.TREAT_AS_WITHDRAW:
            if self.nlri:
                _merge(out, IPV4_UNICAST, self.nlri)
            if self.reach is not None and self.reach.prefixes and self.reach.family in CODECS:
                _merge(out, self.reach.family, self.reach.prefixes)
        return out

    @property
    def end_of_rib(self) -> Family | None:
        """The family this UPDATE marks End-of-RIB for (RFC 4724 2), or None."""
        if self.withdrawn or self.nlri or self.reach is not None:
            return None
        if self.attrs is None and self.unreach is None:
            return IPV4_UNICAST
        if self.unreach is not None and not self.unreach[1] and (self.attrs is None or not self.attrs.raw):
            return self.unreach[0]
        return None

    def __repr__(self) -> str:
        return f"Update({self.to_json()!r})"

    # -- encoding ----------------------------------------------------------------------
    def encode(self, ctx: Context = DEFAULT) -> bytes:
        """The message on the wire. For a decoded, well-formed UPDATE the bytes received."""
        raw = self.attrs.raw if self.attrs is not None else b""
        inserts: list[tuple[int, int, bytes]] = []
        reach_pos, reach_flags, unreach_pos, unreach_flags = self._layout or (-1, 0x80, -1, 0x80)
        if self.unreach is not None:
            fam, prefixes = self.unreach
            value = fam.afi.to_bytes(2, "big") + bytes((fam.safi,)) + b"".join(prefixes)
            pos = unreach_pos if unreach_pos >= 0 else 0
            inserts.append((pos, unreach_flags >> 8, _mp_attr(unreach_flags & 0xFF, c.MP_UNREACH_NLRI, value)))
        if self.reach is not None:
            r = self.reach
            value = (
                r.family.afi.to_bytes(2, "big")
                + bytes((r.family.safi, len(r.next_hop)))
                + r.next_hop
                + b"\0"
                + b"".join(r.prefixes)
            )
            pos = reach_pos if reach_pos >= 0 else 0
            inserts.append((pos, reach_flags >> 8, _mp_attr(reach_flags & 0xFF, c.MP_REACH_NLRI, value)))
        if inserts:
            inserts.sort(key=lambda x: (x[0], x[1]))
            parts = []
            last = 0
            for pos, _, piece in inserts:
                parts.append(raw[last:pos])
                parts.append(piece)
                last = pos
            parts.append(raw[last:])
            raw = b"".join(parts)
        withdrawn = b"".join(self.withdrawn)
        body = len(withdrawn).to_bytes(2, "big") + withdrawn + len(raw).to_bytes(2, "big") + raw + b"".join(self.nlri)
        if len(body) + 19 > ctx.max_message_len:
            raise NotificationError(1, 2, b"", f"UPDATE of {len(body) + 19} octets exceeds {ctx.max_message_len}")
        return c.MARKER + (len(body) + 19).to_bytes(2, "big") + b"\x02" + body

    # -- readable form -----------------------------------------------------------------
    def to_json(self, ctx: Context = DEFAULT) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "UPDATE"}
        eor = self.end_of_rib
        if eor is not None:
            out["end_of_rib"] = eor.name
            return out
        ann = {f.name: _texts(f, p, ctx) for f, p in self.announced().items()}
        wd = {f.name: _texts(f, p, ctx) for f, p in self.withdrawals().items()}
        if ann:
            out["announce"] = ann
        if wd:
            out["withdraw"] = wd
        if self.attrs is not None and self.attrs.raw:
            out["attributes"] = self.attrs.to_json()
        if self.reach is not None:
            out["mp_next_hop"] = [str(a) for a in self.reach.next_hops()] or self.reach.next_hop.hex()
        if self.errors:
            out["errors"] = [str(e) for e in self.errors]
            out["disposition"] = self.disposition.name.lower() if self.disposition else None
        return out


def _merge(out: dict[Family, list[bytes]], fam: Family, prefixes: list[bytes]) -> None:
    """Add prefixes of a family without mutating any list the Update holds."""
    have = out.get(fam)
    out[fam] = prefixes if have is None else have + prefixes


def _texts(fam: Family, prefixes: list[bytes], ctx: Context) -> list[str]:
    codec = CODECS.get(fam)
    if codec is None:
        return [p.hex() for p in prefixes]
    addpath = fam in ctx.addpath_rx
    return [to_text(p, codec.address_len, addpath) for p in prefixes]


def _mp_attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & c.FLAG_EXTENDED or len(value) > 255:
        return bytes((flags | c.FLAG_EXTENDED, code)) + len(value).to_bytes(2, "big") + value
    return attribute(flags, code, value)


class UpdateDecoder:
    """Decodes UPDATEs of one session. Holds the session's caches of attribute blocks and
    of checked, decoded attributes."""

    __slots__ = (
        "_blocks",
        "_eager",
        "_full",
        "_full_mp",
        "_known",
        "_next_hops",
        "_reach_heads",
        "_rules",
        "_unreach_heads",
        "_v4_inline",
        "_v4_split",
        "_v4_table",
        "ctx",
        "interner",
    )

    def __init__(self, ctx: Context = DEFAULT, interner: Interner | None = None) -> None:
        self.ctx = ctx
        self.interner = interner
        self._blocks: dict[bytes, Entry | AttrSet] = {}  # an AttrSet: the block is clean
        self._rules = fast_rules(ctx)
        self._known = AttrCache(self._rules)
        self._eager = False  # True once something asked for a set's attributes, errors or disposition
        self._next_hops: NextHops = {}
        # block -> typed values, for pyspeaker.wire.full: sets with ORIGIN, AS_PATH and
        # NEXT_HOP, and (_full_mp) those with ORIGIN and AS_PATH only; full._PLAIN marks a
        # block left to the plain path
        self._full: dict[bytes, dict[str, Any]] = {}
        self._full_mp: dict[bytes, dict[str, Any]] = {}
        self._v4_table = NBYTES_V4
        self._v4_split = split_addpath if IPV4_UNICAST in ctx.addpath_rx else split
        self._v4_inline = self._v4_split is split
        # what the usual MP_REACH_NLRI and MP_UNREACH_NLRI values start with
        self._reach_heads, self._unreach_heads = _mp_heads(ctx)

    def __len__(self) -> int:
        return len(self._blocks)

    def clear(self) -> None:
        self._blocks.clear()
        self._full.clear()
        self._full_mp.clear()
        self._known.clear()
        self._next_hops.clear()

    def parse(self, block: bytes) -> ParsedBlock:
        """Parse and validate an attribute block (RFC 7606), interning its set."""
        parsed = parse_block(block, self.ctx, self._rules)
        if self.interner is not None:
            parsed.attrs = self.interner.intern(parsed.attrs)
        return parsed

    def fill(self, entry: Entry) -> AttrSet:
        """Check a filed block and decode its values (RFC 7606); sets and returns
        ``entry.attrs``. A block whose every attribute is known and valid is checked and
        decoded in one walk, its attributes shared with the session's other sets.

        The first call also makes the decoder check and decode every new block as it
        files it: a session whose UPDATEs are looked at once is looked at throughout (a
        RIB needs every set), and one walk of a new block then does what two did."""
        self._eager = True
        block = entry.block
        attrs = self._checked_set(block)
        if attrs is None:
            parsed = self.parse(block)
            attrs = parsed.attrs
            if parsed.errors:
                entry.checked = (parsed.errors, parsed.disposition)
        entry.attrs = attrs
        entry.owner = None
        if entry.checked is _CLEAN:  # UPDATEs that carry the block from now on get the set itself
            self._blocks[block] = attrs
        return attrs

    def _checked_set(self, block: bytes) -> AttrSet | None:
        """The interned set of a block whose every attribute is known and valid, checked
        and decoded in one walk; None if the block needs the full parse."""
        fast = self._known.scan(block)
        if fast is None:
            return None
        attrs = AttrSet(block, fast[0], fast[1])
        return attrs if self.interner is None else self.interner.intern(attrs)

    def _entry(self, block: bytes) -> Entry | AttrSet | ParsedBlock:
        """The cache entry of a block not seen before. A block with no MP attribute is filed
        unparsed (checked and decoded already once the decoder is eager, see :meth:`fill`);
        one with an MP attribute is parsed now and its ParsedBlock returned, not filed,
        since its prefixes differ from one UPDATE to the next. One with an unrecognized
        well-known attribute is parsed now, which raises the NOTIFICATION it calls for."""
        if self._eager:
            attrs = self._checked_set(block)
            if attrs is not None:  # known and valid attributes only: checked and decoded now
                self._blocks[block] = attrs
                return attrs
        i = 0
        n = len(block) - 2
        while i < n:
            if _LOOK[block[i + 1]] and (
                block[i + 1] in (c.MP_REACH_NLRI, c.MP_UNREACH_NLRI) or not block[i] & c.FLAG_OPTIONAL
            ):
                # prefixes to split now, or an unrecognized well-known attribute: a session
                # reset (RFC 7606 keeps RFC 4271's 3/2), which decode() must raise itself
                return self.parse(block)
            if block[i] & c.FLAG_EXTENDED:
                if i + 3 > n + 1:
                    break
                i += 4 + ((block[i + 2] << 8) | block[i + 3])
            else:
                i += 3 + block[i + 2]
        entry = _new(Entry)  # (without __init__, as in decode)
        entry.block = block
        entry.owner = self
        entry.attrs = None
        entry.checked = _CLEAN
        self._blocks[block] = entry
        return entry

    def decode(self, data: bytes, start: int = 0, end: int = -1) -> Update:
        """Decode the UPDATE at ``data[start:end]`` (header included). Raises
        NotificationError where RFC 7606 still asks for a session reset; attribute errors
        are reported on the Update (see :attr:`Update.disposition`)."""
        if end < 0:
            end = len(data)
        i = start + 19
        if i + 4 > end:
            raise NotificationError(3, 1, b"", "UPDATE too short")
        we = i + 2 + ((data[i] << 8) | data[i + 1])
        if we + 2 > end:
            raise NotificationError(3, 1, b"", "withdrawn routes length overruns the message")
        ab = we + 2
        ae = ab + ((data[we] << 8) | data[we + 1])
        if ae > end:
            raise NotificationError(3, 1, b"", "total path attribute length overruns the message")
        try:
            withdrawn = self._v4_split(data, i + 2, we, self._v4_table) if we > i + 2 else _EMPTY
            if end == ae:
                nlri = _EMPTY
            elif self._v4_inline:
                # split() inlined: a call costs as much as splitting an UPDATE's few prefixes
                nlri = []
                k = ae
                while k < end:
                    j = k + 1 + NBYTES_V4[data[k]]
                    nlri.append(data[k:j])
                    k = j
                if k != end:
                    raise PrefixError(f"NLRI does not split into prefixes (at offset {ae})")
            else:
                nlri = self._v4_split(data, ae, end, self._v4_table)
        except PrefixError as exc:
            raise NotificationError(3, 10, b"", str(exc)) from None
        if ae == ab:
            return Update(withdrawn, nlri, None)
        blocks = self._blocks
        code = data[ab + 1] if ae - ab >= 3 else 0
        if code != 14 and code != 15:  # 14, 15: MP_REACH_NLRI, MP_UNREACH_NLRI
            block = data[ab:ae]
            entry = blocks.get(block)
            if entry is None:  # a block not seen before
                found = self._entry(block)
                if isinstance(found, ParsedBlock):  # MP attributes further in
                    return self._parsed(withdrawn, nlri, block, found)
                entry = found
            # the common case: made without a call to __init__, which costs as much again
            # as the object
            update = _new(Update)
            update.withdrawn = withdrawn
            update.nlri = nlri
            update._entry = entry
            update.reach = None
            update.unreach = None
            update._layout = None
            update._checked = None
            return update
        # An MP attribute first, as most speakers send it: the rest is an ordinary set. (A
        # block with MP attributes is never filed, its prefixes differ from one UPDATE to
        # the next: it is not looked up.)
        flags = data[ab]
        if flags & c.FLAG_EXTENDED:
            vs = ab + 4
            ve = vs + ((data[ab + 2] << 8) | data[ab + 3]) if vs <= ae else ae + 1
        else:
            vs = ab + 3
            ve = vs + data[ab + 2]
        if ve <= ae and flags & 0xC0 == c.FLAG_OPTIONAL:
            rest = data[ve:ae]
            known: Entry | AttrSet | ParsedBlock | None = blocks.get(rest)
            if known is None:
                known = self._entry(rest)
            if not isinstance(known, ParsedBlock):  # else the rest holds an MP attribute too
                if code == c.MP_REACH_NLRI:
                    reach = self._reach_at(data, vs, ve)
                    return Update(withdrawn, nlri, known, reach, None, (0, flags, -1, c.FLAG_OPTIONAL))
                unreach = self._unreach_at(data, vs, ve)
                return Update(withdrawn, nlri, known, None, unreach, (-1, c.FLAG_OPTIONAL, 0, flags))
        block = data[ab:ae]
        other = self._entry(block)
        if isinstance(other, ParsedBlock):
            return self._parsed(withdrawn, nlri, block, other)
        return Update(withdrawn, nlri, other)

    def _parsed(self, withdrawn: list[bytes], nlri: list[bytes], block: bytes, parsed: ParsedBlock) -> Update:
        """The UPDATE of a block :meth:`_entry` parsed at once (MP attributes, not first)."""
        entry = Entry.of(block, parsed)
        if parsed.reach is None and parsed.unreach is None:
            return Update(withdrawn, nlri, entry)
        layout = (parsed.reach_pos, parsed.reach_flags, parsed.unreach_pos, parsed.unreach_flags)
        return Update(
            withdrawn,
            nlri,
            entry,
            self._reach(parsed.reach) if parsed.reach is not None else None,
            self._unreach(parsed.unreach) if parsed.unreach is not None else None,
            layout,
        )

    def _reach_at(self, data: bytes, vs: int, ve: int) -> MpReach:
        """The MP_REACH_NLRI whose value is ``data[vs:ve]``: for the usual family and next
        hop length (see :func:`_mp_heads`), split where it lies; otherwise by :meth:`_reach`."""
        head = self._reach_heads.get(data[vs : vs + 4])
        if head is not None:
            fam, table, addpath = head
            hs = vs + 4
            he = hs + data[vs + 3]
            if he < ve and not addpath:
                try:
                    prefixes = split(data, he + 1, ve, table)
                except PrefixError:
                    return self._reach(data[vs:ve])  # which names the error
                return MpReach(fam, data[hs:he], prefixes, self._next_hops)
        return self._reach(data[vs:ve])  # anything else, and every error

    def _unreach_at(self, data: bytes, vs: int, ve: int) -> tuple[Family, list[bytes]]:
        """The MP_UNREACH_NLRI whose value is ``data[vs:ve]`` (see :meth:`_reach_at`)."""
        head = self._unreach_heads.get(data[vs : vs + 3])
        if head is not None and not head[2]:
            try:
                return head[0], split(data, vs + 3, ve, head[1])
            except PrefixError:
                pass
        return self._unreach(data[vs:ve])

    def _reach(self, value: bytes) -> MpReach:
        n = len(value)
        if n < 5:
            raise NotificationError(3, 9, _attr(c.MP_REACH_NLRI, value), "MP_REACH_NLRI too short")
        fam = BY_KEY.get(((value[0] << 8) | value[1], value[2])) or family((value[0] << 8) | value[1], value[2])
        nh_len = value[3]
        nlri_start = 5 + nh_len
        if nlri_start > n:
            raise NotificationError(3, 9, _attr(c.MP_REACH_NLRI, value), "MP_REACH_NLRI next hop overruns")
        next_hop = value[4 : 4 + nh_len]
        codec = CODECS.get(fam)
        if codec is None:  # a family we do not speak: its NLRI kept as one opaque item
            return MpReach(fam, next_hop, [value[nlri_start:]] if nlri_start < n else [])
        if codec.address_len == 16:
            ok = nh_len in (16, 32)
        else:
            ok = nh_len == 4 or (nh_len in (16, 32) and fam in self.ctx.extended_nexthop)
        if not ok:
            raise NotificationError(3, 9, _attr(c.MP_REACH_NLRI, value), f"next hop length {nh_len} for {fam}")
        splitter = split_addpath if fam in self.ctx.addpath_rx else split
        try:
            prefixes = splitter(value, nlri_start, n, TABLES[codec.max_bits])
        except PrefixError as exc:
            raise NotificationError(3, 9, _attr(c.MP_REACH_NLRI, value), f"MP_REACH_NLRI: {exc}") from None
        return MpReach(fam, next_hop, prefixes, self._next_hops)

    def _unreach(self, value: bytes) -> tuple[Family, list[bytes]]:
        n = len(value)
        if n < 3:
            raise NotificationError(3, 9, _attr(c.MP_UNREACH_NLRI, value), "MP_UNREACH_NLRI too short")
        afi = (value[0] << 8) | value[1]
        fam = BY_KEY.get((afi, value[2])) or family(afi, value[2])
        codec = CODECS.get(fam)
        if codec is None:  # a family we do not speak: its NLRI kept as one opaque item
            return fam, [value[3:]] if n > 3 else []
        splitter = split_addpath if fam in self.ctx.addpath_rx else split
        try:
            return fam, splitter(value, 3, n, TABLES[codec.max_bits])
        except PrefixError as exc:
            raise NotificationError(3, 9, _attr(c.MP_UNREACH_NLRI, value), f"MP_UNREACH_NLRI: {exc}") from None

    def iter_updates(self, data: bytes) -> Iterator[Update]:
        """Decode every UPDATE in a stream of concatenated messages (others are skipped)."""
        from .framing import iter_frames

        for msg_type, start, end in iter_frames(data, self.ctx.max_message_len):
            if msg_type == c.UPDATE:
                yield self.decode(data, start, end)


MpHeads = dict[bytes, tuple[Family, tuple[int, ...], bool]]


def _mp_heads(ctx: Context) -> tuple[MpHeads, MpHeads]:
    """The first octets of the MP attribute values this session may receive for the
    families the codec speaks, each with (family, NLRI length table, ADD-PATH): AFI, SAFI
    and every valid next hop length (MP_REACH_NLRI, as :meth:`UpdateDecoder._reach` checks
    them), and AFI and SAFI (MP_UNREACH_NLRI)."""
    reach: MpHeads = {}
    unreach: MpHeads = {}
    for fam, codec in CODECS.items():
        key = fam.afi.to_bytes(2, "big") + bytes((fam.safi,))
        item = (fam, TABLES[codec.max_bits], fam in ctx.addpath_rx)
        unreach[key] = item
        lengths = (16, 32) if codec.address_len == 16 else (4, 16, 32) if fam in ctx.extended_nexthop else (4,)
        for nh_len in lengths:
            reach[key + bytes((nh_len,))] = item
    return reach, unreach


def _attr(code: int, value: bytes) -> bytes:
    return _mp_attr(c.FLAG_OPTIONAL, code, value)


def _missing(
    errors: tuple[AttrError, ...], attrs: AttrSet, need: int
) -> tuple[tuple[AttrError, ...], Disposition | None]:
    names = [n for bit, n in _MANDATORY_NAMES if need & bit and not attrs.mandatory & bit]
    err = AttrError(Disposition.TREAT_AS_WITHDRAW, 0, f"missing well-known attribute {', '.join(names)}", 3)
    errs = (*errors, err)
    return errs, max(e.disposition for e in errs)
