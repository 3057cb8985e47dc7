"""UPDATE messages: the decoder (hot path) and the decoded value.

The decoder keeps, per session, a dict from received attribute-block bytes to the parsed
and validated result, so a block seen before costs one dict look-up. Prefixes are sliced
out in wire form. Nothing per prefix is built beyond the ``bytes`` slice itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from . import constants as c
from .attrs import HAS_ALL, HAS_ORIGIN_AS_PATH, AttrSet, Interner, ParsedBlock, attribute, parse_block
from .context import DEFAULT, Context
from .errors import AttrError, Disposition, NotificationError
from .family import BY_KEY, CODECS, IPV4_UNICAST, Family, family
from .prefix import NBYTES_V4, TABLES, PrefixError, split, split_addpath, to_text

_EMPTY: list[bytes] = []
_MANDATORY_NAMES = ((1, "ORIGIN"), (2, "AS_PATH"), (4, "NEXT_HOP"))


class MpReach:
    """The MP_REACH_NLRI of one UPDATE: family, next hop (raw) and wire-form prefixes."""

    __slots__ = ("family", "next_hop", "prefixes")

    def __init__(self, fam: Family, next_hop: bytes, prefixes: list[bytes]) -> None:
        self.family = fam
        self.next_hop = next_hop
        self.prefixes = prefixes

    def next_hops(self) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """The next hop addresses: one, or global + link-local for a 32-octet IPv6 next hop."""
        nh = self.next_hop
        if len(nh) == 4:
            return [ipaddress.IPv4Address(nh)]
        if len(nh) == 16:
            return [ipaddress.IPv6Address(nh)]
        if len(nh) == 32:
            return [ipaddress.IPv6Address(nh[:16]), ipaddress.IPv6Address(nh[16:])]
        return []


class Update:
    """A decoded UPDATE.

    ``withdrawn`` and ``nlri`` are the IPv4 unicast prefixes of the classic fields; ``reach``
    and ``unreach`` the multiprotocol ones. ``attrs`` is the interned attribute set (None when
    the UPDATE carries none). ``errors`` lists RFC 7606 findings; when ``disposition`` is
    TREAT_AS_WITHDRAW every announced prefix must be handled as withdrawn, which
    :meth:`announced` and :meth:`withdrawals` already do.
    """

    __slots__ = ("_layout", "attrs", "disposition", "errors", "nlri", "reach", "unreach", "withdrawn")

    def __init__(
        self,
        withdrawn: list[bytes],
        nlri: list[bytes],
        attrs: AttrSet | None,
        reach: MpReach | None = None,
        unreach: tuple[Family, list[bytes]] | None = None,
        errors: tuple[AttrError, ...] = (),
        disposition: Disposition | None = None,
        layout: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.withdrawn = withdrawn
        self.nlri = nlri
        self.attrs = attrs
        self.reach = reach
        self.unreach = unreach
        self.errors = errors
        self.disposition = disposition
        self._layout = layout

    # -- what the UPDATE means, per family ---------------------------------------------
    @property
    def treat_as_withdraw(self) -> bool:
        return self.disposition is Disposition.TREAT_AS_WITHDRAW

    def announced(self) -> dict[Family, list[bytes]]:
        if self.disposition is Disposition.TREAT_AS_WITHDRAW:
            return {}
        out: dict[Family, list[bytes]] = {}
        if self.nlri:
            out[IPV4_UNICAST] = self.nlri
        if self.reach is not None and self.reach.prefixes:
            _merge(out, self.reach.family, self.reach.prefixes)
        return out

    def withdrawals(self) -> dict[Family, list[bytes]]:
        out: dict[Family, list[bytes]] = {}
        if self.withdrawn:
            out[IPV4_UNICAST] = self.withdrawn
        if self.unreach is not None and self.unreach[1]:
            _merge(out, self.unreach[0], self.unreach[1])
        if self.disposition is Disposition.TREAT_AS_WITHDRAW:
            if self.nlri:
                _merge(out, IPV4_UNICAST, self.nlri)
            if self.reach is not None and self.reach.prefixes:
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
        inserts: list[tuple[int, bytes]] = []
        reach_pos, reach_flags, unreach_pos, unreach_flags = self._layout or (-1, 0x80, -1, 0x80)
        if self.unreach is not None:
            fam, prefixes = self.unreach
            value = fam.afi.to_bytes(2, "big") + bytes((fam.safi,)) + b"".join(prefixes)
            inserts.append((unreach_pos if unreach_pos >= 0 else 0, _mp_attr(unreach_flags, c.MP_UNREACH_NLRI, value)))
        if self.reach is not None:
            r = self.reach
            value = (
                r.family.afi.to_bytes(2, "big")
                + bytes((r.family.safi, len(r.next_hop)))
                + r.next_hop
                + b"\0"
                + b"".join(r.prefixes)
            )
            inserts.append((reach_pos if reach_pos >= 0 else 0, _mp_attr(reach_flags, c.MP_REACH_NLRI, value)))
        if inserts:
            inserts.sort(key=lambda x: x[0])
            parts = []
            last = 0
            for pos, piece in inserts:
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
    """Decodes UPDATEs of one session. Holds the session's block cache."""

    __slots__ = ("_blocks", "_v4_split", "_v4_table", "ctx", "interner")

    def __init__(self, ctx: Context = DEFAULT, interner: Interner | None = None) -> None:
        self.ctx = ctx
        self.interner = interner
        self._blocks: dict[bytes, ParsedBlock] = {}
        self._v4_table = NBYTES_V4
        self._v4_split = split_addpath if IPV4_UNICAST in ctx.addpath_rx else split

    def __len__(self) -> int:
        return len(self._blocks)

    def clear(self) -> None:
        self._blocks.clear()

    def decode(self, data: bytes, start: int = 0, end: int = -1) -> Update:
        """Decode the UPDATE at ``data[start:end]`` (header included)."""
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
            nlri = self._v4_split(data, ae, end, self._v4_table) if end > ae else _EMPTY
        except PrefixError as exc:
            raise NotificationError(3, 10, b"", str(exc)) from None
        if ae == ab:
            if nlri:
                err = AttrError(Disposition.TREAT_AS_WITHDRAW, 0, "NLRI without path attributes", 3)
                return Update(withdrawn, nlri, None, errors=(err,), disposition=err.disposition)
            return Update(withdrawn, nlri, None)
        block = data[ab:ae]
        parsed = self._blocks.get(block)
        if parsed is None:
            parsed = parse_block(block, self.ctx)
            if self.interner is not None:
                parsed.attrs = self.interner.intern(parsed.attrs)
            if parsed.reach is None and parsed.unreach is None:
                self._blocks[block] = parsed
        attrs = parsed.attrs
        disposition = parsed.disposition
        errors = parsed.errors
        if parsed.reach is None and parsed.unreach is None:
            if nlri and attrs.mandatory != HAS_ALL:
                errors, disposition = _missing(errors, attrs, HAS_ALL)
            return Update(withdrawn, nlri, attrs, None, None, errors, disposition)
        reach = self._reach(parsed.reach) if parsed.reach is not None else None
        unreach = self._unreach(parsed.unreach) if parsed.unreach is not None else None
        need = HAS_ALL if nlri else HAS_ORIGIN_AS_PATH
        if (nlri or (reach is not None and reach.prefixes)) and attrs.mandatory & need != need:
            errors, disposition = _missing(errors, attrs, need)
        layout = (parsed.reach_pos, parsed.reach_flags, parsed.unreach_pos, parsed.unreach_flags)
        return Update(withdrawn, nlri, attrs, reach, unreach, errors, disposition, layout)

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
        if codec is None:
            return MpReach(fam, next_hop, [])  # a family we do not speak: ignored
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
        return MpReach(fam, next_hop, prefixes)

    def _unreach(self, value: bytes) -> tuple[Family, list[bytes]]:
        n = len(value)
        if n < 3:
            raise NotificationError(3, 9, _attr(c.MP_UNREACH_NLRI, value), "MP_UNREACH_NLRI too short")
        afi = (value[0] << 8) | value[1]
        fam = BY_KEY.get((afi, value[2])) or family(afi, value[2])
        codec = CODECS.get(fam)
        if codec is None:
            return fam, []
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


def _attr(code: int, value: bytes) -> bytes:
    return _mp_attr(c.FLAG_OPTIONAL, code, value)


def _missing(
    errors: tuple[AttrError, ...], attrs: AttrSet, need: int
) -> tuple[tuple[AttrError, ...], Disposition]:
    names = [n for bit, n in _MANDATORY_NAMES if need & bit and not attrs.mandatory & bit]
    err = AttrError(Disposition.TREAT_AS_WITHDRAW, 0, f"missing well-known attribute {', '.join(names)}", 3)
    errs = (*errors, err)
    return errs, max(e.disposition for e in errs)
