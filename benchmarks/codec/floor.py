"""The pure-Python floor: the least work any UPDATE codec must do.

``decode_floor`` only splits messages, slices every prefix out as ``bytes`` and
looks each attribute block up in a dict keyed by its bytes.  ``encode_floor``
only packs wire-form prefixes behind cached attribute bytes.  No real codec in
Python can be faster than these loops, so they are the yardstick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

MARKER = b"\xff" * 16
MAX_MESSAGE = 4096
UPDATE = 2
MP_REACH_NLRI = 14
MP_UNREACH_NLRI = 15

# Octets one NLRI entry takes on the wire (length octet included), by prefix length.
WIRE_SIZE: tuple[int, ...] = tuple(1 + ((n + 7) >> 3) for n in range(256))

Group = tuple[bytes, list[bytes]]  # (raw IPv4 attribute block, wire-form prefixes)


def decode_floor(data: bytes) -> int:
    """Split ``data`` into messages and slice out every prefix; return their count.

    Withdrawn and announced prefixes of both families are counted; End-of-RIB
    markers count zero.  Attribute blocks are interned in a dict by their bytes
    (for IPv6, the block without MP_REACH_NLRI plus the next hop)."""
    size = WIRE_SIZE
    cache: dict[bytes, bytes] = {}
    get = cache.get
    count = 0
    pos = 0
    end = len(data)
    while pos < end:
        stop = pos + ((data[pos + 16] << 8) | data[pos + 17])
        if data[pos + 18] != UPDATE:
            pos = stop
            continue
        prefixes: list[bytes] = []
        append = prefixes.append
        # Withdrawn routes.
        i = pos + 21
        wend = i + ((data[pos + 19] << 8) | data[pos + 20])
        while i < wend:
            n = size[data[i]]
            append(data[i : i + n])
            i += n
        # Path attributes.
        alen = (data[wend] << 8) | data[wend + 1]
        a = wend + 2
        aend = a + alen
        if alen:
            code = data[a + 1]
            if code != MP_REACH_NLRI and code != MP_UNREACH_NLRI:
                block = data[a:aend]
                if get(block) is None and not _mp_block(data, a, aend, cache, append):
                    cache[block] = block
            else:
                _mp_block(data, a, aend, cache, append)
        # IPv4 NLRI.
        i = aend
        while i < stop:
            n = size[data[i]]
            append(data[i : i + n])
            i += n
        count += len(prefixes)
        pos = stop
    return count


def _mp_block(data: bytes, a: int, aend: int, cache: dict[bytes, bytes], add: Callable[[bytes], None]) -> bool:
    """Walk an attribute block; slice MP_(UN)REACH_NLRI prefixes out through ``append``.

    Returns False if the block holds no MP attribute (the caller then interns it)."""
    size = WIRE_SIZE
    i = a
    while i < aend:
        flags = data[i]
        code = data[i + 1]
        if flags & 0x10:
            vlen = (data[i + 2] << 8) | data[i + 3]
            v = i + 4
        else:
            vlen = data[i + 2]
            v = i + 3
        vend = v + vlen
        if code in (MP_REACH_NLRI, MP_UNREACH_NLRI):
            if code == MP_REACH_NLRI:
                nh_end = v + 4 + data[v + 3]
                key = data[v + 3 : nh_end] + data[a:i] + data[vend:aend]
                if key not in cache:
                    cache[key] = key
                j = nh_end + 1
            else:
                j = v + 3
            while j < vend:
                n = size[data[j]]
                add(data[j : j + n])
                j += n
            return True
        i = vend
    return False


def iter_updates(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """Yield (withdrawn field, attribute block, NLRI field) of every UPDATE."""
    pos = 0
    end = len(data)
    while pos < end:
        stop = pos + int.from_bytes(data[pos + 16 : pos + 18], "big")
        if data[pos + 18] == UPDATE:
            wend = pos + 21 + int.from_bytes(data[pos + 19 : pos + 21], "big")
            aend = wend + 2 + int.from_bytes(data[wend : wend + 2], "big")
            yield data[pos + 21 : wend], data[wend + 2 : aend], data[aend:stop]
        pos = stop


def split_prefixes(field: bytes) -> list[bytes]:
    """Wire-form prefixes (length octet + significant octets) of an NLRI field."""
    out: list[bytes] = []
    i = 0
    while i < len(field):
        n = WIRE_SIZE[field[i]]
        out.append(field[i : i + n])
        i += n
    return out


def prepare_encode_input(data: bytes) -> list[Group]:
    """Every distinct IPv4 attribute block of ``data`` with its announced prefixes.

    Groups are in first-seen order; prefixes keep their wire form."""
    groups: dict[bytes, list[bytes]] = {}
    for _withdrawn, attrs, nlri in iter_updates(data):
        if nlri:
            groups.setdefault(attrs, []).extend(split_prefixes(nlri))
    return list(groups.items())


def chunk_group(attrs: bytes, prefixes: list[bytes], limit: int = MAX_MESSAGE) -> list[list[bytes]]:
    """Split one group's prefixes into runs that each fit one UPDATE of ``limit`` octets."""
    room = limit - 23 - len(attrs)
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    used = 0
    for p in prefixes:
        if used + len(p) > room and current:
            chunks.append(current)
            current = []
            used = 0
        current.append(p)
        used += len(p)
    if current:
        chunks.append(current)
    return chunks


def encode_floor(groups: list[Group], sink: list[bytes] | None = None) -> int:
    """Pack every group's prefixes into UPDATEs of at most 4096 octets.

    The attribute bytes (with their length field) are built once per group and
    reused.  Returns the number of prefixes encoded; the messages go to ``sink``
    when one is given."""
    out: list[bytes] = [] if sink is None else sink
    emit = out.append
    join = b"".join
    head = MARKER
    count = 0
    for attrs, prefixes in groups:
        fixed = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs
        room = MAX_MESSAGE - 19 - len(fixed)
        start = 0
        used = 0
        n = len(prefixes)
        for i in range(n):
            plen = len(prefixes[i])
            if used + plen > room:
                body = join(prefixes[start:i])
                emit(join((head, (19 + len(fixed) + used).to_bytes(2, "big"), b"\x02", fixed, body)))
                start = i
                used = 0
            used += plen
        if start < n:
            body = join(prefixes[start:n])
            emit(join((head, (19 + len(fixed) + used).to_bytes(2, "big"), b"\x02", fixed, body)))
        count += n
    return count
