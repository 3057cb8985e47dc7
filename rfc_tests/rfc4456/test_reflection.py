"""RFC 4456 route reflection and the RFC 4271 9.2 export rules, on the sans-IO routing core
with fake peers that decode what they are sent."""

from __future__ import annotations

from pyspeaker.rib.path import Kind
from rfc_tests.conftest import (
    OPT,
    attr,
    local_pref,
    mp_reach,
    mp_unreach,
    next_hop,
    origin,
    pfx,
    seq_path,
    update,
    v4,
    v6,
)

from .ribkit import V4, V6, Lab, ip

IBGP = origin(0) + seq_path() + local_pref(100)


def announce4(prefix: str, nh: str, extra: bytes = b"") -> bytes:
    return update(attrs=IBGP + next_hop(nh) + extra, nlri=pfx(prefix))


def announce6(prefix: str, nh: bytes) -> bytes:
    return update(attrs=mp_reach(2, 1, nh, pfx(prefix)) + IBGP)


def withdraw4(prefix: str) -> bytes:
    return update(withdrawn=pfx(prefix))


def test_client_route_reaches_other_clients_and_non_clients_with_originator_and_cluster_list() -> None:
    lab = Lab()
    a = lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    n = lab.peer("10.0.0.9", Kind.IBGP)
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    for peer in (b, n):
        attrs = peer.attrs("10.1.0.0/26")
        assert str(attrs.originator_id) == "10.0.0.1"
        assert [str(c) for c in attrs.cluster_list] == ["10.255.0.1"]  # default cluster id: router id
        assert peer.next_hop("10.1.0.0/26") == v4("10.0.0.1")  # next hop left as it was
    assert a.prefixes() == set()  # never reflected back to the client it came from


def test_non_client_route_goes_to_clients_only() -> None:
    lab = Lab()
    c = lab.peer("10.0.0.1")
    n1 = lab.peer("10.0.0.8", Kind.IBGP)
    lab.peer("10.0.0.9", Kind.IBGP)
    lab.send("10.0.0.9", announce4("10.9.0.0/24", "10.0.0.9"))
    assert c.prefixes() == {"10.9.0.0/24"}
    assert n1.prefixes() == set()


def test_existing_originator_kept_and_cluster_id_prepended() -> None:
    lab = Lab(cluster_id="10.99.0.1")
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    extra = attr(OPT, 9, v4("10.7.7.7")) + attr(OPT, 10, v4("10.88.0.1"))
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1", extra))
    attrs = b.attrs("10.1.0.0/26")
    assert str(attrs.originator_id) == "10.7.7.7"
    assert [str(c) for c in attrs.cluster_list] == ["10.99.0.1", "10.88.0.1"]


def test_loops_are_ignored_and_replace_the_earlier_route() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    assert b.prefixes() == {"10.1.0.0/26"}
    # our own router id as ORIGINATOR_ID: a loop (RFC 4456 8); the prefix is gone
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1", attr(OPT, 9, v4("10.255.0.1"))))
    assert b.prefixes() == set()
    lab.send("10.0.0.1", announce4("10.2.0.0/26", "10.0.0.1", attr(OPT, 10, v4("10.255.0.1"))))
    assert b.prefixes() == set()
    st = lab.router.peer("10.0.0.1")
    assert st is not None and st.rejected[V4] == 2


def test_ipv6_next_hop_kept_and_link_local_dropped() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce6("2001:db8:1::/64", v6("2001:db8::1") + v6("fe80::1")))
    lab.send("10.0.0.1", announce6("2001:db8:2::/64", v6("2001:db8::2")))
    assert b.next_hop("2001:db8:1::/64") == v6("2001:db8::1")
    assert b.next_hop("2001:db8:2::/64") == v6("2001:db8::2")
    # never an IPv4-mapped address, never the IPv4 NEXT_HOP field for IPv6 routes
    assert all(u.attrs is None or u.attrs.next_hop is None for u in b.updates if u.reach is not None)


def test_each_family_only_to_peers_that_negotiated_it() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    only6 = lab.peer("10.0.0.2", families=(V6,))
    only4 = lab.peer("10.0.0.3", families=(V4,))
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    lab.send("10.0.0.1", announce6("2001:db8:1::/64", v6("2001:db8::1")))
    assert only6.prefixes(V4) == set() and only6.prefixes(V6) == {"2001:db8:1::/64"}
    assert only4.prefixes(V6) == set() and only4.prefixes(V4) == {"10.1.0.0/26"}
    assert only6.eor == [V6] and only4.eor == [V4]


