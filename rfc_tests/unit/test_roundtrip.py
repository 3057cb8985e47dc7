"""Round-trip properties of the codec, with hypothesis."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, AsPath, Context, Family, Update, UpdateDecoder, build_attrs, pack
from pyspeaker.wire import prefix as wire_prefix
from pyspeaker.wire.attrs import to_two_octet
from rfc_tests.conftest import pfx
from rfc_tests.unit.strategies import (
    assert_values,
    plain_paths,
    typed_values,
    v4_nets,
    v4_prefixes,
    v6_nets,
    v6_prefixes,
    valid_updates,
)

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode_all(msgs: list[bytes], ctx: Context | None = None) -> list[Update]:
    dec = UpdateDecoder(ctx or Context())
    return [dec.decode(m) for m in msgs]


# -- typed values -> build_attrs -> pack -> decode ------------------------------------------------
@PROPS
@given(typed_values(), st.lists(v4_prefixes, min_size=1, max_size=300))
def test_typed_values_round_trip_ipv4(values: dict[str, Any], prefixes: list[bytes]) -> None:
    attrs = build_attrs(**values)
    msgs = pack.announce_ipv4(attrs.raw, prefixes)
    got: list[bytes] = []
    for u in _decode_all(msgs):
        assert (u.errors, u.disposition) == ((), None)
        assert u.attrs is not None
        assert_values(u.attrs, values)
        assert u.attrs == attrs
        got += u.announced()[IPV4_UNICAST]
    assert got == prefixes


@PROPS
@given(
    typed_values(next_hop=False),
    st.lists(v6_prefixes, min_size=1, max_size=300),
    st.sampled_from([16, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
)
def test_typed_values_round_trip_mp_ipv6(values: dict[str, Any], prefixes: list[bytes], nh: bytes) -> None:
    attrs = build_attrs(**values)
    msgs = pack.announce_mp(IPV6_UNICAST, nh, attrs.raw, prefixes)
    got: list[bytes] = []
    for u in _decode_all(msgs):
        assert (u.errors, u.disposition) == ((), None)
        assert u.reach is not None
        assert u.reach.next_hop == nh
        assert u.attrs is not None
        assert_values(u.attrs, values)
        got += u.announced()[IPV6_UNICAST]
    assert got == prefixes


def _two_octet_safe(values: dict[str, Any]) -> bool:
    """RFC 6793 4.2.3: a 2-octet receiver ignores AS4_PATH when AGGREGATOR names an AS other
    than AS_TRANS, so a large-ASN path with a small aggregator AS cannot survive the trip."""
    aggr = values["aggregator"]
    big_path = any(a > 0xFFFF for a in values["as_path"].asns())
    return aggr is None or aggr.asn > 0xFFFF or aggr.asn == 23456 or not big_path


@PROPS
@given(typed_values(path=plain_paths).filter(_two_octet_safe), st.lists(v4_prefixes, min_size=1, max_size=50))
def test_typed_values_round_trip_through_a_2_octet_session(values: dict[str, Any], prefixes: list[bytes]) -> None:
    attrs = build_attrs(**values)
    msgs = pack.announce_ipv4(to_two_octet(attrs), prefixes)
    for u in _decode_all(msgs, Context(asn4=False)):
        assert (u.errors, u.disposition) == ((), None)
        assert u.attrs is not None
        assert_values(u.attrs, values)


# -- decode(m).encode() == m ------------------------------------------------------------------------
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_updates())
def test_decode_encode_is_identity(data: bytes) -> None:
    u = UpdateDecoder().decode(data)
    assert (u.errors, u.disposition) == ((), None)
    assert u.encode() == data


# -- prefixes ---------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.one_of(v4_nets, v6_nets))
def test_prefix_parse_and_to_text(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    wire = wire_prefix.parse(str(net))
    assert wire == pfx(str(net))
    alen = 4 if net.version == 4 else 16
    text = wire_prefix.to_text(wire, alen)
    assert ipaddress.ip_network(text) == net
    if net.version == 4:
        assert text == str(net)
    assert wire_prefix.parse(text) == wire
    assert wire_prefix.to_network(wire, alen) == net
    assert wire_prefix.from_network(net) == wire
    assert wire_prefix.parse(str(net), path_id=7) == b"\x00\x00\x00\x07" + wire


# -- packing across message boundaries -----------------------------------------------------------------
def _per_message(msgs: list[bytes], ctx: Context, withdraw: bool) -> list[list[bytes]]:
    """The prefixes each message announces (or withdraws), decoded independently."""
    out = []
    for u in _decode_all(msgs, ctx):
        assert (u.errors, u.disposition) == ((), None)
        table = u.withdrawals() if withdraw else u.announced()
        assert len(table) == 1
        out.append(next(iter(table.values())))
    return out


def _check_chunks(msgs: list[bytes], prefixes: list[bytes], max_len: int, ctx: Context, withdraw: bool) -> None:
    per = _per_message(msgs, ctx, withdraw)
    assert [p for ps in per for p in ps] == prefixes
    assert all(len(m) <= max_len for m in msgs)
    assert all(per)  # no empty message
    # as many prefixes per message as fit: the next prefix would not have fitted
    k = 0
    for m, ps in zip(msgs[:-1], per[:-1], strict=True):
        k += len(ps)
        assert len(m) + len(prefixes[k]) > max_len
    assert bool(msgs) == bool(prefixes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(v4_prefixes, max_size=3000),
    st.binary(max_size=600),
    st.sampled_from([4096, 65535]),
)
def test_pack_ipv4_loses_nothing(prefixes: list[bytes], pad: bytes, max_len: int) -> None:
    ctx = Context(extended_message=max_len > 4096)
    attrs = build_attrs(
        origin=0, as_path=AsPath.sequence(65001), next_hop="192.0.2.1", unknown=[(0xC0, 99, pad)] if pad else ()
    )
    msgs = pack.announce_ipv4(attrs.raw, prefixes, max_len)
    _check_chunks(msgs, prefixes, max_len, ctx, withdraw=False)
    msgs = pack.withdraw_ipv4(prefixes, max_len)
    _check_chunks(msgs, prefixes, max_len, ctx, withdraw=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(v6_prefixes, max_size=1500),
    st.sampled_from([16, 32]),
    st.sampled_from([IPV6_UNICAST, Family(2, 2)]),
    st.sampled_from([4096, 65535]),
)
def test_pack_mp_loses_nothing(prefixes: list[bytes], nh_len: int, fam: Family, max_len: int) -> None:
    ctx = Context(extended_message=max_len > 4096)
    attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001))
    nh = bytes(range(nh_len))
    msgs = pack.announce_mp(fam, nh, attrs.raw, prefixes, max_len)
    _check_chunks(msgs, prefixes, max_len, ctx, withdraw=False)
    msgs = pack.withdraw_mp(fam, prefixes, max_len)
    _check_chunks(msgs, prefixes, max_len, ctx, withdraw=True)
    # pack.announce / pack.withdraw choose the same encodings
    assert pack.announce(fam, attrs.raw, prefixes, nh, max_len) == pack.announce_mp(
        fam, nh, attrs.raw, prefixes, max_len
    )
    assert pack.withdraw(fam, prefixes, max_len) == msgs


@settings(max_examples=40, deadline=None)
@given(st.lists(v4_prefixes, min_size=1, max_size=2000))
def test_pack_ipv4_in_mp_reach_loses_nothing(prefixes: list[bytes]) -> None:
    attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001))
    msgs = pack.announce(IPV4_UNICAST, attrs.raw, prefixes, next_hop=bytes((192, 0, 2, 1)))
    _check_chunks(msgs, prefixes, 4096, Context(), withdraw=False)
