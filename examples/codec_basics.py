"""Using pyspeaker's codec from your own program: build UPDATEs, decode them, read them.

Run: python examples/codec_basics.py
"""

from __future__ import annotations

import ipaddress

from pyspeaker import wire
from pyspeaker.wire import pack, prefix


def build_stream() -> bytes:
    """Announce two IPv4 and one IPv6 prefix, withdraw one, end with End-of-RIB per family."""
    attrs = wire.build_attrs(
        origin=0,
        as_path=wire.AsPath.sequence(65001, 4_200_000_000),
        next_hop="192.0.2.1",
        local_pref=200,
        communities=[(65001 << 16) | 42],
        large_communities=[(65001, 1, 2)],
    )
    v4 = [prefix.parse("10.0.1.0/24"), prefix.parse("10.2.0.0/16")]
    v6 = [prefix.parse("2001:db8:1::/48")]
    next_hop6 = ipaddress.IPv6Address("2001:db8::1").packed
    # IPv6 routes carry their next hop in MP_REACH_NLRI, so their set has no NEXT_HOP
    attrs6 = attrs.replace(next_hop=None)
    messages = [
        *pack.announce_ipv4(attrs.raw, v4),
        *pack.announce_mp(wire.IPV6_UNICAST, next_hop6, attrs6.raw, v6),
        *pack.withdraw_ipv4([prefix.parse("10.2.0.0/16")]),
        pack.end_of_rib(wire.IPV4_UNICAST),
        pack.end_of_rib(wire.IPV6_UNICAST),
    ]
    return b"".join(messages)


def describe(data: bytes) -> list[str]:
    """One line per UPDATE: what it announces or withdraws, with which path."""
    lines = []
    for msg in wire.decode(data, wire.Context(asn4=True)):
        if not isinstance(msg, wire.Update):
            continue
        if msg.end_of_rib is not None:
            lines.append(f"End-of-RIB {msg.end_of_rib}")
            continue
        for fam, prefixes in msg.announced().items():
            nets = [prefix.to_network(p, 4 if fam == wire.IPV4_UNICAST else 16) for p in prefixes]
            assert msg.attrs is not None
            lines.append(f"announce {fam}: {', '.join(map(str, nets))} as-path {msg.attrs.as_path}")
        for fam, prefixes in msg.withdrawals().items():
            nets = [prefix.to_network(p, 4 if fam == wire.IPV4_UNICAST else 16) for p in prefixes]
            lines.append(f"withdraw {fam}: {', '.join(map(str, nets))}")
    return lines


if __name__ == "__main__":
    for line in describe(build_stream()):
        print(line)
