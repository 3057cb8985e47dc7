"""Capability negotiation: our OPEN built from the settings, the peer's OPEN checked, and
what both agree on (RFC 4271 4.2, 4760, 5492, 6793, 7911, 8654, 8950, 9234, 4724)."""

from __future__ import annotations

import struct

import pytest

from pyspeaker.fsm import PeerSettings, build_open, check_open, negotiate
from pyspeaker.fsm.negotiation import offer, peer_asn
from pyspeaker.fsm.types import keepalive_for
from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Capability, Context, Family, Notification, decode
from pyspeaker.wire import open as wopen
from pyspeaker.wire.open import Open
from rfc_tests.conftest import cap, open_msg, param

V4M = Family(1, 2)
BASE = PeerSettings(local_as=65001, peer_as=65002, router_id="192.0.2.1")


def _caps(*items: bytes) -> bytes:
    return b"".join(param(2, item) for item in items)


def _mp(afi: int, safi: int) -> bytes:
    return cap(1, struct.pack("!HBB", afi, 0, safi))


def _peer(*items: bytes, asn: int = 65002, hold: int = 90, bgp_id: str = "192.0.2.2") -> Open:
    (msg,) = decode(open_msg(my_as=asn if asn <= 0xFFFF else 23456, hold=hold, bgp_id=bgp_id, params=_caps(*items)))
    assert isinstance(msg, Open)
    return msg


def _as4(asn: int) -> bytes:
    return cap(65, struct.pack("!I", asn))


# -- building our OPEN -------------------------------------------------------------------------
def test_default_open_bytes() -> None:
    expected = open_msg(my_as=65001, hold=90, bgp_id="192.0.2.1", params=_caps(_mp(1, 1), cap(2), cap(70), _as4(65001)))
    assert build_open(BASE).encode() == expected


def test_open_with_every_option() -> None:
    gr = wopen.graceful_restart(120, [(IPV4_UNICAST, 0x80)], restarting=True, notification=True)
    llgr = wopen.long_lived_gr([(IPV4_UNICAST, 0x80, 3600)])
    settings = PeerSettings(
        local_as=4200000001,
        peer_as=None,
        router_id="192.0.2.1",
        families=(IPV4_UNICAST, IPV6_UNICAST),
        hold_time=30,
        route_refresh=False,
        enhanced_route_refresh=False,
        extended_message=True,
        extended_nexthop=((IPV4_UNICAST, 2),),
        addpath=((IPV4_UNICAST, 3), (IPV6_UNICAST, 1)),
        graceful_restart=gr,
        long_lived_gr=llgr,
        role=4,
        hostname="r1.example.net",
        extra_capabilities=(Capability(200, b"\x01\x02"),),
    )
    expected = open_msg(
        my_as=23456,  # AS_TRANS: the real AS is in the 4-octet AS capability
        hold=30,
        bgp_id="192.0.2.1",
        params=_caps(
            _mp(1, 1),
            _mp(2, 1),
            cap(6),
            cap(5, struct.pack("!HHH", 1, 1, 2)),
            cap(69, struct.pack("!HBB", 1, 1, 3) + struct.pack("!HBB", 2, 1, 1)),
            cap(64, struct.pack("!H", 0xC000 | 120) + struct.pack("!HBB", 1, 1, 0x80)),
            _as4(4200000001),
            cap(71, struct.pack("!HBB", 1, 1, 0x80) + (3600).to_bytes(3, "big")),
            cap(9, b"\x04"),
            cap(73, b"\x02r1\x0bexample.net"),
            cap(200, b"\x01\x02"),
        ),
    )
    assert build_open(settings).encode() == expected


def test_open_without_four_octet_as() -> None:
    msg = build_open(PeerSettings(65001, 65002, "192.0.2.1", allow_as4=False))
    assert not msg.has(65) and msg.my_as == 65001


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hold_time": 2},
        {"hold_time": 70000},
        {"keepalive_time": 0},
        {"router_id": "0.0.0.0"},
        {"local_as": 4200000000, "allow_as4": False},
        {"addpath": ((IPV4_UNICAST, 4),)},
        {"role": 7},
        {"strict_role": True},
        {"connect_retry_time": 0},
        {"idle_hold_time": 10.0, "idle_hold_max": 5.0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"local_as": 65001, "peer_as": 65002, "router_id": "192.0.2.1"}
    args.update(kwargs)
    with pytest.raises(ValueError):
        PeerSettings(**args)  # type: ignore[arg-type]


