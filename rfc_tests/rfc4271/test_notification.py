"""RFC 4271 4.5 and 6: NOTIFICATION, its code and subcode names (RFC 4271, RFC 4486 Cease
subcodes, RFC 8538 Hard Reset, RFC 6608 FSM subcodes)."""

from __future__ import annotations

import pytest

from pyspeaker.wire import Notification, NotificationError, decode
from pyspeaker.wire.notification import decode_notification, describe
from rfc_tests.conftest import T_NOTIFICATION, message, notification

# The names as the RFCs print them (RFC 4271 4.5 and 6.x, RFC 4486 4, RFC 6608 3, RFC 8538 5).
CODES = {
    1: "Message Header Error",
    2: "OPEN Message Error",
    3: "UPDATE Message Error",
    4: "Hold Timer Expired",
    5: "Finite State Machine Error",
    6: "Cease",
}
SUBCODES = {
    (1, 1): "Connection Not Synchronized",
    (1, 2): "Bad Message Length",
    (1, 3): "Bad Message Type",
    (2, 1): "Unsupported Version Number",
    (2, 2): "Bad Peer AS",
    (2, 3): "Bad BGP Identifier",
    (2, 4): "Unsupported Optional Parameter",
    (2, 6): "Unacceptable Hold Time",
    (3, 1): "Malformed Attribute List",
    (3, 2): "Unrecognized Well-known Attribute",
    (3, 3): "Missing Well-known Attribute",
    (3, 4): "Attribute Flags Error",
    (3, 5): "Attribute Length Error",
    (3, 6): "Invalid ORIGIN Attribute",
    (3, 8): "Invalid NEXT_HOP Attribute",
    (3, 9): "Optional Attribute Error",
    (3, 10): "Invalid Network Field",
    (3, 11): "Malformed AS_PATH",
    (5, 0): "Unspecified Error",
    (5, 1): "Receive Unexpected Message in OpenSent State",
    (5, 2): "Receive Unexpected Message in OpenConfirm State",
    (5, 3): "Receive Unexpected Message in Established State",
    (6, 1): "Maximum Number of Prefixes Reached",
    (6, 2): "Administrative Shutdown",
    (6, 3): "Peer De-configured",
    (6, 4): "Administrative Reset",
    (6, 5): "Connection Rejected",
    (6, 6): "Other Configuration Change",
    (6, 7): "Connection Collision Resolution",
    (6, 8): "Out of Resources",
    (6, 9): "Hard Reset",
}
DEPRECATED = [(2, 5), (3, 7)]


@pytest.mark.parametrize(("code", "subcode"), sorted(SUBCODES), ids=lambda v: str(v))
def test_subcode_names(code: int, subcode: int) -> None:
    assert describe(code, subcode).lower() == f"{CODES[code]} / {SUBCODES[(code, subcode)]}".lower()


@pytest.mark.parametrize(("code", "subcode"), DEPRECATED)
def test_deprecated_subcodes_say_so(code: int, subcode: int) -> None:
    text = describe(code, subcode)
    assert text.startswith(CODES[code] + " / ")
    assert "deprecated" in text.lower()


def test_hold_timer_expired_has_no_subcode() -> None:
    assert describe(4, 0) == "Hold Timer Expired / Unspecific"


@pytest.mark.parametrize("code", sorted(CODES))
def test_unknown_subcode_is_shown_as_a_number(code: int) -> None:
    assert describe(code, 200) == f"{CODES[code]} / subcode 200"


def test_unknown_code_is_shown_as_a_number() -> None:
    assert describe(99, 1) == "code 99 / subcode 1"


def test_notification_decode_and_encode() -> None:
    data = notification(2, 1, b"\x00\x04")
    (n,) = decode(data)
    assert n == Notification(2, 1, b"\x00\x04")
    assert n.encode() == data
    assert str(n) == "OPEN Message Error / Unsupported Version Number"
    assert n.to_json() == {
        "type": "NOTIFICATION",
        "code": 2,
        "subcode": 1,
        "description": "OPEN Message Error / Unsupported Version Number",
        "data": "0004",
    }


def test_notification_without_data() -> None:
    (n,) = decode(notification(4, 0))
    assert n == Notification(4, 0, b"")


def test_notification_from_error_carries_code_subcode_and_data() -> None:
    err = NotificationError(1, 2, b"\x10\x01", "too long")
    n = Notification.from_error(err)
    assert n.encode() == notification(1, 2, b"\x10\x01")


def test_notification_shorter_than_21_is_1_2() -> None:
    with pytest.raises(NotificationError) as info:
        decode_notification(message(T_NOTIFICATION, b"\x06"))
    assert (info.value.code, info.value.subcode) == (1, 2)
