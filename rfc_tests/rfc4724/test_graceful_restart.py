"""RFC 4724 Graceful Restart capability (with the RFC 8538 N bit), kept exactly as received;
End-of-RIB for each family a GR speaker announces."""

from __future__ import annotations

import pytest

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Capability, EncodeError, Family, Open, UpdateDecoder, pack
from pyspeaker.wire.open import decode_open, graceful_restart, parse_graceful_restart
from rfc_tests.conftest import cap, open_msg, param

FRR_GR = bytes.fromhex("4006c07800010100")  # as FRR 8.4 sends it: R and N set, 120 s, ipv4-unicast flags 0


def _open_with(*caps: bytes) -> Open:
    return decode_open(open_msg(params=param(2, b"".join(caps))))


def test_frr_capability_kept_exactly() -> None:
    data = open_msg(params=param(2, FRR_GR))
    o = decode_open(data)
    gr = o.graceful_restart()
    assert gr is not None
    assert gr.restarting is True
    assert gr.notification is True
    assert gr.restart_time == 120
    assert gr.families == ((IPV4_UNICAST, 0x00),)
    assert gr.forwarding(IPV4_UNICAST) is False
    assert gr.forwarding(IPV6_UNICAST) is None
    assert gr.raw == FRR_GR[2:]
    assert o.encode() == data


@pytest.mark.parametrize(
    ("flags", "forwarding"),
    [(0x00, False), (0x80, True), (0x81, True), (0x7F, False), (0xFF, True)],
)
def test_per_family_flags_kept_exactly(flags: int, forwarding: bool) -> None:
    value = b"\x00\x78" + b"\x00\x01\x01" + bytes((flags,)) + b"\x00\x02\x01\x80"
    o = _open_with(cap(64, value))
    gr = o.graceful_restart()
    assert gr is not None
    assert gr.families == ((IPV4_UNICAST, flags), (IPV6_UNICAST, 0x80))
    assert gr.forwarding(IPV4_UNICAST) is forwarding
    assert gr.forwarding(IPV6_UNICAST) is True
    assert (gr.restarting, gr.notification) == (False, False)
    described = o.capabilities[0].describe()
    assert described["families"][0] == {"family": "ipv4-unicast", "flags": f"0x{flags:02x}", "forwarding": forwarding}


@pytest.mark.parametrize(
    ("word", "r", "n", "time"),
    [
        (0x0000, False, False, 0),
        (0x8000, True, False, 0),
        (0x4FFF, False, True, 4095),
        (0xC001, True, True, 1),
        (0x3078, False, False, 120),
    ],  # the two reserved bits are not R or N
)
def test_restart_flags_and_time(word: int, r: bool, n: bool, time: int) -> None:
    gr = parse_graceful_restart(word.to_bytes(2, "big"))
    assert (gr.restarting, gr.notification, gr.restart_time, gr.families) == (r, n, time, ())


def test_capability_with_no_families() -> None:
    o = _open_with(cap(64, b"\x00\xb4"))
    gr = o.graceful_restart()
    assert gr is not None
    assert (gr.restart_time, gr.families) == (180, ())
    assert o.capabilities[0].describe() == {
        "restart": False,
        "notification": False,
        "restart_time": 180,
        "families": [],
    }


def test_graceful_restart_constructor_bytes() -> None:
    c = graceful_restart(120, [(IPV4_UNICAST, 0x80), (IPV6_UNICAST, 0x00)], restarting=True, notification=True)
    assert c == Capability(64, b"\xc0\x78\x00\x01\x01\x80\x00\x02\x01\x00")
    assert graceful_restart(4095, []) == Capability(64, b"\x0f\xff")
    # a test peer may send any flags octet and the reserved bits on purpose
    assert graceful_restart(1, [(IPV4_UNICAST, 0x41)], reserved_bits=3).raw == b"\x30\x01\x00\x01\x01\x41"


def test_restart_time_over_12_bits_is_refused() -> None:
    with pytest.raises(EncodeError):
        graceful_restart(4096, [])


def test_constructed_capability_round_trips_through_open() -> None:
    c = graceful_restart(90, [(IPV6_UNICAST, 0x80)], notification=True)
    o = Open.build(65001, 90, "192.0.2.1", [c])
    back = decode_open(o.encode())
    gr = back.graceful_restart()
    assert gr is not None
    assert (gr.restarting, gr.notification, gr.restart_time, gr.families) == (False, True, 90, ((IPV6_UNICAST, 0x80),))


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x00\x78\x00\x01\x01"], ids=["0", "1", "5"])
def test_malformed_capability_gives_none(value: bytes) -> None:
    o = _open_with(cap(64, value))
    assert o.graceful_restart() is None
    assert o.capabilities[0].describe() == {"malformed": True}
    with pytest.raises(ValueError):
        parse_graceful_restart(value)


def test_last_capability_wins() -> None:
    o = _open_with(cap(64, b"\x00\x78"), cap(64, b"\x80\x3c"))
    gr = o.graceful_restart()
    assert gr is not None
    assert (gr.restarting, gr.restart_time) == (True, 60)


@pytest.mark.parametrize("fam", [IPV4_UNICAST, IPV6_UNICAST, Family(1, 2), Family(2, 2)], ids=str)
def test_end_of_rib_marker_for_each_family(fam: Family) -> None:
    dec = UpdateDecoder()
    u = dec.decode(pack.end_of_rib(fam))
    assert u.end_of_rib == fam
    assert u.announced() == {} and u.withdrawals() == {}
    assert (u.errors, u.disposition) == ((), None)
