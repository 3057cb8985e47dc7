"""Typed attribute values and their text forms (RFC 1997, RFC 4360, RFC 8092, RFC 4271 AS_PATH)."""

from __future__ import annotations

import ipaddress

import pytest

from pyspeaker.wire import Aggregator, AsPath, Family, Interner, build_attrs
from pyspeaker.wire.values import (
    community_text,
    ext_community_text,
    large_community_text,
    parse_community,
    parse_large_community,
)
from rfc_tests.conftest import BASE, OPT, OPT_TRANS, attr, communities, med, segment


def test_as_path_properties() -> None:
    p = AsPath(((3, (65010, 65011)), (2, (65001, 65002)), (1, (7, 8, 9))))
    assert p.length == 3  # confed segments count 0, a set counts 1
    assert p.first_as == 65001
    assert p.origin_as is None  # the last segment is a set
    assert p.asns() == [65010, 65011, 65001, 65002, 7, 8, 9]
    assert p.contains(8) and not p.contains(1)
    assert str(p) == "(65010 65011) 65001 65002 {7 8 9}"
    assert p.to_json() == [["confed-sequence", [65010, 65011]], ["sequence", [65001, 65002]], ["set", [7, 8, 9]]]
    assert str(AsPath(((4, (1, 2)),))) == "[1 2]"
    assert AsPath.sequence(1, 2, 3).origin_as == 3
    assert AsPath.sequence() == AsPath()
    assert AsPath().first_as is None and AsPath().origin_as is None and AsPath().length == 0
    assert AsPath(((1, (5,)), (2, (6,)))).first_as is None  # a leading set has no neighbour AS
    seq = AsPath.sequence(7, 8, 9)  # one AS_SEQUENCE: held as its ASNs alone
    assert (seq.length, seq.first_as, seq.origin_as, seq.asns()) == (3, 7, 9, [7, 8, 9])
    assert seq.contains(8) and not seq.contains(6)
    empty = AsPath(((2, ()),))
    assert (empty.length, empty.first_as, empty.origin_as, empty.asns(), empty.contains(7)) == (
        0,
        None,
        None,
        [],
        False,
    )


@pytest.mark.parametrize(
    "segments",
    [
        (),
        ((2, (65001,)),),
        ((2, (1, 2, 3)),),
        ((2, ()),),
        ((1, (5, 6)),),
        ((2, (1,)), (1, (5, 6))),
        ((3, (9,)), (2, (1,))),
    ],
)
def test_as_path_made_any_way_is_one_value(segments: tuple[tuple[int, tuple[int, ...]], ...]) -> None:
    """A single AS_SEQUENCE is kept as its ASNs (see AsPath): however the path is made (its
    constructor, decoded from the wire, pickled, copied), equal paths are equal, hash alike,
    show the same segments, and cannot be changed."""
    import copy
    import pickle

    from pyspeaker.wire.values import decode_as_path, encode_as_path

    p = AsPath(segments)
    assert p.segments == segments
    assert repr(p) == f"AsPath(segments={segments!r})"
    wire = encode_as_path(p)
    others = [pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p), AsPath(tuple(segments))]
    if wire:  # (a path with no ASNs has no bytes to decode)
        others.append(decode_as_path(wire, 4))
    for q in others:
        assert q == p and hash(q) == hash(p) and q.segments == p.segments and str(q) == str(p)
    assert p != AsPath(((2, (4242,)),)) and p != segments  # a path is not its tuple
    with pytest.raises(AttributeError):
        p.segments = ()  # type: ignore[misc]


def test_as_path_prepend() -> None:
    assert AsPath.sequence(2, 3).prepend(1) == AsPath.sequence(1, 2, 3)
    assert AsPath.sequence(2).prepend(1, 3) == AsPath.sequence(1, 1, 1, 2)
    assert AsPath().prepend(1) == AsPath.sequence(1)
    assert AsPath(((1, (5, 6)),)).prepend(1) == AsPath(((2, (1,)), (1, (5, 6))))
    full = AsPath.sequence(*range(255))
    assert full.prepend(9999) == AsPath(((2, (9999,)), (2, tuple(range(255)))))