def test_withdrawal_and_session_loss_withdraw_everywhere() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    lab.send("10.0.0.1", announce4("10.1.1.0/26", "10.0.0.1"))
    lab.send("10.0.0.1", announce6("2001:db8:1::/64", v6("2001:db8::1")))
    lab.send("10.0.0.1", withdraw4("10.1.0.0/26"))
    assert b.prefixes() == {"10.1.1.0/26"}
    lab.send("10.0.0.1", update(attrs=mp_unreach(2, 1, pfx("2001:db8:1::/64"))))
    assert b.prefixes(V6) == set()
    lab.send("10.0.0.1", announce6("2001:db8:1::/64", v6("2001:db8::1")))
    lab.down("10.0.0.1")
    assert b.prefixes(V4) == set() and b.prefixes(V6) == set()


def test_best_path_moving_between_clients_withdraws_from_the_new_owner() -> None:
    lab = Lab()
    a = lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    c = lab.peer("10.0.0.3")
    lab.send("10.0.0.1", announce4("10.5.0.0/24", "10.0.0.1"))
    assert b.prefixes() == {"10.5.0.0/24"} and a.prefixes() == set()
    # b announces the same prefix with a higher LOCAL_PREF: b's route wins
    better = update(attrs=origin(0) + seq_path() + local_pref(200) + next_hop("10.0.0.2"), nlri=pfx("10.5.0.0/24"))
    lab.send("10.0.0.2", better)
    assert b.prefixes() == set()  # b must not keep a's route, nor get its own back
    assert a.next_hop("10.5.0.0/24") == v4("10.0.0.2")
    assert c.next_hop("10.5.0.0/24") == v4("10.0.0.2")
    lab.send("10.0.0.2", withdraw4("10.5.0.0/24"))  # back to a's route
    assert a.prefixes() == set()
    assert b.next_hop("10.5.0.0/24") == v4("10.0.0.1")
    assert c.next_hop("10.5.0.0/24") == v4("10.0.0.1")


def test_a_peer_that_joins_gets_the_table_then_end_of_rib() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    for i in range(300):
        lab.send("10.0.0.1", announce4(f"10.{i // 256}.{i % 256}.0/24", "10.0.0.1"))
    late = lab.peer("10.0.0.2")
    assert len(late.prefixes()) == 300
    assert late.eor == [V4, V6]
    # End-of-RIB for IPv4 comes after the last IPv4 route
    kinds = [u.end_of_rib for u in late.updates]
    assert kinds.index(V4) > max(i for i, k in enumerate(kinds) if k is None)


def test_one_encoding_for_a_group() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    peers = [lab.peer(f"10.0.1.{i}") for i in range(1, 6)]
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    last = [p.writes[-1] for p in peers]
    assert all(w is last[0] for w in last)  # the same bytes object went to every member
    assert len(lab.router.groups) == 2  # one group per family for all the clients


def test_slow_peer_gets_latest_state_when_it_drains_and_does_not_hold_up_others() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    fast = lab.peer("10.0.0.2")
    slow = lab.peer("10.0.0.3")
    slow.full = True
    before = len(slow.writes)
    for i in range(20):  # flap one prefix, change another's next hop many times
        lab.send("10.0.0.1", announce4("10.1.0.0/26", f"10.0.0.{1 + i % 2}"))
        lab.send("10.0.0.1", announce4("10.3.0.0/26", "10.0.0.1"))
        lab.send("10.0.0.1", withdraw4("10.3.0.0/26"))
    assert len(slow.writes) == before  # nothing was queued for it while it was full
    assert fast.prefixes() == {"10.1.0.0/26"}
    slow.full = False
    lab.router.drained(slow)
    assert slow.prefixes() == {"10.1.0.0/26"}
    assert slow.next_hop("10.1.0.0/26") == v4("10.0.0.2")
    # the catch-up is the coalesced state: one announcement and one withdrawal at most
    assert len(slow.updates) <= 2 + 2  # (+ the two End-of-RIBs it already had)


def test_route_refresh_resends_the_table() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    b.table.clear()
    assert lab.router.refresh(b, V4)
    assert b.prefixes() == {"10.1.0.0/26"}