# -- checking the peer's OPEN ------------------------------------------------------------------
def _check(settings: PeerSettings, peer: Open) -> Notification | None:
    rejection = check_open(settings, build_open(settings), peer)
    return None if rejection is None else rejection.notification


def test_good_open_passes() -> None:
    assert _check(BASE, _peer(_mp(1, 1), _as4(65002))) is None


def test_peer_as_from_the_four_octet_capability() -> None:
    settings = PeerSettings(65001, 4200000002, "192.0.2.1")
    peer = _peer(_as4(4200000002), asn=4200000002)
    assert peer.my_as == 23456 and peer_asn(build_open(settings), peer) == 4200000002
    assert _check(settings, peer) is None
    # a speaker that does not send the capability itself only knows the 2-octet field
    two = PeerSettings(65001, 23456, "192.0.2.1", allow_as4=False)
    assert _check(two, peer) is None


def test_bad_peer_as() -> None:
    assert _check(BASE, _peer(_as4(65003), asn=65003)) == Notification(2, 2, b"\xfd\xeb")
    assert _check(BASE, _peer(_as4(70000), asn=70000)) == Notification(2, 2, struct.pack("!I", 70000))


def test_bad_identifier_only_for_ibgp() -> None:
    ibgp = PeerSettings(65001, 65001, "192.0.2.1")
    assert _check(ibgp, _peer(_as4(65001), asn=65001, bgp_id="192.0.2.1")) == Notification(2, 3)
    assert _check(BASE, _peer(_as4(65002), bgp_id="192.0.2.1")) is None


def test_required_capabilities() -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", required_capabilities=(65, 64))
    assert _check(settings, _peer()) == Notification(2, 7, b"\x41\x00\x40\x00")
    assert _check(settings, _peer(_as4(65002))) == Notification(2, 7, b"\x40\x00")
    gr = cap(64, b"\x00\x78")
    assert _check(settings, _peer(_as4(65002), gr)) is None


@pytest.mark.parametrize(
    ("ours", "theirs", "ok"),
    [(0, 3, True), (3, 0, True), (1, 2, True), (2, 1, True), (4, 4, True), (0, 0, False), (3, 4, False)],
)
def test_role_pairs(ours: int, theirs: int, ok: bool) -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", role=ours)
    result = _check(settings, _peer(_as4(65002), cap(9, bytes((theirs,)))))
    assert result == (None if ok else Notification(2, 11))


def test_role_conflicting_capabilities_and_strict_mode() -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", role=3)
    assert _check(settings, _peer(cap(9, b"\x00"), cap(9, b"\x04"))) == Notification(2, 11)
    assert _check(settings, _peer(cap(9, b"\x00\x00"))) == Notification(2, 11)
    assert _check(settings, _peer()) is None
    strict = PeerSettings(65001, 65002, "192.0.2.1", role=3, strict_role=True)
    assert _check(strict, _peer()) == Notification(2, 11)


def test_hold_time_1_built_by_hand_is_2_6() -> None:
    import ipaddress

    peer = Open(65002, 1, ipaddress.IPv4Address("192.0.2.2"))
    assert _check(BASE, peer) == Notification(2, 6)


# -- negotiation -------------------------------------------------------------------------------


def test_families_are_the_intersection() -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", families=(IPV4_UNICAST, IPV6_UNICAST, V4M))
    neg = negotiate(settings, build_open(settings), _peer(_mp(2, 1), _mp(1, 2), _mp(2, 2)))
    assert neg.families == frozenset({IPV6_UNICAST, V4M})


def test_no_multiprotocol_capability_means_ipv4_unicast() -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", families=(IPV4_UNICAST, IPV6_UNICAST))
    assert negotiate(settings, build_open(settings), _peer()).families == frozenset({IPV4_UNICAST})
    v6 = PeerSettings(65001, 65002, "192.0.2.1", families=(IPV6_UNICAST,))
    assert negotiate(v6, build_open(v6), _peer()).families == frozenset()
    assert offer(_peer(_mp(2, 1))).families == frozenset({IPV6_UNICAST})  # MP sent: no implied IPv4


@pytest.mark.parametrize(("ours", "theirs", "hold"), [(90, 30, 30), (30, 90, 30), (90, 0, 0), (0, 90, 0), (3, 3, 3)])
def test_hold_time_is_the_smaller(ours: int, theirs: int, hold: int) -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", hold_time=ours)
    neg = negotiate(settings, build_open(settings), _peer(hold=theirs))
    assert neg.hold_time == hold and neg.keepalive_time == hold // 3


