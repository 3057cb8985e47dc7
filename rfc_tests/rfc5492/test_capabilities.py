"""RFC 5492 capabilities in the OPEN message, kept byte for byte; RFC 9072 extended optional
parameters length."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Capability, Family, Open, decode
from pyspeaker.wire.open import (
    add_path,
    decode_open,
    enhanced_route_refresh,
    extended_message,
    extended_next_hop,
    fqdn,
    graceful_restart,
    long_lived_gr,
    multiprotocol,
    role,
    route_refresh,
)
from rfc_tests.conftest import cap, open_ext, open_msg, param

# (code, value, name, describe()) for every capability the codec knows, and one it does not
CAPS: list[tuple[int, bytes, str, dict[str, Any]]] = [
    (1, b"\x00\x01\x00\x01", "multiprotocol", {"family": "ipv4-unicast"}),
    (1, b"\x00\x02\x00\x01", "multiprotocol", {"family": "ipv6-unicast"}),
    (2, b"", "route-refresh", {}),
    (5, b"\x00\x01\x00\x01\x00\x02", "extended-next-hop", {"entries": [{"family": "ipv4-unicast", "next_hop_afi": 2}]}),
    (6, b"", "extended-message", {}),
    (9, b"\x03", "role", {"role": "customer"}),
    (
        64,
        b"\xc0\x78\x00\x01\x01\x00",
        "graceful-restart",
        {
            "restart": True,
            "notification": True,
            "restart_time": 120,
            "families": [{"family": "ipv4-unicast", "flags": "0x00", "forwarding": False}],
        },
    ),
    (65, struct.pack("!I", 4200000000), "four-octet-as", {"asn": 4200000000}),
    (
        69,
        b"\x00\x01\x01\x03\x00\x02\x01\x01",
        "add-path",
        {"families": [{"family": "ipv4-unicast", "mode": "both"}, {"family": "ipv6-unicast", "mode": "receive"}]},
    ),
    (70, b"", "enhanced-route-refresh", {}),
    (
        71,
        b"\x00\x01\x01\x80\x00\x0e\x10",
        "long-lived-graceful-restart",
        {"families": [{"family": "ipv4-unicast", "flags": "0x80", "stale_time": 3600}]},
    ),
    (71, b"", "long-lived-graceful-restart", {"families": []}),  # BIRD's empty LLGR capability
    (73, b"\x04host\x0bexample.net", "fqdn", {"hostname": "host", "domain": "example.net"}),
    (128, b"", "route-refresh-old", {}),
    (200, b"\x01\x02\x03", "capability-200", {}),
]
IDS = [f"{code}-{name}-{len(value)}" for code, value, name, _ in CAPS]


@pytest.mark.parametrize(("code", "value", "name", "described"), CAPS, ids=IDS)
def test_each_capability_decodes_and_re_encodes(code: int, value: bytes, name: str, described: dict[str, Any]) -> None:
    data = open_msg(params=param(2, cap(code, value)))
    o = decode_open(data)
    assert o.capabilities == (Capability(code, value),)
    c = o.capabilities[0]
    assert c.name == name
    assert c.describe() == described
    assert c.to_json() == {"code": code, "name": name, "raw": value.hex(), **described}
    assert c.encode() == cap(code, value)
    assert o.encode() == data


def _all_caps() -> list[bytes]:
    return [cap(code, value) for code, value, _, _ in CAPS]


def test_all_capabilities_in_one_parameter_re_encode_exactly() -> None:
    data = open_msg(params=param(2, b"".join(_all_caps()[:8])))
    o = decode_open(data)
    assert len(o.capabilities) == 8
    assert o.grouping == (8,)
    assert o.encode() == data


def test_mixed_grouping_re_encodes_exactly() -> None:
    caps = _all_caps()
    params = param(2, caps[0] + caps[1]) + param(2, caps[2]) + param(2, b"".join(caps[3:7])) + param(2, b"")
    data = open_msg(params=params)
    o = decode_open(data)
    assert o.grouping == (2, 1, 4, 0)
    assert [c.code for c in o.capabilities] == [1, 1, 2, 5, 6, 9, 64]
    assert o.encode() == data


def test_rfc9072_extended_format_decodes_and_re_encodes_exactly() -> None:
    caps = _all_caps()
    data = open_ext(params=(b"".join(caps[:5]), b"".join(caps[5:])))
    o = decode_open(data)
    assert o.extended
    assert [c.code for c in o.capabilities] == [code for code, _, _, _ in CAPS]
    assert o.grouping == (5, len(caps) - 5)
    assert o.encode() == data


def test_rfc9072_extended_format_with_a_large_parameter() -> None:
    big = cap(200, bytes(255)) + cap(201, bytes(255)) + cap(2)
    data = open_ext(params=(big,))
    o = decode_open(data)
    assert [len(c.raw) for c in o.capabilities] == [255, 255, 0]
    assert o.encode() == data


def test_encode_switches_to_rfc9072_when_parameters_exceed_255_octets() -> None:
    fams = [Family(1, s) for s in range(1, 41)]  # 40 capabilities of 6 octets, each in its own parameter
    o = Open.build(65001, 90, "192.0.2.1", [multiprotocol(f) for f in fams])
    data = o.encode()
    # Non-Ext OP Len 255, Non-Ext OP Type 255, then a 2-octet length; parameters with 2-octet lengths
    assert data[28:30] == b"\xff\xff"
    opt_len = struct.unpack("!H", data[30:32])[0]
    assert opt_len == 40 * (3 + 6)
    assert len(data) == 32 + opt_len
    assert data[32:35] == b"\x02\x00\x06"
    assert data[35:41] == b"\x01\x04\x00\x01\x00\x01"
    back = decode_open(data)
    assert back.extended
    assert back.families() == fams


def test_open_build_puts_one_capability_per_parameter() -> None:
    o = Open.build(65001, 90, "192.0.2.1", [multiprotocol(IPV4_UNICAST), route_refresh()])
    assert o.encode() == open_msg(params=param(2, cap(1, b"\x00\x01\x00\x01")) + param(2, cap(2)))


def test_capability_constructors_bytes() -> None:
    assert multiprotocol(IPV6_UNICAST) == Capability(1, b"\x00\x02\x00\x01")
    assert route_refresh() == Capability(2, b"")
    assert enhanced_route_refresh() == Capability(70, b"")
    assert extended_message() == Capability(6, b"")
    assert role(4) == Capability(9, b"\x04")
    assert extended_next_hop([(IPV4_UNICAST, 2)]) == Capability(5, b"\x00\x01\x00\x01\x00\x02")
    assert add_path([(IPV4_UNICAST, 3), (IPV6_UNICAST, 2)]) == Capability(69, b"\x00\x01\x01\x03\x00\x02\x01\x02")
    assert long_lived_gr([(IPV6_UNICAST, 0x80, 86400)]) == Capability(71, b"\x00\x02\x01\x80\x01\x51\x80")
    assert fqdn("r1", "lab") == Capability(73, b"\x02r1\x03lab")
    assert graceful_restart(300, [(IPV4_UNICAST, 0x80)], restarting=True) == Capability(64, b"\x81\x2c\x00\x01\x01\x80")


def test_open_queries() -> None:
    params = param(2, cap(1, b"\x00\x01\x00\x01") + cap(1, b"\x00\x02\x00\x01") + cap(2) + cap(65, b"\x00\x00\xfd\xe9"))
    (o,) = decode(open_msg(params=params))
    assert isinstance(o, Open)
    assert o.families() == [IPV4_UNICAST, IPV6_UNICAST]
    assert o.has(2) and not o.has(64)
    assert o.find(65) == [Capability(65, b"\x00\x00\xfd\xe9")]
    assert o.asn == 65001
    assert o.graceful_restart() is None


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (1, b"\x00\x01\x00"),
        (65, b"\x00\x01"),
        (69, b"\x00\x01\x01"),
        (71, b"\x00\x01"),
        (73, b"\x09ab"),
        (73, b"\x02ab\x05x"),
        (73, b"\x02ab\x01xy"),
        (73, b"\x02\xff\xfe\x00"),
        (9, b""),
        (2, b"\x00"),
        (64, b"\x00"),
        (5, b"\x00\x01"),
    ],
    ids=[
        "mp-3",
        "as4-2",
        "addpath-3",
        "llgr-2",
        "fqdn-host-short",
        "fqdn-domain-short",
        "fqdn-trailing",
        "fqdn-not-utf8",
        "role-0",
        "rr-1",
        "gr-1",
        "enh-2",
    ],
)
def test_malformed_capability_is_kept_and_described_as_malformed(code: int, value: bytes) -> None:
    data = open_msg(params=param(2, cap(code, value)))
    o = decode_open(data)
    assert o.capabilities == (Capability(code, value),)
    assert o.capabilities[0].describe() == {"malformed": True}
    assert o.encode() == data