def test_route_from_ebgp_to_ebgp_and_ibgp() -> None:
    lab = Lab()
    lab.peer("192.0.2.2", Kind.EBGP, asn=65001, nh4=v4("192.0.2.1"))
    e2 = lab.peer("198.51.100.2", Kind.EBGP, asn=65002, nh4=v4("198.51.100.1"))
    i = lab.peer("10.0.0.2", Kind.IBGP)
    msg = update(
        attrs=origin(0) + seq_path(65001) + next_hop("192.0.2.2") + attr(OPT, 4, b"\0\0\0\x05"),
        nlri=pfx("203.0.113.0/24"),
    )
    lab.send("192.0.2.2", msg)
    ext = e2.attrs("203.0.113.0/24")
    assert ext.as_path.asns() == [65000, 65001]
    assert e2.next_hop("203.0.113.0/24") == v4("198.51.100.1")
    assert ext.local_pref is None and ext.med is None
    internal = i.attrs("203.0.113.0/24")
    assert internal.as_path.asns() == [65001] and internal.local_pref == 100
    assert i.next_hop("203.0.113.0/24") == v4("192.0.2.2")  # unchanged without next_hop_self
    assert internal.originator_id is None and internal.cluster_list == ()


def test_as_path_loop_from_ebgp_is_ignored() -> None:
    lab = Lab()
    lab.peer("192.0.2.2", Kind.EBGP, asn=65001, nh4=v4("192.0.2.1"))
    i = lab.peer("10.0.0.2", Kind.IBGP)
    lab.send(
        "192.0.2.2",
        update(attrs=origin(0) + seq_path(65001, 65000) + next_hop("192.0.2.2"), nlri=pfx("203.0.113.0/24")),
    )
    assert i.prefixes() == set()


def test_treat_as_withdraw_removes_the_route_everywhere() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    assert b.prefixes() == {"10.1.0.0/26"}
    bad_origin = attr(0x40, 1, b"\x07")  # ORIGIN 7: RFC 7606 7.1 treat-as-withdraw
    u = lab.send(
        "10.0.0.1",
        update(attrs=bad_origin + seq_path() + local_pref(100) + next_hop("10.0.0.1"), nlri=pfx("10.1.0.0/26")),
    )
    assert u.treat_as_withdraw
    assert b.prefixes() == set()


def test_attribute_discard_keeps_the_route_without_the_attribute() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    bad_aggregator = attr(0xC0, 7, b"\x00\x01")  # wrong length: RFC 7606 7.7 attribute discard
    u = lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1", bad_aggregator))
    assert u.errors and not u.treat_as_withdraw
    assert b.prefixes() == {"10.1.0.0/26"}
    assert b.attrs("10.1.0.0/26").aggregator is None
    assert ip(str(b.attrs("10.1.0.0/26").originator_id)) == ip("10.0.0.1")


def test_peers_that_join_after_churn_get_the_current_table() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    assert lab.peer("10.0.1.1").prefixes() == {"10.1.0.0/26"}
    lab.send("10.0.0.1", withdraw4("10.1.0.0/26"))
    assert lab.peer("10.0.1.2").prefixes() == set()
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))  # the same route again
    assert lab.peer("10.0.1.3").prefixes() == {"10.1.0.0/26"}
    lab.send("10.0.0.1", announce4("10.1.1.0/26", "10.0.0.1"))
    assert lab.peer("10.0.1.4").prefixes() == {"10.1.0.0/26", "10.1.1.0/26"}


def test_a_bucket_emptied_and_filled_again_between_joins_is_sent() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    other = IBGP + next_hop("10.0.0.1") + attr(0xC0, 8, b"\xfd\xe8\x00\x01")  # another attribute set
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))
    lab.send("10.0.0.1", update(attrs=other, nlri=pfx("10.2.0.0/26")))
    lab.peer("10.0.1.1")  # both buckets encoded
    lab.send("10.0.0.1", withdraw4("10.1.0.0/26"))  # first bucket empty
    lab.send("10.0.0.1", update(attrs=other, nlri=pfx("10.3.0.0/26")))  # second one changed
    assert lab.peer("10.0.1.2").prefixes() == {"10.2.0.0/26", "10.3.0.0/26"}
    lab.send("10.0.0.1", announce4("10.1.0.0/26", "10.0.0.1"))  # first bucket filled again
    assert lab.peer("10.0.1.3").prefixes() == {"10.1.0.0/26", "10.2.0.0/26", "10.3.0.0/26"}