def test_keepalive_rules() -> None:
    assert keepalive_for(PeerSettings(65001, 65002, "192.0.2.1", keepalive_time=10), 90) == 10
    assert keepalive_for(PeerSettings(65001, 65002, "192.0.2.1", keepalive_time=60), 90) == 30
    assert keepalive_for(PeerSettings(65001, 65002, "192.0.2.1", keepalive_time=60), 0) == 0
    assert keepalive_for(BASE, 4) == 1
    assert BASE.keepalive == 30


def test_four_octet_as_needs_both() -> None:
    assert negotiate(BASE, build_open(BASE), _peer(_as4(65002))).asn4
    assert not negotiate(BASE, build_open(BASE), _peer()).asn4
    two = PeerSettings(65001, 65002, "192.0.2.1", allow_as4=False)
    assert not negotiate(two, build_open(two), _peer(_as4(65002))).asn4


def test_simple_capabilities_need_both() -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", extended_message=True)
    neg = negotiate(settings, build_open(settings), _peer(cap(6), cap(128)))
    assert neg.extended_message and neg.route_refresh and not neg.enhanced_route_refresh
    neg = negotiate(BASE, build_open(BASE), _peer(cap(6), cap(2), cap(70)))
    assert not neg.extended_message and neg.route_refresh and neg.enhanced_route_refresh


def test_addpath_directions() -> None:
    settings = PeerSettings(
        65001,
        65002,
        "192.0.2.1",
        families=(IPV4_UNICAST, IPV6_UNICAST, V4M),
        addpath=((IPV4_UNICAST, 2), (IPV6_UNICAST, 3), (V4M, 1)),
    )
    theirs = cap(69, struct.pack("!HBB", 1, 1, 1) + struct.pack("!HBB", 2, 1, 2) + struct.pack("!HBB", 1, 2, 1))
    neg = negotiate(settings, build_open(settings), _peer(_mp(1, 1), _mp(2, 1), _mp(1, 2), theirs))
    assert neg.addpath_tx == frozenset({IPV4_UNICAST})  # we send, they receive
    assert neg.addpath_rx == frozenset({IPV6_UNICAST})  # they send, we receive
    # a family not negotiated gets no ADD-PATH
    neg = negotiate(settings, build_open(settings), _peer(_mp(2, 1), theirs))
    assert neg.addpath_tx == frozenset() and neg.addpath_rx == frozenset({IPV6_UNICAST})


def test_extended_next_hop_needs_both_with_ipv6_next_hop() -> None:
    settings = PeerSettings(65001, 65002, "192.0.2.1", extended_nexthop=((IPV4_UNICAST, 2), (V4M, 2)))
    theirs = cap(5, struct.pack("!HHH", 1, 1, 2) + struct.pack("!HHH", 1, 2, 1))
    neg = negotiate(settings, build_open(settings), _peer(theirs))
    assert neg.extended_nexthop == frozenset({IPV4_UNICAST})


def test_graceful_restart_is_what_the_peer_sent_byte_for_byte() -> None:
    raw = struct.pack("!H", 0x8000 | 0x3000 | 90) + struct.pack("!HBB", 1, 1, 0x80) + struct.pack("!HBB", 2, 1, 0x7F)
    neg = negotiate(BASE, build_open(BASE), _peer(cap(64, raw)))
    gr = neg.graceful_restart
    assert gr is not None and gr.raw == raw
    assert gr.restarting and not gr.notification and gr.restart_time == 90
    assert gr.forwarding(IPV4_UNICAST) is True and gr.forwarding(IPV6_UNICAST) is False
    assert negotiate(BASE, build_open(BASE), _peer()).graceful_restart is None


def test_context_carries_what_the_codec_needs() -> None:
    settings = PeerSettings(
        65001, 65001, "192.0.2.1", extended_message=True, addpath=((IPV4_UNICAST, 3),),
        extended_nexthop=((IPV4_UNICAST, 2),),
    )  # fmt: skip
    peer = _peer(
        _as4(65001), cap(6), cap(69, struct.pack("!HBB", 1, 1, 3)), cap(5, struct.pack("!HHH", 1, 1, 2)), asn=65001
    )
    neg = negotiate(settings, build_open(settings), peer)
    assert neg.ibgp and neg.peer_as == 65001 and neg.peer_id == "192.0.2.2"
    assert neg.context() == Context(
        asn4=True,
        addpath_rx=frozenset({IPV4_UNICAST}),
        addpath_tx=frozenset({IPV4_UNICAST}),
        extended_message=True,
        ibgp=True,
        peer_as=65001,
        extended_nexthop=frozenset({IPV4_UNICAST}),
    )
    assert neg.context().max_message_len == 65535
