"""RFC 4271 4.2 and 6.2: the OPEN message and its errors."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from pyspeaker.wire import NotificationError, Open, decode
from pyspeaker.wire.open import decode_open
from rfc_tests.conftest import cap, open_msg, param


def _raises(data: bytes) -> NotificationError:
    with pytest.raises(NotificationError) as info:
        decode(data)
    return info.value


def test_minimal_open_decodes() -> None:
    (o,) = decode(open_msg(my_as=65001, hold=180, bgp_id="10.0.0.1"))
    assert isinstance(o, Open)
    assert (o.version, o.my_as, o.hold_time) == (4, 65001, 180)
    assert o.bgp_id == ipaddress.IPv4Address("10.0.0.1")
    assert o.capabilities == ()
    assert o.asn == 65001


@pytest.mark.parametrize("version", [0, 3, 5, 255])
def test_unsupported_version_is_2_1_with_version_4_as_data(version: int) -> None:
    err = _raises(open_msg(version=version))
    assert (err.code, err.subcode) == (2, 1)
    assert err.data == b"\x00\x04"  # the largest locally supported version, 2 octets


@pytest.mark.parametrize("hold", [1, 2])
def test_hold_time_1_or_2_is_2_6(hold: int) -> None:
    err = _raises(open_msg(hold=hold))
    assert (err.code, err.subcode) == (2, 6)


@pytest.mark.parametrize("hold", [0, 3, 65535])
def test_hold_time_0_and_at_least_3_accepted(hold: int) -> None:
    (o,) = decode(open_msg(hold=hold))
    assert isinstance(o, Open)
    assert o.hold_time == hold


def test_bgp_identifier_zero_is_2_3() -> None:
    err = _raises(open_msg(bgp_id="0.0.0.0"))
    assert (err.code, err.subcode) == (2, 3)


@pytest.mark.parametrize("ptype", [1, 3, 254])
def test_unsupported_optional_parameter_is_2_4(ptype: int) -> None:
    err = _raises(open_msg(params=param(ptype, b"\x00\x01")))
    assert (err.code, err.subcode) == (2, 4)


def test_unsupported_parameter_after_a_capability_parameter_is_2_4() -> None:
    params = param(2, cap(2)) + param(1, b"\x00")
    err = _raises(open_msg(params=params))
    assert (err.code, err.subcode) == (2, 4)


@pytest.mark.parametrize(
    "opt_len_delta",
    [pytest.param(1, id="opt-len-too-long"), pytest.param(-1, id="opt-len-too-short")],
)
def test_optional_parameters_length_disagreeing_with_message_is_an_open_error(opt_len_delta: int) -> None:
    params = param(2, cap(2))
    err = _raises(open_msg(params=params, opt_len=len(params) + opt_len_delta))
    assert err.code == 2


def test_capability_overrunning_its_parameter_is_an_open_error() -> None:
    params = bytes((2, 3)) + bytes((65, 4)) + b"\x00"  # capability says 4 octets, parameter holds 1
    err = _raises(open_msg(params=params))
    assert err.code == 2


def test_open_shorter_than_29_via_decode_open_is_1_2() -> None:
    with pytest.raises(NotificationError) as info:
        decode_open(open_msg()[:28])
    assert (info.value.code, info.value.subcode) == (1, 2)


def test_open_encode_layout() -> None:
    o = Open(my_as=65001, hold_time=90, bgp_id=ipaddress.IPv4Address("192.0.2.1"))
    assert o.encode() == b"\xff" * 16 + struct.pack("!HBBHH", 29, 1, 4, 65001, 90) + bytes([192, 0, 2, 1, 0])


def test_open_to_json() -> None:
    (o,) = decode(open_msg(my_as=65002, hold=30, bgp_id="10.1.2.3", params=param(2, cap(2))))
    assert isinstance(o, Open)
    j = o.to_json()
    assert j["type"] == "OPEN"
    assert (j["my_as"], j["asn"], j["hold_time"], j["bgp_id"]) == (65002, 65002, 30, "10.1.2.3")
    assert j["capabilities"] == [{"code": 2, "name": "route-refresh", "raw": ""}]
