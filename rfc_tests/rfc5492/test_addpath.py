"""RFC 7911 ADD-PATH: NLRI carrying a 4-octet path identifier before each prefix."""

from __future__ import annotations

import pytest

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Context, NotificationError, UpdateDecoder, pack
from pyspeaker.wire.prefix import to_text
from rfc_tests.conftest import BASE, BASE_MP, mp_reach, mp_unreach, pfx, update, v6

ADDPATH_V4 = Context(addpath_rx=frozenset({IPV4_UNICAST}))
ADDPATH_V6 = Context(addpath_rx=frozenset({IPV6_UNICAST}))


def test_ipv4_nlri_and_withdrawn_with_path_ids() -> None:
    nlri = pfx("10.0.0.0/24", 1) + pfx("10.0.0.0/24", 2) + pfx("0.0.0.0/0", 0xFFFFFFFF)
    u = UpdateDecoder(ADDPATH_V4).decode(update(withdrawn=pfx("10.9.0.0/16", 7), attrs=BASE, nlri=nlri))
    assert (u.errors, u.disposition) == ((), None)
    assert u.nlri == [pfx("10.0.0.0/24", 1), pfx("10.0.0.0/24", 2), pfx("0.0.0.0/0", 0xFFFFFFFF)]
    assert u.withdrawn == [pfx("10.9.0.0/16", 7)]
    j = u.to_json(ADDPATH_V4)
    assert j["announce"] == {"ipv4-unicast": ["10.0.0.0/24 path 1", "10.0.0.0/24 path 2", "0.0.0.0/0 path 4294967295"]}
    assert j["withdraw"] == {"ipv4-unicast": ["10.9.0.0/16 path 7"]}


def test_ipv6_mp_reach_and_unreach_with_path_ids() -> None:
    attrs = (
        BASE_MP
        + mp_unreach(2, 1, pfx("2001:db8:9::/48", 3))
        + mp_reach(2, 1, v6("2001:db8::1"), pfx("2001:db8::/32", 1) + pfx("2001:db8::/32", 2))
    )
    u = UpdateDecoder(ADDPATH_V6).decode(update(attrs=attrs))
    assert u.announced() == {IPV6_UNICAST: [pfx("2001:db8::/32", 1), pfx("2001:db8::/32", 2)]}
    assert u.withdrawals() == {IPV6_UNICAST: [pfx("2001:db8:9::/48", 3)]}


def test_addpath_is_per_family() -> None:
    # IPv6 with path ids, IPv4 NLRI without
    attrs = BASE + mp_reach(2, 1, v6("2001:db8::1"), pfx("2001:db8::/32", 9))
    u = UpdateDecoder(ADDPATH_V6).decode(update(attrs=attrs, nlri=pfx("10.0.0.0/8")))
    assert u.announced() == {IPV4_UNICAST: [pfx("10.0.0.0/8")], IPV6_UNICAST: [pfx("2001:db8::/32", 9)]}


@pytest.mark.parametrize("cut", [1, 3, 4], ids=["prefix-short", "path-id-only", "path-id-and-length-only"])
def test_truncated_addpath_nlri_is_3_10(cut: int) -> None:
    nlri = pfx("10.0.0.0/24", 1) + pfx("10.1.0.0/24", 2)
    nlri = nlri[: len(nlri) - cut] if cut != 3 else pfx("10.0.0.0/24", 1) + b"\x00\x00\x00"
    with pytest.raises(NotificationError) as info:
        UpdateDecoder(ADDPATH_V4).decode(update(attrs=BASE, nlri=nlri))
    assert (info.value.code, info.value.subcode) == (3, 10)


def test_addpath_prefix_length_over_128_in_mp_reach_is_3_9() -> None:
    attrs = BASE_MP + mp_reach(2, 1, v6("2001:db8::1"), b"\x00\x00\x00\x01\x81" + bytes(17))
    with pytest.raises(NotificationError) as info:
        UpdateDecoder(ADDPATH_V6).decode(update(attrs=attrs))
    assert (info.value.code, info.value.subcode) == (3, 9)


def test_to_text_with_path_id() -> None:
    assert to_text(pfx("2001:db8::/32", 5), 16, addpath=True) == "2001:db8::/32 path 5"
    assert to_text(pfx("192.0.2.0/24", 0), 4, addpath=True) == "192.0.2.0/24 path 0"


def test_pack_carries_path_ids_unchanged() -> None:
    prefixes = [pfx(f"10.{i >> 8}.{i & 255}.0/24", i) for i in range(1500)]
    msgs = pack.announce_ipv4(BASE, prefixes)
    assert len(msgs) > 1
    dec = UpdateDecoder(ADDPATH_V4)
    got = [p for m in msgs for p in dec.decode(m).nlri]
    assert got == prefixes
