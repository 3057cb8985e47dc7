"""RFC 8538 Hard Reset, RFC 9003 shutdown communication, RFC 7313 enhanced ROUTE-REFRESH."""

from __future__ import annotations

import pytest

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Family, Framer, Notification, NotificationError, RouteRefresh
from pyspeaker.wire import decode as decode_all
from rfc_tests.conftest import KEEPALIVE, MARKER, T_ROUTE_REFRESH, message, notification, route_refresh


def _one(data: bytes) -> object:
    (msg,) = decode_all(data)
    return msg


# -- RFC 8538 Hard Reset -------------------------------------------------------------------------
def test_hard_reset_carries_the_reason() -> None:
    inner = Notification(4, 0)  # Hold Timer Expired
    hr = Notification.hard_reset(inner)
    assert hr.encode() == notification(6, 9, b"\x04\x00")
    assert hr.is_hard_reset
    assert hr.hard_reset_reason == inner
    assert str(hr) == "Cease / Hard Reset (reason: Hold Timer Expired / Unspecific)"


def test_hard_reset_reason_with_data() -> None:
    data = notification(6, 9, b"\x06\x02\x05going")  # Hard Reset of Administrative Shutdown "going"
    n = _one(data)
    assert isinstance(n, Notification)
    assert n.is_hard_reset
    inner = n.hard_reset_reason
    assert inner == Notification(6, 2, b"\x05going")
    assert inner is not None and inner.shutdown_message == "going"
    j = n.to_json()
    assert j["hard_reset_reason"]["code"] == 6
    assert j["hard_reset_reason"]["shutdown_message"] == "going"


def test_hard_reset_without_reason() -> None:
    n = _one(notification(6, 9, b"\x03"))
    assert isinstance(n, Notification)
    assert n.is_hard_reset
    assert n.hard_reset_reason is None


@pytest.mark.parametrize(("code", "subcode"), [(6, 2), (6, 4), (3, 1), (4, 0)])
def test_other_notifications_are_not_hard_reset(code: int, subcode: int) -> None:
    n = Notification(code, subcode, b"\x01\x02")
    assert not n.is_hard_reset
    assert n.hard_reset_reason is None


# -- RFC 9003 shutdown communication ------------------------------------------------------------------
@pytest.mark.parametrize("subcode", [2, 4])
def test_shutdown_message_encoding(subcode: int) -> None:
    n = Notification.shutdown("maintenance, back at 10:00", subcode)
    text = b"maintenance, back at 10:00"
    assert n.encode() == notification(6, subcode, bytes((len(text),)) + text)
    assert n.shutdown_message == "maintenance, back at 10:00"


def test_shutdown_message_utf8() -> None:
    n = Notification.shutdown("Wartung \u2013 bald zurück ✓")
    raw = "Wartung \u2013 bald zurück ✓".encode()
    assert n.data == bytes((len(raw),)) + raw
    back = _one(n.encode())
    assert isinstance(back, Notification)
    assert back.shutdown_message == "Wartung \u2013 bald zurück ✓"
    assert str(back) == 'Cease / Administrative Shutdown "Wartung \u2013 bald zurück ✓"'


def test_shutdown_message_empty() -> None:
    assert Notification.shutdown("").encode() == notification(6, 2)


def test_shutdown_message_truncated_to_255_octets() -> None:
    n = Notification.shutdown("x" * 300)
    assert n.data[0] == 255
    assert n.data[1:] == b"x" * 255


def test_shutdown_message_truncated_without_cutting_a_character() -> None:
    n = Notification.shutdown("€" * 100)  # 3 octets each: 255 octets hold exactly 85
    assert n.data[0] == 255
    assert n.data[1:].decode() == "€" * 85
    n = Notification.shutdown("a" + "€" * 100)  # 1 + 3k octets: "a" + 84 euros is 253
    assert n.data[0] == 253
    assert n.data[1:].decode() == "a" + "€" * 84


def test_shutdown_message_length_overrunning_data_is_ignored() -> None:
    n = Notification(6, 2, b"\x10abc")
    assert n.shutdown_message is None


def test_shutdown_message_only_on_cease_2_and_4() -> None:
    assert Notification(6, 3, b"\x03abc").shutdown_message is None
    assert Notification(2, 2, b"\x03abc").shutdown_message is None


def test_invalid_utf8_shutdown_message_does_not_raise() -> None:
    n = Notification(6, 2, b"\x02\xff\xfe")
    assert isinstance(n.shutdown_message, str)
    assert isinstance(str(n), str)


# -- RFC 7313 ROUTE-REFRESH --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fam", "subtype"),
    [(IPV4_UNICAST, 0), (IPV6_UNICAST, 1), (IPV6_UNICAST, 2), (Family(1, 2), 0), (Family(25, 70), 0)],
)
def test_route_refresh_round_trip(fam: Family, subtype: int) -> None:
    data = route_refresh(fam.afi, fam.safi, subtype)
    rr = _one(data)
    assert rr == RouteRefresh(fam, subtype)
    assert RouteRefresh(fam, subtype).encode() == data


def test_route_refresh_to_json() -> None:
    assert RouteRefresh(IPV6_UNICAST, 1).to_json() == {
        "type": "ROUTE-REFRESH",
        "family": "ipv6-unicast",
        "subtype": "begin-of-route-refresh",
    }
    assert RouteRefresh(IPV4_UNICAST, 2).to_json()["subtype"] == "end-of-route-refresh"
    assert RouteRefresh(IPV4_UNICAST, 0).to_json()["subtype"] == "request"


def test_unknown_subtype_is_decoded_for_the_session_to_ignore() -> None:
    rr = _one(route_refresh(1, 1, 7))
    assert rr == RouteRefresh(IPV4_UNICAST, 7)


@pytest.mark.parametrize("extra", [1, 4, 100])
def test_route_refresh_wrong_length_is_7_1_with_the_whole_message(extra: int) -> None:
    data = message(T_ROUTE_REFRESH, b"\x00\x01\x01\x01" + b"\x00" * extra)
    with pytest.raises(NotificationError) as info:
        decode_all(data)
    assert (info.value.code, info.value.subcode) == (7, 1)
    assert info.value.data == data


@pytest.mark.parametrize("extra", [1, 4, 100])
def test_route_refresh_wrong_length_from_framer_fed_one_byte_at_a_time(extra: int) -> None:
    """RFC 7313 5: the NOTIFICATION's data is the complete ROUTE-REFRESH message, however
    the bytes arrive."""
    data = message(T_ROUTE_REFRESH, b"\x00\x01\x01\x01" + b"\x00" * extra)
    framer = Framer()
    with pytest.raises(NotificationError) as info:
        for k in range(len(data)):
            framer.feed(data[k : k + 1])
    assert (info.value.code, info.value.subcode) == (7, 1)
    assert info.value.data == data


def test_framer_passes_messages_before_a_bad_route_refresh() -> None:
    framer = Framer()
    assert framer.feed(KEEPALIVE) == [(4, KEEPALIVE)]
    with pytest.raises(NotificationError):
        framer.feed(MARKER + b"\x00\x18\x05" + b"\x00\x01\x00\x01\x00")
