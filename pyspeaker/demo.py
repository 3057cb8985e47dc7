"""``pyspeaker demo``: build a table, encode it, decode it back, and show what it costs."""

from __future__ import annotations

import json
import random
import time

from .wire import IPV4_UNICAST, IPV6_UNICAST, AsPath, Context, Decoder, Update, build_attrs, pack


def _table(count: int, rng: random.Random) -> dict[bytes, list[bytes]]:
    """Prefixes grouped by attribute set: wire-form /24s and /48s."""
    groups: dict[bytes, list[bytes]] = {}
    sets = [
        build_attrs(
            origin=0,
            as_path=AsPath.sequence(*[rng.randrange(1, 4_200_000_000) for _ in range(rng.randint(1, 6))]),
            next_hop=f"192.0.2.{rng.randint(1, 254)}",
            local_pref=100,
            communities=[(65000 << 16) | rng.randrange(1000)],
        ).raw
        for _ in range(max(1, count // 10))
    ]
    seen: set[bytes] = set()
    while len(seen) < count:
        p = bytes((24, rng.randrange(1, 224), rng.randrange(256), rng.randrange(256)))
        if p not in seen:
            seen.add(p)
            groups.setdefault(rng.choice(sets), []).append(p)
    return groups


def main_demo(count: int = 200_000, seed: int = 1) -> int:
    rng = random.Random(seed)
    print(f"pyspeaker codec demo: {count:,} IPv4 prefixes + {count // 5:,} IPv6 prefixes, seed {seed}")
    groups = _table(count, rng)
    t0 = time.perf_counter()
    msgs: list[bytes] = []
    for attrs, prefixes in groups.items():
        msgs += pack.announce_ipv4(attrs, prefixes)
    t_enc = time.perf_counter() - t0
    v6 = [bytes((48,)) + rng.randbytes(6) for _ in range(count // 5)]
    attrs6 = build_attrs(origin=0, as_path=AsPath.sequence(65001), local_pref=100).raw
    msgs += pack.announce_mp(IPV6_UNICAST, bytes.fromhex("20010db8" + "00" * 11 + "01"), attrs6, v6)
    msgs.append(pack.end_of_rib(IPV4_UNICAST))
    msgs.append(pack.end_of_rib(IPV6_UNICAST))
    data = b"".join(msgs)
    t0 = time.perf_counter()
    dec = Decoder(Context(asn4=True))
    updates = dec.decode(data)
    t_dec = time.perf_counter() - t0
    n = sum(len(p) for u in updates if isinstance(u, Update) for p in u.announced().values())
    print(
        f"encoded {count:,} IPv4 prefixes into {len(msgs):,} UPDATEs, {len(data):,} octets, in {t_enc:.3f} s "
        f"({count / t_enc:,.0f} prefixes/s)"
    )
    print(
        f"decoded {len(updates):,} messages, {n:,} prefixes, {len(dec.updates):,} distinct attribute sets, "
        f"in {t_dec:.3f} s ({n / t_dec:,.0f} prefixes/s)"
    )
    print("first and last messages, as `pyspeaker decode` prints them:")
    for msg in (updates[0], updates[-1]):
        text = json.dumps(msg.to_json())
        print("  " + (text if len(text) < 300 else text[:297] + "..."))
    return 0
