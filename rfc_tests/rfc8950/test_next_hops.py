"""Next hops per family when reflecting and when setting our own: RFC 8950 IPv6 next hops
for IPv4 routes only to peers that negotiated it, IPv6 routes never with an IPv4-mapped next
hop, next-hop-self per family."""

from __future__ import annotations

from pyspeaker.rib.path import Kind
from pyspeaker.wire.context import Context
from pyspeaker.wire.family import IPV4_UNICAST
from rfc_tests.conftest import local_pref, mp_reach, next_hop, origin, pfx, seq_path, update, v4, v6
from rfc_tests.rfc4456.ribkit import V4, V6, Lab

IBGP = origin(0) + seq_path() + local_pref(100)


def test_ipv4_route_with_ipv6_next_hop_only_to_peers_with_extended_next_hop() -> None:
    lab = Lab()
    lab.peer("fd00::1", ctx=Context(extended_nexthop=frozenset({IPV4_UNICAST})))
    ext = lab.peer("fd00::2", extended_nexthop_v4=True)
    plain = lab.peer("10.0.0.3")
    lab.send("fd00::1", update(attrs=mp_reach(1, 1, v6("fd00::1"), pfx("10.1.0.0/26")) + IBGP))
    assert ext.prefixes(V4) == {"10.1.0.0/26"}
    assert ext.next_hop("10.1.0.0/26") == v6("fd00::1")
    assert plain.prefixes(V4) == set()  # it could not use the route: not sent at all
    assert any(g.unsendable for g in lab.router.groups.values())


def test_ipv4_route_with_ipv4_next_hop_to_an_ipv6_session() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    v6_session = lab.peer("fd00::2")
    lab.send("10.0.0.1", update(attrs=IBGP + next_hop("10.0.0.1"), nlri=pfx("10.1.0.0/26")))
    assert v6_session.next_hop("10.1.0.0/26") == v4("10.0.0.1")


def test_next_hop_self_per_family_and_never_mapped() -> None:
    lab = Lab()
    lab.peer("192.0.2.2", Kind.EBGP, asn=65001, nh4=v4("192.0.2.1"))
    with_v6 = lab.peer("10.0.0.2", Kind.IBGP, next_hop_self=True, nh4=v4("10.0.0.254"), nh6=v6("2001:db8::fe"))
    without_v6 = lab.peer("10.0.0.3", Kind.IBGP, next_hop_self=True, nh4=v4("10.0.0.254"))
    lab.send("192.0.2.2", update(attrs=origin(0) + seq_path(65001) + next_hop("192.0.2.2"), nlri=pfx("203.0.113.0/24")))
    lab.send(
        "192.0.2.2",
        update(attrs=mp_reach(2, 1, v6("2001:db8:ff::2"), pfx("2001:db8:100::/48")) + origin(0) + seq_path(65001)),
    )
    assert with_v6.next_hop("203.0.113.0/24") == v4("10.0.0.254")
    assert with_v6.next_hop("2001:db8:100::/48") == v6("2001:db8::fe")
    assert without_v6.next_hop("203.0.113.0/24") == v4("10.0.0.254")
    assert without_v6.prefixes(V6) == set()  # no IPv6 address to put there: not sent, never ::ffff:
