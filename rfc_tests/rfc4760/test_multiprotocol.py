"""RFC 4760: MP_REACH_NLRI / MP_UNREACH_NLRI; RFC 4724 2 End-of-RIB; RFC 8950 IPv4 NLRI
with an IPv6 next hop."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Context, Family, NotificationError, Update, UpdateDecoder, pack
from rfc_tests.conftest import (
    BASE,
    BASE_MP,
    OPT,
    attr,
    mp_reach,
    mp_unreach,
    pfx,
    update,
    v4,
    v6,
)

IPV4_MULTICAST = Family(1, 2)
IPV6_MULTICAST = Family(2, 2)
GLOBAL = "2001:db8::1"
LINK_LOCAL = "fe80::1:2"
V6_PREFIXES = ["2001:db8::/32", "2001:db8:100::/40", "::/0", "2001:db8::1/128", "2001:db8:8000::/33"]


def _decode(data: bytes, ctx: Context | None = None) -> Update:
    return UpdateDecoder(ctx or Context()).decode(data)


def test_ipv6_mp_reach_with_16_octet_next_hop() -> None:
    nlri = b"".join(pfx(p) for p in V6_PREFIXES)
    u = _decode(update(attrs=BASE_MP + mp_reach(2, 1, v6(GLOBAL), nlri)))
    assert (u.errors, u.disposition) == ((), None)
    assert u.reach is not None
    assert u.reach.family == IPV6_UNICAST
    assert u.reach.next_hop == v6(GLOBAL)
    assert u.reach.next_hops() == [ipaddress.IPv6Address(GLOBAL)]
    assert u.reach.prefixes == [pfx(p) for p in V6_PREFIXES]
    assert u.announced() == {IPV6_UNICAST: [pfx(p) for p in V6_PREFIXES]}
    assert u.nlri == []
    assert u.to_json()["announce"] == {"ipv6-unicast": V6_PREFIXES}
    assert u.to_json()["mp_next_hop"] == [GLOBAL]


def test_ipv6_mp_reach_with_32_octet_next_hop_gives_global_and_link_local() -> None:
    u = _decode(update(attrs=BASE_MP + mp_reach(2, 1, v6(GLOBAL) + v6(LINK_LOCAL), pfx("2001:db8::/32"))))
    assert (u.errors, u.disposition) == ((), None)
    assert u.reach is not None
    assert u.reach.next_hops() == [ipaddress.IPv6Address(GLOBAL), ipaddress.IPv6Address(LINK_LOCAL)]
    assert u.to_json()["mp_next_hop"] == [GLOBAL, LINK_LOCAL]


def test_mp_reach_placed_after_other_attributes() -> None:
    data = update(attrs=BASE_MP + mp_reach(2, 1, v6(GLOBAL), pfx("2001:db8::/32")))
    data2 = update(attrs=mp_reach(2, 1, v6(GLOBAL), pfx("2001:db8::/32")) + BASE_MP)
    a, b = _decode(data), _decode(data2)
    assert a.announced() == b.announced() == {IPV6_UNICAST: [pfx("2001:db8::/32")]}
    assert a.attrs == b.attrs
    assert a.attrs is not None
    assert 14 not in a.attrs  # the set holds attributes, not the MP attributes


def test_ipv6_mp_unreach() -> None:
    nlri = pfx("2001:db8::/32") + pfx("2001:db8:1::/48")
    u = _decode(update(attrs=mp_unreach(2, 1, nlri)))
    assert (u.errors, u.disposition) == ((), None)
    assert u.withdrawals() == {IPV6_UNICAST: [pfx("2001:db8::/32"), pfx("2001:db8:1::/48")]}
    assert u.announced() == {}
    assert u.end_of_rib is None


def test_mp_reach_and_mp_unreach_and_classic_fields_in_one_update() -> None:
    attrs = BASE + mp_unreach(2, 1, pfx("2001:db8:2::/48")) + mp_reach(2, 1, v6(GLOBAL), pfx("2001:db8:1::/48"))
    u = _decode(update(withdrawn=pfx("10.1.0.0/16"), attrs=attrs, nlri=pfx("10.2.0.0/16")))
    assert (u.errors, u.disposition) == ((), None)
    assert u.announced() == {IPV4_UNICAST: [pfx("10.2.0.0/16")], IPV6_UNICAST: [pfx("2001:db8:1::/48")]}
    assert u.withdrawals() == {IPV4_UNICAST: [pfx("10.1.0.0/16")], IPV6_UNICAST: [pfx("2001:db8:2::/48")]}


def test_ipv4_unicast_in_mp_reach_with_4_octet_next_hop() -> None:
    u = _decode(update(attrs=BASE_MP + mp_reach(1, 1, v4("192.0.2.9"), pfx("10.0.0.0/8"))))
    assert (u.errors, u.disposition) == ((), None)
    assert u.reach is not None
    assert u.reach.next_hops() == [ipaddress.IPv4Address("192.0.2.9")]
    assert u.announced() == {IPV4_UNICAST: [pfx("10.0.0.0/8")]}


def test_ipv4_in_mp_reach_merges_with_nlri_field() -> None:
    attrs = BASE + mp_reach(1, 1, v4("192.0.2.9"), pfx("10.0.0.0/8"))
    u = _decode(update(attrs=attrs, nlri=pfx("11.0.0.0/8")))
    assert u.announced() == {IPV4_UNICAST: [pfx("11.0.0.0/8"), pfx("10.0.0.0/8")]}


def test_multicast_families() -> None:
    u = _decode(update(attrs=BASE_MP + mp_reach(1, 2, v4("192.0.2.9"), pfx("232.0.0.0/8"))))
    assert u.announced() == {IPV4_MULTICAST: [pfx("232.0.0.0/8")]}
    u = _decode(update(attrs=mp_unreach(2, 2, pfx("ff3e::/16"))))
    assert u.withdrawals() == {IPV6_MULTICAST: [pfx("ff3e::/16")]}


def test_unknown_family_in_mp_reach_is_ignored() -> None:
    # AFI 1 SAFI 128 (VPNv4): not spoken here, its NLRI is not interpreted
    u = _decode(update(attrs=BASE_MP + mp_reach(1, 128, bytes(12), b"\x70" + bytes(14))))
    assert u.announced() == {}
    assert u.reach is not None
    assert u.reach.family == Family(1, 128)
    assert u.reach.prefixes == [b"\x70" + bytes(14)]  # kept whole, as one opaque item


# -- RFC 8950: IPv4 NLRI with an IPv6 next hop -------------------------------------------------
@pytest.mark.parametrize("nh", [v6(GLOBAL), v6(GLOBAL) + v6(LINK_LOCAL)], ids=["16", "32"])
def test_ipv4_with_ipv6_next_hop_needs_extended_nexthop(nh: bytes) -> None:
    data = update(attrs=BASE_MP + mp_reach(1, 1, nh, pfx("10.0.0.0/8")))
    with pytest.raises(NotificationError) as info:
        _decode(data)
    assert (info.value.code, info.value.subcode) == (3, 9)
    u = _decode(data, Context(extended_nexthop=frozenset({IPV4_UNICAST})))
    assert (u.errors, u.disposition) == ((), None)
    assert u.announced() == {IPV4_UNICAST: [pfx("10.0.0.0/8")]}
    assert u.reach is not None
    assert u.reach.next_hops()[0] == ipaddress.IPv6Address(GLOBAL)


def test_extended_nexthop_for_another_family_does_not_allow_ipv4_unicast() -> None:
    data = update(attrs=BASE_MP + mp_reach(1, 1, v6(GLOBAL), pfx("10.0.0.0/8")))
    with pytest.raises(NotificationError):
        _decode(data, Context(extended_nexthop=frozenset({IPV4_MULTICAST})))


# -- End-of-RIB (RFC 4724 2) -------------------------------------------------------------------
def test_ipv4_end_of_rib_is_an_empty_update() -> None:
    data = b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
    assert _decode(data).end_of_rib == IPV4_UNICAST
    assert _decode(data).to_json() == {"type": "UPDATE", "end_of_rib": "ipv4-unicast"}


def test_ipv6_end_of_rib_is_an_empty_mp_unreach() -> None:
    data = update(attrs=attr(OPT, 15, b"\x00\x02\x01"))
    u = _decode(data)
    assert u.end_of_rib == IPV6_UNICAST
    assert (u.errors, u.disposition) == ((), None)


def test_ipv4_end_of_rib_in_mp_unreach_form() -> None:
    assert _decode(update(attrs=mp_unreach(1, 1, b""))).end_of_rib == IPV4_UNICAST


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(update(withdrawn=pfx("10.0.0.0/8")), id="withdrawal"),
        pytest.param(update(attrs=mp_unreach(2, 1, pfx("2001:db8::/32"))), id="mp-withdrawal"),
        pytest.param(update(attrs=BASE, nlri=pfx("10.0.0.0/8")), id="announcement"),
        pytest.param(update(attrs=BASE_MP + mp_reach(2, 1, v6(GLOBAL), b"")), id="empty-mp-reach"),
        pytest.param(update(attrs=BASE_MP + mp_unreach(2, 1, b"")), id="mp-unreach-with-attributes"),
    ],
)
def test_not_end_of_rib(data: bytes) -> None:
    assert _decode(data).end_of_rib is None


@pytest.mark.parametrize("fam", [IPV4_UNICAST, IPV6_UNICAST, IPV4_MULTICAST, IPV6_MULTICAST, Family(1, 128)], ids=str)
def test_pack_end_of_rib_round_trip(fam: Family) -> None:
    data = pack.end_of_rib(fam)
    if fam == IPV4_UNICAST:
        assert data == b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
    else:
        assert data == update(attrs=attr(OPT, 15, struct.pack("!HB", fam.afi, fam.safi)))
    assert _decode(data).end_of_rib == fam


def test_bug_update_py_unknown_family_mp_unreach_with_prefixes_is_not_end_of_rib() -> None:
    """An MP_UNREACH_NLRI that withdraws routes of a family the codec does not split (here
    VPNv4, AFI 1 SAFI 128) is not End-of-RIB: RFC 4724 2 requires an MP_UNREACH_NLRI with
    no withdrawn routes. update.py reports End-of-RIB because it drops the unknown NLRI
    before looking."""
    vpn_nlri = b"\x70" + b"\x80\x00\x01" + bytes(8) + bytes((10, 0, 0))  # label, RD, 10.0.0/24
    u = _decode(update(attrs=mp_unreach(1, 128, vpn_nlri)))
    assert u.end_of_rib is None


@pytest.mark.parametrize("between", [b"", attr(0xC0, 8, b"\x00\x01\x00\x02")], ids=["adjacent", "apart"])
def test_bug_update_py_mp_reach_before_mp_unreach_re_encodes_in_order(between: bytes) -> None:
    """decode(m).encode() must give m back. With MP_REACH_NLRI before MP_UNREACH_NLRI and no
    other attribute between them, both have the same insert position in update.py's layout
    and Update.encode() puts MP_UNREACH first."""
    reach = mp_reach(2, 1, v6(GLOBAL), pfx("2001:db8:1::/48"))
    unreach = mp_unreach(2, 1, pfx("2001:db8:2::/48"))
    data = update(attrs=BASE_MP + reach + between + unreach)
    u = _decode(data)
    assert (u.errors, u.disposition) == ((), None)
    assert u.encode() == data
