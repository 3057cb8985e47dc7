"""RFC 4271 4.3 and 6.3: the UPDATE message layout and the errors that still reset the
session (RFC 7606 keeps these: the message cannot be parsed at all)."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from pyspeaker.wire import IPV4_UNICAST, AsPath, Context, NotificationError, Update, UpdateDecoder, decode
from rfc_tests.conftest import (
    BASE,
    OPT,
    OPT_TRANS,
    T_UPDATE,
    attr,
    communities,
    local_pref,
    med,
    message,
    next_hop,
    origin,
    pfx,
    segment,
    update,
)


def _decode(data: bytes, ctx: Context | None = None) -> Update:
    return UpdateDecoder(ctx or Context()).decode(data)


def _raises(data: bytes) -> NotificationError:
    with pytest.raises(NotificationError) as info:
        _decode(data)
    return info.value


def test_announce_with_every_common_attribute() -> None:
    attrs = (
        origin(2)
        + attr(0x40, 2, segment(2, [65001, 4200000000]) + segment(1, [7, 8]))
        + next_hop("198.51.100.7")
        + med(50)
        + local_pref(200)
        + attr(0x40, 6, b"")
        + attr(OPT_TRANS, 7, struct.pack("!I", 65010) + bytes([10, 0, 0, 1]))
        + communities(0xFDE90001, 0xFFFFFF01)
        + attr(OPT, 9, bytes([10, 0, 0, 9]))
        + attr(OPT, 10, bytes([1, 1, 1, 1, 2, 2, 2, 2]))
        + attr(OPT_TRANS, 16, bytes([0, 2, 0xFD, 0xE9, 0, 0, 0, 5]))
        + attr(OPT_TRANS, 32, struct.pack("!III", 4200000000, 1, 2))
    )
    nlri = pfx("10.0.0.0/8") + pfx("172.16.0.0/12") + pfx("192.0.2.128/25") + pfx("0.0.0.0/0") + pfx("1.2.3.4/32")
    u = _decode(update(withdrawn=pfx("203.0.113.0/24"), attrs=attrs, nlri=nlri))
    assert u.errors == ()
    assert u.disposition is None
    assert u.withdrawn == [pfx("203.0.113.0/24")]
    assert u.nlri == [
        pfx("10.0.0.0/8"),
        pfx("172.16.0.0/12"),
        pfx("192.0.2.128/25"),
        pfx("0.0.0.0/0"),
        pfx("1.2.3.4/32"),
    ]
    assert u.announced() == {IPV4_UNICAST: u.nlri}
    assert u.withdrawals() == {IPV4_UNICAST: [pfx("203.0.113.0/24")]}
    a = u.attrs
    assert a is not None
    assert a.origin == 2
    assert a.as_path == AsPath(((2, (65001, 4200000000)), (1, (7, 8))))
    assert a.next_hop == ipaddress.IPv4Address("198.51.100.7")
    assert (a.med, a.local_pref, a.atomic_aggregate) == (50, 200, True)
    assert a.aggregator is not None
    assert (a.aggregator.asn, str(a.aggregator.address)) == (65010, "10.0.0.1")
    assert a.communities == (0xFDE90001, 0xFFFFFF01)
    assert a.originator_id == ipaddress.IPv4Address("10.0.0.9")
    assert a.cluster_list == (ipaddress.IPv4Address("1.1.1.1"), ipaddress.IPv4Address("2.2.2.2"))
    assert a.ext_communities == (bytes([0, 2, 0xFD, 0xE9, 0, 0, 0, 5]),)
    assert a.large_communities == ((4200000000, 1, 2),)
    j = u.to_json()
    assert j["announce"] == {
        "ipv4-unicast": ["10.0.0.0/8", "172.16.0.0/12", "192.0.2.128/25", "0.0.0.0/0", "1.2.3.4/32"]
    }
    assert j["withdraw"] == {"ipv4-unicast": ["203.0.113.0/24"]}
    assert j["attributes"]["as_path"] == "65001 4200000000 {7 8}"
    assert j["attributes"]["communities"] == ["65001:1", "65535:65281"]
    assert j["attributes"]["ext_communities"] == ["rt:65001:5"]


def test_withdraw_only_update() -> None:
    u = _decode(update(withdrawn=pfx("10.0.0.0/24") + pfx("10.0.1.0/24")))
    assert u.attrs is None
    assert u.nlri == []
    assert u.errors == ()
    assert u.withdrawals() == {IPV4_UNICAST: [pfx("10.0.0.0/24"), pfx("10.0.1.0/24")]}
    assert u.end_of_rib is None


def test_withdrawn_routes_length_overrun_is_3_1() -> None:
    # withdrawn length 200 in a message that has 5 octets after it
    body = struct.pack("!H", 200) + pfx("10.0.0.0/24") + b"\x00"
    err = _raises(message(T_UPDATE, body))
    assert (err.code, err.subcode) == (3, 1)


def test_withdrawn_length_leaving_no_room_for_attribute_length_is_3_1() -> None:
    body = struct.pack("!H", 3) + pfx("10.0.0.0/16")  # no Total Path Attribute Length field left
    err = _raises(message(T_UPDATE, body + b"\x00"))  # one octet where two are needed
    assert (err.code, err.subcode) == (3, 1)


def test_total_attribute_length_overrun_is_3_1() -> None:
    body = struct.pack("!H", 0) + struct.pack("!H", len(BASE) + 1) + BASE
    err = _raises(message(T_UPDATE, body))
    assert (err.code, err.subcode) == (3, 1)


@pytest.mark.parametrize("bits", [33, 64, 255])
def test_nlri_prefix_length_over_32_is_3_10(bits: int) -> None:
    err = _raises(update(attrs=BASE, nlri=bytes((bits,)) + b"\x0a\x00\x00\x00\x00"))
    assert (err.code, err.subcode) == (3, 10)


def test_withdrawn_prefix_length_over_32_is_3_10() -> None:
    err = _raises(update(withdrawn=b"\x21\x0a\x00\x00\x00\x00"))
    assert (err.code, err.subcode) == (3, 10)


def test_nlri_prefix_truncated_is_3_10() -> None:
    err = _raises(update(attrs=BASE, nlri=pfx("10.0.0.0/24")[:-1]))
    assert (err.code, err.subcode) == (3, 10)


def test_decoder_caches_attribute_blocks_but_reports_per_message() -> None:
    dec = UpdateDecoder()
    a = dec.decode(update(attrs=BASE, nlri=pfx("10.0.0.0/24")))
    b = dec.decode(update(attrs=BASE, nlri=pfx("10.0.1.0/24")))
    assert a.attrs is b.attrs
    assert (a.nlri, b.nlri) == ([pfx("10.0.0.0/24")], [pfx("10.0.1.0/24")])
    # the same block with missing NEXT_HOP: the missing-attribute check depends on the NLRI
    block = origin(0) + attr(0x40, 2, b"")
    c = dec.decode(update(attrs=block))
    d = dec.decode(update(attrs=block, nlri=pfx("10.0.2.0/24")))
    assert c.errors == () and c.disposition is None
    assert d.treat_as_withdraw


def test_update_decoded_via_message_decoder_equals_update_decoder() -> None:
    data = update(attrs=BASE, nlri=pfx("10.0.0.0/24"))
    (u,) = decode(data)
    assert isinstance(u, Update)
    assert u.nlri == _decode(data).nlri
    assert u.encode() == data


@pytest.mark.parametrize(
    "block",
    [b"\x40", b"\x80\x0e", b"\x90\x0e", b"\x80\x0f"],
    ids=["1-octet", "mp-reach-2-octets", "mp-reach-extended-2-octets", "mp-unreach-2-octets"],
)
def test_bug_update_py_tiny_attribute_block_at_end_of_message_raises_index_error(block: bytes) -> None:
    """An attribute block of 1 or 2 octets ending the message (no NLRI): RFC 7606 4 says
    treat-as-withdraw (fewer than 3 octets left). update.py's "MP attribute first" fast path
    reads data[ab + 1] / data[ab + 2] past the end of the message and raises IndexError."""
    u = _decode(update(attrs=block))
    assert u.disposition is not None
    assert u.withdrawals() == {}
