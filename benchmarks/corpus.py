"""Deterministic, Internet-like BGP UPDATE corpus generator.

Self-contained: this module has its own tiny UPDATE encoder and does not import
pyspeaker, so that it can serve as an independent reference for the codec.

The output is a stream of raw BGP messages (16 x 0xFF marker, 2-byte length,
type) as a 4-octet-AS session without ADD-PATH and with a maximum message size
of 4096 octets would carry them:

* IPv4 unicast announcements: several prefixes sharing one attribute set per
  UPDATE, NLRI in the classic NLRI field with a NEXT_HOP attribute.
* IPv6 unicast announcements: MP_REACH_NLRI (AFI 2, SAFI 1) placed first in the
  attribute block (as BIRD does), 16- or 32-octet next hop, no NEXT_HOP.
* Withdrawals of a fraction of the announced prefixes, interleaved after their
  announcements (IPv4 in the withdrawn-routes field, IPv6 in MP_UNREACH_NLRI).
* End-of-RIB markers for both families at the end.

CLI::

    python -m benchmarks.corpus --v4 1000000 --v6 200000 --seed 1 -o benchmarks/data/corpus.bgp
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MARKER = b"\xff" * 16
MAX_MESSAGE = 4096
HEADER_LEN = 19
UPDATE_MIN = 23  # header + withdrawn length + attributes length

# Attribute flag bits.
OPTIONAL = 0x80
TRANSITIVE = 0x40
EXTENDED = 0x10

# Attribute type codes.
ORIGIN = 1
AS_PATH = 2
NEXT_HOP = 3
MED = 4
LOCAL_PREF = 5
ATOMIC_AGGREGATE = 6
AGGREGATOR = 7
COMMUNITIES = 8
MP_REACH_NLRI = 14
MP_UNREACH_NLRI = 15
EXTENDED_COMMUNITIES = 16
LARGE_COMMUNITY = 32

AFI_IPV6_SAFI_UNICAST = b"\x00\x02\x01"

# Prefix-length mixes (weights), roughly shaped like the real global tables.
V4_LENGTHS: dict[int, float] = {
    8: 0.002,
    9: 0.004,
    10: 0.01,
    11: 0.03,
    12: 0.06,
    13: 0.1,
    14: 0.15,
    15: 0.2,
    16: 1.3,
    17: 0.9,
    18: 1.6,
    19: 3.0,
    20: 5.3,
    21: 5.2,
    22: 11.5,
    23: 9.5,
    24: 58.0,
    25: 0.06,
    26: 0.05,
    27: 0.04,
    28: 0.03,
    29: 0.03,
    30: 0.02,
    31: 0.005,
    32: 0.05,
}
V6_LENGTHS: dict[int, float] = {
    19: 0.02,
    20: 0.04,
    22: 0.03,
    24: 0.05,
    26: 0.05,
    27: 0.05,
    28: 0.4,
    29: 3.2,
    30: 0.8,
    31: 0.6,
    32: 12.5,
    33: 0.9,
    34: 1.0,
    35: 0.8,
    36: 4.2,
    37: 0.4,
    38: 1.3,
    39: 0.4,
    40: 7.5,
    41: 0.5,
    42: 1.6,
    43: 0.5,
    44: 8.8,
    45: 1.2,
    46: 2.6,
    47: 2.6,
    48: 45.0,
    52: 0.15,
    56: 1.2,
    60: 0.08,
    64: 0.2,
}
# AS_SEQUENCE length 1..12 (mean about 4.4).
PATH_LENGTHS: dict[int, float] = {
    1: 3.0,
    2: 10.0,
    3: 21.0,
    4: 24.0,
    5: 17.0,
    6: 11.0,
    7: 6.5,
    8: 3.5,
    9: 1.8,
    10: 1.1,
    11: 0.6,
    12: 0.5,
}
UPSTREAMS: tuple[int, ...] = (3356, 1299, 174, 2914, 6939, 6453, 3257, 6762, 9002, 33891, 199524)
COMMUNITY_ASNS: tuple[int, ...] = tuple(a for a in UPSTREAMS if a < 65536)
LOCAL_PREFS: tuple[int, ...] = (100, 100, 100, 100, 100, 90, 80, 110, 120, 150, 200, 50)
V4_NEXT_HOPS: tuple[bytes, ...] = tuple(bytes((192, 0, 2, i)) for i in (1, 2, 3, 4, 5, 6))
V6_NEXT_HOPS: tuple[bytes, ...] = tuple(
    bytes.fromhex("20010db8000000000000000000000000")[:15] + bytes((i,)) for i in (1, 2, 3, 4, 5)
)
V6_LINK_LOCALS: tuple[bytes, ...] = tuple(
    bytes.fromhex("fe800000000000000200") + bytes((0x5E, 0xFF, 0xFE, 0, 0, i)) for i in (1, 2, 3, 4, 5)
)

Prefix = bytes  # wire form: length octet + significant address octets


def _cum(table: dict[int, float]) -> tuple[list[int], list[float]]:
    keys = list(table)
    cum: list[float] = []
    total = 0.0
    for k in keys:
        total += table[k]
        cum.append(total)
    return keys, cum


def attribute(flags: int, code: int, value: bytes) -> bytes:
    """Encode one path attribute; the extended-length bit only when needed."""
    n = len(value)
    if n > 255:
        return bytes((flags | EXTENDED, code)) + n.to_bytes(2, "big") + value
    return bytes((flags & ~EXTENDED, code, n)) + value


def update(withdrawn: bytes, attrs: bytes, nlri: bytes) -> bytes:
    """Encode one UPDATE message from its already-encoded fields."""
    total = UPDATE_MIN + len(withdrawn) + len(attrs) + len(nlri)
    if total > MAX_MESSAGE:
        raise ValueError(f"UPDATE of {total} octets exceeds {MAX_MESSAGE}")
    return b"".join(
        (
            MARKER,
            total.to_bytes(2, "big"),
            b"\x02",
            len(withdrawn).to_bytes(2, "big"),
            withdrawn,
            len(attrs).to_bytes(2, "big"),
            attrs,
            nlri,
        )
    )


def mp_reach_ipv6(next_hop: bytes, nlri: bytes) -> bytes:
    value = AFI_IPV6_SAFI_UNICAST + bytes((len(next_hop),)) + next_hop + b"\x00" + nlri
    return attribute(OPTIONAL, MP_REACH_NLRI, value)


def mp_unreach_ipv6(nlri: bytes) -> bytes:
    return attribute(OPTIONAL, MP_UNREACH_NLRI, AFI_IPV6_SAFI_UNICAST + nlri)


def end_of_rib_ipv4() -> bytes:
    return update(b"", b"", b"")


def end_of_rib_ipv6() -> bytes:
    return update(b"", mp_unreach_ipv6(b""), b"")


def _prefixes(rng: random.Random, n: int, v6: bool) -> list[Prefix]:
    """Draw ``n`` unique prefixes (host bits zero) following the length mix."""
    keys, cum = _cum(V6_LENGTHS if v6 else V4_LENGTHS)
    lengths = rng.choices(keys, cum_weights=cum, k=n)
    getrandbits = rng.getrandbits
    randrange = rng.randrange
    seen: set[int] = set()
    out: list[Prefix] = []
    append = out.append
    for plen in lengths:
        while True:
            if v6:  # global unicast 2000::/3
                bits = (1 << (plen - 3)) | getrandbits(plen - 3)
            else:  # first octet 1..223
                bits = (randrange(1, 224) << (plen - 8)) | getrandbits(plen - 8)
            key = (bits << 8) | plen
            if key not in seen:
                break
            plen = rng.choices(keys, cum_weights=cum)[0]  # collision: redraw both
        seen.add(key)
        nbytes = (plen + 7) >> 3
        append(bytes((plen,)) + (bits << (nbytes * 8 - plen)).to_bytes(nbytes, "big"))
    return out


def _asn(rng: random.Random) -> int:
    if rng.random() < 0.3:
        return rng.randrange(131072, 401309)  # 4-octet-only ASNs
    return rng.randrange(1, 64496)


def _as_path(rng: random.Random, path_keys: list[int], path_cum: list[float]) -> tuple[bytes, int]:
    length = rng.choices(path_keys, cum_weights=path_cum)[0]
    asns = [rng.choice(UPSTREAMS)]
    asns.extend(_asn(rng) for _ in range(length - 1))
    if length > 2 and rng.random() < 0.12:  # origin prepending
        prepend = min(rng.randint(1, 4), length - 2)
        asns[length - prepend :] = [asns[length - prepend - 1]] * prepend
    value = bytes((2, length)) + b"".join(a.to_bytes(4, "big") for a in asns)
    if rng.random() < 0.01:  # trailing AS_SET
        members = [_asn(rng) for _ in range(rng.randint(1, 4))]
        value += bytes((1, len(members))) + b"".join(a.to_bytes(4, "big") for a in members)
    return attribute(TRANSITIVE, AS_PATH, value), asns[-1]


def _attribute_set(rng: random.Random, path_keys: list[int], path_cum: list[float], next_hop: bytes | None) -> bytes:
    """One attribute block without MP attributes, in ascending type-code order.

    ``next_hop`` is the IPv4 NEXT_HOP (None for IPv6 sets)."""
    r = rng.random()
    origin = 0 if r < 0.86 else (2 if r < 0.97 else 1)
    parts = [attribute(TRANSITIVE, ORIGIN, bytes((origin,)))]
    as_path, origin_as = _as_path(rng, path_keys, path_cum)
    parts.append(as_path)
    if next_hop is not None:
        parts.append(attribute(TRANSITIVE, NEXT_HOP, next_hop))
    if rng.random() < 0.3:
        parts.append(
            attribute(OPTIONAL, MED, rng.choice((0, 0, 10, 20, 50, 100, rng.randrange(1 << 16))).to_bytes(4, "big"))
        )
    if rng.random() < 0.92:
        parts.append(attribute(TRANSITIVE, LOCAL_PREF, rng.choice(LOCAL_PREFS).to_bytes(4, "big")))
    if rng.random() < 0.03:
        parts.append(attribute(TRANSITIVE, ATOMIC_AGGREGATE, b""))
        agg = origin_as.to_bytes(4, "big") + rng.getrandbits(32).to_bytes(4, "big")
        parts.append(attribute(OPTIONAL | TRANSITIVE, AGGREGATOR, agg))
    if rng.random() < 0.6:
        n = min(12, 1 + int(rng.expovariate(1 / 2.5)))
        comms = b"".join(
            (rng.choice(COMMUNITY_ASNS) << 16 | rng.choice((rng.randrange(1 << 16), rng.randrange(3000)))).to_bytes(
                4, "big"
            )
            for _ in range(n)
        )
        parts.append(attribute(OPTIONAL | TRANSITIVE, COMMUNITIES, comms))
    if rng.random() < 0.05:
        ext = b"".join(
            b"\x00\x02" + rng.randrange(1, 64496).to_bytes(2, "big") + rng.getrandbits(16).to_bytes(4, "big")
            for _ in range(rng.randint(1, 3))
        )
        parts.append(attribute(OPTIONAL | TRANSITIVE, EXTENDED_COMMUNITIES, ext))
    if rng.random() < 0.1:
        large = b"".join(
            origin_as.to_bytes(4, "big")
            + rng.randrange(1000).to_bytes(4, "big")
            + rng.randrange(1 << 20).to_bytes(4, "big")
            for _ in range(rng.randint(1, 4))
        )
        parts.append(attribute(OPTIONAL | TRANSITIVE, LARGE_COMMUNITY, large))
    return b"".join(parts)


def _chunk_size(rng: random.Random, remaining: int) -> int:
    """Prefixes per UPDATE: skewed, mean about 4; sometimes as many as fit."""
    if rng.random() < 0.05:
        return remaining
    return 1 + int(rng.expovariate(1 / 3.0))


def _pack(prefixes: list[Prefix], start: int, want: int, room: int) -> int:
    """Index one past the last prefix from ``start`` that fits ``want``/``room``."""
    end = start
    stop = min(len(prefixes), start + want)
    while end < stop:
        room -= len(prefixes[end])
        if room < 0:
            break
        end += 1
    return max(end, start + 1)


def _announcements(rng: random.Random, prefixes: list[Prefix], v6: bool) -> list[tuple[bytes, list[Prefix]]]:
    """Group prefixes into attribute sets and the sets into UPDATE messages."""
    path_keys, path_cum = _cum(PATH_LENGTHS)
    out: list[tuple[bytes, list[Prefix]]] = []
    mu = math.log(11.0) - 1.5 * 1.5 / 2  # lognormal set sizes, mean ~11 prefixes per set
    i = 0
    n = len(prefixes)
    while i < n:
        size = max(1, int(rng.lognormvariate(mu, 1.5)))
        members = prefixes[i : i + size]
        i += size
        if v6:
            nh = rng.choice(V6_NEXT_HOPS)
            if rng.random() < 0.2:
                nh += rng.choice(V6_LINK_LOCALS)
            rest = _attribute_set(rng, path_keys, path_cum, None)
            # 4-octet attribute header (worst case) + AFI/SAFI/NH length/reserved + NH
            room = MAX_MESSAGE - UPDATE_MIN - len(rest) - 4 - 5 - len(nh)
        else:
            attrs = _attribute_set(rng, path_keys, path_cum, rng.choice(V4_NEXT_HOPS))
            room = MAX_MESSAGE - UPDATE_MIN - len(attrs)
        j = 0
        while j < len(members):
            end = _pack(members, j, _chunk_size(rng, len(members) - j), room)
            chunk = members[j:end]
            j = end
            nlri = b"".join(chunk)
            if v6:
                out.append((update(b"", mp_reach_ipv6(nh, nlri) + rest, b""), chunk))
            else:
                out.append((update(b"", attrs, nlri), chunk))
    return out


def _withdrawals(pending: list[Prefix], v6: bool) -> list[bytes]:
    """Pack pending withdrawals into as few UPDATEs as fit."""
    room = MAX_MESSAGE - UPDATE_MIN - (7 if v6 else 0)
    out: list[bytes] = []
    i = 0
    while i < len(pending):
        end = _pack(pending, i, len(pending), room)
        field = b"".join(pending[i:end])
        out.append(update(b"", mp_unreach_ipv6(field), b"") if v6 else update(field, b"", b""))
        i = end
    return out


def generate(v4: int, v6: int, seed: int, withdraw_ratio: float = 0.1) -> bytes:
    """Return the concatenated raw BGP messages of a deterministic corpus.

    ``v4``/``v6`` unique prefixes are announced, ``withdraw_ratio`` of them are
    withdrawn again later, and both End-of-RIB markers close the stream."""
    if v4 < 0 or v6 < 0 or not 0.0 <= withdraw_ratio <= 1.0:
        raise ValueError("bad corpus parameters")
    rng = random.Random(seed)
    families = (False, True)
    tables = {fam: _prefixes(rng, n, fam) for fam, n in zip(families, (v4, v6), strict=True)}
    withdrawn: dict[bool, set[Prefix]] = {
        fam: set(rng.sample(tables[fam], round(withdraw_ratio * len(tables[fam])))) for fam in families
    }
    tagged: list[tuple[bool, bytes, list[Prefix]]] = []
    for fam in families:
        tagged.extend((fam, msg, chunk) for msg, chunk in _announcements(rng, tables[fam], fam))
    rng.shuffle(tagged)

    out: list[bytes] = []
    pending: dict[bool, list[Prefix]] = {False: [], True: []}
    threshold = {fam: rng.randint(8, 600) for fam in families}
    for fam, msg, chunk in tagged:
        out.append(msg)
        gone = withdrawn[fam]
        pending[fam].extend(p for p in chunk if p in gone)
        if len(pending[fam]) >= threshold[fam]:
            out.extend(_withdrawals(pending[fam], fam))
            pending[fam] = []
            threshold[fam] = rng.randint(8, 600)
    for fam in families:
        out.extend(_withdrawals(pending[fam], fam))
    out.append(end_of_rib_ipv4())
    out.append(end_of_rib_ipv6())
    return b"".join(out)


def generate_small(seed: int = 1) -> bytes:
    """A small corpus (3000 IPv4 + 1000 IPv6 prefixes) for tests."""
    return generate(3000, 1000, seed)


def iter_messages(data: bytes) -> Iterator[bytes]:
    """Split a raw stream into whole messages (header included), checking framing."""
    view = memoryview(data)
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < HEADER_LEN or data[pos : pos + 16] != MARKER:
            raise ValueError(f"bad message header at offset {pos}")
        length = int.from_bytes(view[pos + 16 : pos + 18], "big")
        if length < HEADER_LEN or length > MAX_MESSAGE or pos + length > end:
            raise ValueError(f"bad message length {length} at offset {pos}")
        yield bytes(view[pos : pos + length])
        pos += length


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--v4", type=int, default=1_000_000, help="IPv4 prefixes to announce")
    parser.add_argument("--v6", type=int, default=200_000, help="IPv6 prefixes to announce")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--withdraw-ratio", type=float, default=0.1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(args.v4, args.v6, args.seed, args.withdraw_ratio)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    count = sum(1 for _ in iter_messages(data))
    print(
        f"wrote {args.output}: {len(data)} octets, {count} messages in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
