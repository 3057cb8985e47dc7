"""RFC 6793: 4-octet AS numbers on 2-octet sessions (AS_TRANS, AS4_PATH, AS4_AGGREGATOR)
and in the OPEN message."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from pyspeaker.wire import Aggregator, AsPath, Context, Open, UpdateDecoder, build_attrs, decode
from pyspeaker.wire.attrs import to_two_octet
from pyspeaker.wire.open import four_octet_as
from rfc_tests.conftest import (
    OPT_TRANS,
    as_path,
    attr,
    cap,
    next_hop,
    open_msg,
    origin,
    param,
    pfx,
    segment,
    update,
    v4,
)

AS_TRANS = 23456
TWO = Context(asn4=False)
BIG1, BIG2 = 4200000000, 4200000001


def _attrs_2(data_attrs: bytes) -> object:
    u = UpdateDecoder(TWO).decode(update(attrs=data_attrs, nlri=pfx("10.0.0.0/24")))
    assert (u.errors, u.disposition) == ((), None)
    assert u.attrs is not None
    return u.attrs


def _path2(*segs: bytes) -> bytes:
    return as_path(*segs)


def test_2_octet_as_path_is_widened() -> None:
    a = _attrs_2(origin(0) + _path2(segment(2, [65001, 65002], 2), segment(1, [7, 8], 2)) + next_hop())
    assert a.as_path == AsPath(((2, (65001, 65002)), (1, (7, 8))))  # type: ignore[attr-defined]
    # the canonical set holds 4-octet ASNs: the same set as a 4-octet session's
    u4 = UpdateDecoder().decode(
        update(
            attrs=origin(0) + as_path(segment(2, [65001, 65002]), segment(1, [7, 8])) + next_hop(),
            nlri=pfx("10.0.0.0/24"),
        )
    )
    assert a == u4.attrs


def test_as4_path_merged_with_as_trans() -> None:
    attrs = (
        origin(0)
        + _path2(segment(2, [65001, AS_TRANS, AS_TRANS], 2))
        + next_hop()
        + attr(OPT_TRANS, 17, segment(2, [BIG1, BIG2]))
    )
    a = _attrs_2(attrs)
    assert a.as_path == AsPath(((2, (65001, BIG1, BIG2)),))  # type: ignore[attr-defined]
    assert 17 not in a  # type: ignore[operator]


def test_as4_path_shorter_merges_with_the_leading_part_of_as_path() -> None:
    attrs = (
        origin(0)
        + _path2(segment(2, [65001, 65002, AS_TRANS], 2), segment(1, [1, 2], 2))
        + next_hop()
        + attr(OPT_TRANS, 17, segment(2, [BIG1]) + segment(1, [1, 2]))
    )
    a = _attrs_2(attrs)
    assert a.as_path == AsPath(((2, (65001, 65002, BIG1)), (1, (1, 2))))  # type: ignore[attr-defined]
    assert a.as_path.length == 4  # type: ignore[attr-defined]


def test_as4_path_longer_than_as_path_is_ignored() -> None:
    attrs = origin(0) + _path2(segment(2, [AS_TRANS], 2)) + next_hop() + attr(OPT_TRANS, 17, segment(2, [BIG1, BIG2]))
    a = _attrs_2(attrs)
    assert a.as_path == AsPath(((2, (AS_TRANS,)),))  # type: ignore[attr-defined]


def test_as4_path_ignored_when_aggregator_is_not_as_trans() -> None:
    attrs = (
        origin(0)
        + _path2(segment(2, [65001, AS_TRANS], 2))
        + next_hop()
        + attr(OPT_TRANS, 7, struct.pack("!H", 65010) + v4("10.0.0.1"))
        + attr(OPT_TRANS, 17, segment(2, [BIG1]))
        + attr(OPT_TRANS, 18, struct.pack("!I", BIG2) + v4("10.0.0.2"))
    )
    a = _attrs_2(attrs)
    assert a.as_path == AsPath(((2, (65001, AS_TRANS)),))  # type: ignore[attr-defined]
    assert a.aggregator == Aggregator(65010, ipaddress.IPv4Address("10.0.0.1"))  # type: ignore[attr-defined]


def test_as4_aggregator_used_when_aggregator_is_as_trans() -> None:
    attrs = (
        origin(0)
        + _path2(segment(2, [65001, AS_TRANS], 2))
        + next_hop()
        + attr(OPT_TRANS, 7, struct.pack("!H", AS_TRANS) + v4("10.0.0.1"))
        + attr(OPT_TRANS, 17, segment(2, [BIG1]))
        + attr(OPT_TRANS, 18, struct.pack("!I", BIG2) + v4("10.0.0.1"))
    )
    a = _attrs_2(attrs)
    assert a.as_path == AsPath(((2, (65001, BIG1)),))  # type: ignore[attr-defined]
    assert a.aggregator == Aggregator(BIG2, ipaddress.IPv4Address("10.0.0.1"))  # type: ignore[attr-defined]
    assert 18 not in a  # type: ignore[operator]


def test_to_two_octet_uses_as_trans_and_adds_as4_path_and_as4_aggregator() -> None:
    attrs = build_attrs(
        origin=0,
        as_path=AsPath(((2, (BIG1, 65001)), (1, (BIG2, 7)))),
        next_hop="192.0.2.1",
        aggregator=Aggregator(BIG1, ipaddress.IPv4Address("10.0.0.1")),
    )
    raw = to_two_octet(attrs)
    expected = (
        origin(0)
        + as_path(segment(2, [AS_TRANS, 65001], 2), segment(1, [AS_TRANS, 7], 2))
        + next_hop()
        + attr(OPT_TRANS, 7, struct.pack("!H", AS_TRANS) + v4("10.0.0.1"))
        + attr(OPT_TRANS, 17, segment(2, [BIG1, 65001]) + segment(1, [BIG2, 7]))
        + attr(OPT_TRANS, 18, struct.pack("!I", BIG1) + v4("10.0.0.1"))
    )
    assert raw == expected
    # and a 2-octet peer's decoder gets the original set back
    u = UpdateDecoder(TWO).decode(update(attrs=raw, nlri=pfx("10.0.0.0/24")))
    assert (u.errors, u.disposition) == ((), None)
    assert u.attrs == attrs


def test_to_two_octet_without_large_asns_adds_nothing() -> None:
    attrs = build_attrs(
        origin=1,
        as_path=AsPath.sequence(65001, 65002),
        next_hop="192.0.2.1",
        aggregator=Aggregator(65003, ipaddress.IPv4Address("10.0.0.1")),
    )
    raw = to_two_octet(attrs)
    assert raw == (
        origin(1)
        + as_path(segment(2, [65001, 65002], 2))
        + next_hop()
        + attr(OPT_TRANS, 7, struct.pack("!H", 65003) + v4("10.0.0.1"))
    )


def test_to_two_octet_leaves_confed_segments_out_of_as4_path() -> None:
    attrs = build_attrs(origin=0, as_path=AsPath(((3, (BIG2,)), (2, (BIG1,)))), next_hop="192.0.2.1")
    raw = to_two_octet(attrs)
    assert raw == (
        origin(0)
        + as_path(segment(3, [AS_TRANS], 2), segment(2, [AS_TRANS], 2))
        + next_hop()
        + attr(OPT_TRANS, 17, segment(2, [BIG1]))
    )


# -- OPEN ----------------------------------------------------------------------------------
def test_open_build_with_4_octet_asn_uses_as_trans() -> None:
    o = Open.build(BIG1, 90, "192.0.2.1", [four_octet_as(BIG1)])
    assert o.my_as == AS_TRANS
    assert o.asn == BIG1
    data = o.encode()
    assert data == open_msg(my_as=AS_TRANS, params=param(2, cap(65, struct.pack("!I", BIG1))))
    (back,) = decode(data)
    assert isinstance(back, Open)
    assert (back.my_as, back.asn) == (AS_TRANS, BIG1)


@pytest.mark.parametrize("asn", [1, 65001, 65535])
def test_open_build_with_2_octet_asn(asn: int) -> None:
    o = Open.build(asn, 90, "192.0.2.1", [four_octet_as(asn)])
    assert (o.my_as, o.asn) == (asn, asn)


def test_open_asn_without_capability_is_my_as() -> None:
    (o,) = decode(open_msg(my_as=AS_TRANS))
    assert isinstance(o, Open)
    assert o.asn == AS_TRANS


# -- re-encoding an UPDATE decoded on a 2-octet session ------------------------------------------------
@pytest.mark.parametrize("mp_first", [False, True], ids=["mp-after-as-path", "mp-first"])
def test_update_from_2_octet_session_re_encodes_in_4_octet_form(mp_first: bool) -> None:
    """The set is widened to 4-octet ASNs, so AS_PATH grows; MP_REACH must be put back
    between attributes, not inside the widened AS_PATH."""
    from pyspeaker.wire import IPV6_UNICAST
    from rfc_tests.conftest import mp_reach, v6

    reach = mp_reach(2, 1, v6("2001:db8::1"), pfx("2001:db8::/32"))
    path2 = as_path(segment(2, [65001, 65002, 65003], 2))
    path4 = as_path(segment(2, [65001, 65002, 65003], 4))
    comm = attr(OPT_TRANS, 8, b"\x00\x01\x00\x02")
    if mp_first:
        received, expected = reach + origin(0) + path2 + comm, reach + origin(0) + path4 + comm
    else:
        received, expected = origin(0) + path2 + reach + comm, origin(0) + path4 + reach + comm
    u = UpdateDecoder(TWO).decode(update(attrs=received))
    assert u.announced() == {IPV6_UNICAST: [pfx("2001:db8::/32")]}
    assert u.encode() == update(attrs=expected)