def test_long_as_path_is_split_into_255_asn_segments_on_the_wire() -> None:
    path = AsPath.sequence(*range(1, 301))
    attrs = build_attrs(origin=0, as_path=path, next_hop="192.0.2.1")
    raw = attrs.get_raw(2)
    assert raw == segment(2, list(range(1, 256))) + segment(2, list(range(256, 301)))
    assert attrs.as_path.asns() == list(range(1, 301))
    assert attrs.as_path.length == 300


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("65001:1", 0xFDE90001),
        ("0:0", 0),
        ("65535:65535", 0xFFFFFFFF),
        ("no-export", 0xFFFFFF01),
        ("no-advertise", 0xFFFFFF02),
        ("no-export-subconfed", 0xFFFFFF03),
        ("graceful-shutdown", 0xFFFF0000),
        ("llgr-stale", 0xFFFF0006),
        ("no-llgr", 0xFFFF0007),
    ],
)
def test_parse_community(text: str, value: int) -> None:
    assert parse_community(text) == value


@pytest.mark.parametrize("text", ["65536:1", "1:65536", "1", "a:b", "1:2:3", "-1:2", ""])
def test_parse_community_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_community(text)


def test_community_text() -> None:
    assert community_text(0xFDE90001) == "65001:1"
    assert community_text(0xFFFFFF01) == "65535:65281"


def test_large_communities() -> None:
    assert parse_large_community("4200000000:1:4294967295") == (4200000000, 1, 4294967295)
    assert large_community_text((1, 2, 3)) == "1:2:3"
    for bad in ["1:2", "1:2:4294967296", "a:b:c", "1:2:3:4"]:
        with pytest.raises(ValueError):
            parse_large_community(bad)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (bytes([0x00, 0x02, 0xFD, 0xE9, 0, 0, 0, 100]), "rt:65001:100"),
        (bytes([0x01, 0x02, 192, 0, 2, 1, 0, 7]), "rt:192.0.2.1:7"),
        (bytes([0x02, 0x02, 0xFA, 0x56, 0xEA, 0x00, 0, 5]), "rt:4200000000:5"),
        (bytes([0x00, 0x03, 0xFD, 0xE9, 0, 0, 0, 1]), "soo:65001:1"),
        (bytes([0x43, 0x00, 0, 0, 0, 0, 0, 1]), "4300000000000001"),
    ],
)
def test_ext_community_text(raw: bytes, text: str) -> None:
    assert ext_community_text(raw) == text


def test_attr_set_replace_and_json() -> None:
    a = build_attrs(
        origin=0,
        as_path=AsPath.sequence(65001),
        next_hop="192.0.2.1",
        med=5,
        communities=[parse_community("65001:7")],
        aggregator=Aggregator(65002, ipaddress.IPv4Address("10.0.0.1")),
    )
    b = a.replace(med=None, local_pref=200)
    assert b.med is None and b.local_pref == 200
    assert b.communities == a.communities
    assert a.replace() == a
    assert a.to_json() == {
        "origin": "igp",
        "as_path": "65001",
        "next_hop": "192.0.2.1",
        "med": 5,
        "aggregator": "65002:10.0.0.1",
        "communities": ["65001:7"],
    }


def test_build_attrs_bytes_are_in_type_code_order() -> None:
    a = build_attrs(
        origin=0,
        as_path=AsPath.sequence(65001),
        next_hop="192.0.2.1",
        med=7,
        communities=[3],
        unknown=[(OPT_TRANS, 99, b"x"), (OPT, 50, b"y")],
    )
    assert a.raw == BASE + med(7) + communities(3) + attr(OPT, 50, b"y") + attr(OPT_TRANS, 99, b"x")


def test_build_attrs_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        build_attrs(origin=3)
    with pytest.raises(ValueError):
        build_attrs(ext_communities=[b"\x00" * 7])
    from pyspeaker.wire import EncodeError

    with pytest.raises(EncodeError):
        build_attrs(med=1 << 32)
    with pytest.raises(EncodeError):
        build_attrs(communities=[-1])


def test_interner_shares_one_object_per_set() -> None:
    interner = Interner()
    a = build_attrs(origin=0, as_path=AsPath.sequence(1))
    b = build_attrs(origin=0, as_path=AsPath.sequence(1))
    assert a is not b
    assert interner.intern(a) is a
    assert interner.intern(b) is a
    assert len(interner) == 1
    c = interner.intern(build_attrs(origin=1))
    assert len(interner) == 2
    assert interner.forget_unused([c]) == 1
    assert len(interner) == 1


def test_family_names() -> None:
    assert Family.from_name("ipv6-unicast") == Family(2, 1)
    assert str(Family(1, 2)) == "ipv4-multicast"
    assert Family(1, 128).name == "afi1-safi128"
    with pytest.raises(ValueError):
        Family.from_name("ipv5-unicast")
