"""Full decode (:mod:`pyspeaker.wire.full`): every prefix as text, every attribute as a
typed value, RFC 7606 applied.

:meth:`Decoder.iter_full` makes the usual UPDATEs' results on a fast path of its own and
hands everything else to :meth:`UpdateDecoder.decode` and :func:`full_update`. The two must
agree on every UPDATE, whatever the decoder's caches hold: valid UPDATEs of every shape
(hypothesis), the malformed-case catalogue, mutated bytes, a benchmark corpus; a malformed
UPDATE raises the same NOTIFICATION on both. And the result itself says what the UPDATE says.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyspeaker.wire.full as full_module
from benchmarks.corpus import generate_small
from pyspeaker.testpeer.malformed import CASES, Case, Session
from pyspeaker.wire import (
    IPV4_UNICAST,
    IPV6_UNICAST,
    AsPath,
    Context,
    Decoder,
    Disposition,
    Family,
    NotificationError,
    Update,
)
from pyspeaker.wire.attrcache import AttrCache
from pyspeaker.wire.full import FullUpdate, full_update
from rfc_tests.conftest import EXT, OPT, OPT_TRANS, WK, attr
from rfc_tests.unit.strategies import valid_updates

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
V4_MULTICAST = Family(1, 2)
CONTEXTS = [
    Context(),
    Context(ibgp=False, peer_as=65001),
    Context(addpath_rx=frozenset({IPV4_UNICAST, IPV6_UNICAST})),
    Context(addpath_rx=frozenset({IPV6_UNICAST})),
    Context(extended_nexthop=frozenset({IPV4_UNICAST, V4_MULTICAST})),
    Context(asn4=False),
]


def _outcome(results: list[Any], exc: BaseException | None) -> tuple[list[Any], tuple[Any, ...] | None]:
    if exc is None:
        return results, None
    assert isinstance(exc, NotificationError), repr(exc)
    return results, (exc.code, exc.subcode, exc.data, exc.reason)


def fast(data: bytes, ctx: Context) -> tuple[list[Any], tuple[Any, ...] | None]:
    """What iter_full gives for a stream, up to the error it raises (if any)."""
    out: list[Any] = []
    try:
        for msg in Decoder(ctx).iter_full(data):
            out.append(msg)
    except NotificationError as exc:
        return _outcome(out, exc)
    return _outcome(out, None)


def plain(data: bytes, ctx: Context) -> tuple[list[Any], tuple[Any, ...] | None]:
    """What full_update makes of iter_decode's UPDATEs for the same stream."""
    out: list[Any] = []
    try:
        for msg in Decoder(ctx).iter_decode(data):
            out.append(full_update(msg, ctx) if isinstance(msg, Update) else msg)
    except NotificationError as exc:
        return _outcome(out, exc)
    return _outcome(out, None)


def _shape(msg: Any) -> Any:
    """Everything compared, down to the types of the values and the order of the keys."""
    if not isinstance(msg, FullUpdate):
        return ("other", repr(msg))
    return (
        msg,
        [(k, type(v)) for k, v in msg.values.items()],
        [(f, type(f)) for f in msg.announced],
        [(f, type(f)) for f in msg.withdrawn],
        [type(a) for a in msg.next_hops],
        None,
    )


def assert_agree(data: bytes, ctx: Context) -> tuple[list[Any], tuple[Any, ...] | None]:
    got, want = fast(data, ctx), plain(data, ctx)
    assert [_shape(m) for m in got[0]] == [_shape(m) for m in want[0]], data.hex()
    assert got[1] == want[1], data.hex()
    return got


def message(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 2) + body


def pfx(text: str, path_id: int | None = None) -> bytes:
    net = ipaddress.ip_network(text)
    wire = bytes((net.prefixlen,)) + net.network_address.packed[: (net.prefixlen + 7) >> 3]
    return wire if path_id is None else path_id.to_bytes(4, "big") + wire


def path(*asns: int) -> bytes:
    return attr(WK, 2, bytes((2, len(asns))) + b"".join(a.to_bytes(4, "big") for a in asns))


BASE = attr(WK, 1, b"\x00") + path(65001, 65002) + attr(WK, 3, bytes((192, 0, 2, 1)))
BASE_MP = attr(WK, 1, b"\x00") + path(65001, 65002)
NH6 = ipaddress.IPv6Address("2001:db8::1").packed
LL6 = ipaddress.IPv6Address("fe80::1").packed


def reach(afi: int, safi: int, nh: bytes, nlri: bytes, flags: int = OPT) -> bytes:
    return attr(flags, 14, struct.pack("!HBB", afi, safi, len(nh)) + nh + b"\x00" + nlri)


def unreach(afi: int, safi: int, nlri: bytes, flags: int = OPT) -> bytes:
    return attr(flags, 15, struct.pack("!HB", afi, safi) + nlri)


# -- the two paths agree ----------------------------------------------------------------------
@PROPS
@given(st.lists(valid_updates(), min_size=1, max_size=4), st.sampled_from(CONTEXTS), st.data())
def test_valid_updates_agree(updates: list[bytes], ctx: Context, data: st.DataObject) -> None:
    # repeats, so that sets come from the decoder's caches as well as new
    stream = updates + [data.draw(st.sampled_from(updates)) for _ in range(2)]
    assert_agree(b"".join(stream), ctx)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    msg = bytearray(draw(valid_updates()))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(19, len(msg) - 1))
        msg[pos] = draw(st.sampled_from([0, 1, 2, 3, 14, 15, 0x10, 0x40, 0x80, 0x90, 0xFF]) | st.integers(0, 255))
    if draw(st.booleans()):  # a cut: the message's own length field says so
        cut = draw(st.integers(23, len(msg)))
        del msg[cut:]
        msg[16:18] = len(msg).to_bytes(2, "big")
    return bytes(msg)


@PROPS
@given(st.lists(valid_updates(), max_size=2), mutated(), st.sampled_from(CONTEXTS))
def test_mutated_updates_agree(before: list[bytes], bad: bytes, ctx: Context) -> None:
    assert_agree(b"".join(before) + bad + b"".join(before), ctx)


def _context(case: Case) -> Context:
    if not case.asn4:
        return Context(asn4=False)
    return Context(ibgp=False, peer_as=65001) if case.session is Session.EBGP else Context()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_catalogue_agrees(case: Case) -> None:
    bad = case.update()
    ctx = _context(case)
    # alone, and after and before an UPDATE with the same set of attributes that is fine
    assert_agree(bad, ctx)
    good = message(attrs=BASE, nlri=pfx("10.9.0.0/16"))
    assert_agree(good + bad + good, ctx)


def test_benchmark_corpus_agrees() -> None:
    data = generate_small(1)
    results, error = assert_agree(data, Context(asn4=True))
    assert error is None
    assert sum(len(p) for m in results if isinstance(m, FullUpdate) for p in m.announced.values()) == 4000


# -- the fast path is the one taken for the usual UPDATEs ---------------------------------------
def _calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    """The arguments of every call of ``owner.name`` from now on (each still made)."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(owner, name)

    def recorded(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(owner, name, recorded)
    return calls


def test_usual_updates_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch, full_module, "full_update")
    stream = (
        message(attrs=BASE, nlri=pfx("10.0.0.0/24") + pfx("10.1.0.0/16"))
        + message(attrs=BASE, nlri=pfx("10.2.0.0/24"), withdrawn=pfx("10.3.0.0/24"))
        + message(attrs=reach(2, 1, NH6, pfx("2001:db8::/32")) + BASE_MP)
        + message(attrs=unreach(2, 1, pfx("2001:db8:1::/48")))
        + message(withdrawn=pfx("10.0.0.0/24"))
        + message(attrs=unreach(2, 1, pfx("2001:db8:1::/48")) + BASE)
    )
    assert len(list(Decoder(Context()).iter_full(stream))) == 6
    assert calls == []
    list(Decoder(Context()).iter_full(message()))  # End-of-RIB: the plain path's
    assert len(calls) == 1


def test_decode_full_on_one_message_is_what_iter_full_gives() -> None:
    """The public one-message form: any data, an offset, any session (here ADD-PATH, which
    iter_full leaves to it)."""
    plain_one = message(attrs=BASE, nlri=pfx("10.0.0.0/24"), withdrawn=pfx("10.3.0.0/24"))
    addpath_one = message(attrs=BASE, nlri=pfx("10.0.0.0/24", 7), withdrawn=pfx("10.3.0.0/24", 8))
    for ctx, one in ((CONTEXTS[0], plain_one), (CONTEXTS[1], plain_one), (CONTEXTS[2], addpath_one)):
        want = list(Decoder(ctx).iter_full(one))
        assert want[0].announced != {}
        assert [full_module.decode_full(Decoder(ctx).updates, one)] == want
        assert [full_module.decode_full(Decoder(ctx).updates, b"junk" + one, 4)] == want
    with pytest.raises(NotificationError):
        full_module.decode_full(Decoder(Context()).updates, plain_one[:22])


def test_a_set_the_fast_path_leaves_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scans = _calls(monkeypatch, AttrCache, "scan")
    unknown = attr(OPT_TRANS, 99, b"kept")  # an unknown optional attribute: the plain path's
    v4 = [message(attrs=BASE + unknown, nlri=pfx(f"10.{n}.0.0/16")) for n in range(5)]
    v6 = [message(attrs=reach(2, 1, NH6, pfx(f"2001:db8:{n}::/48")) + BASE_MP + unknown) for n in range(5)]
    dec = Decoder(Context())
    results = list(dec.iter_full(v4[0] + v6[0]))
    first = len(scans)
    assert first >= 2
    results += dec.iter_full(b"".join(v4[1:] + v6[1:]))
    assert len(scans) == first  # the sets were not checked again
    assert [len(r.announced) for r in results] == [1] * 10
    assert all(r.values["unknown"] == ((OPT_TRANS, 99, b"kept"),) for r in results)


# -- what a full decode says --------------------------------------------------------------------
def _one(msg: bytes, ctx: Context | None = None) -> FullUpdate:
    (result,) = assert_agree(msg, ctx or Context())[0]
    assert isinstance(result, FullUpdate)
    return result


def test_ipv4_announcement_text_and_typed_values() -> None:
    comms = attr(OPT_TRANS, 8, struct.pack("!II", (65001 << 16) | 7, 0xFFFFFF01))
    got = _one(
        message(
            withdrawn=pfx("192.168.0.0/16"),
            attrs=BASE + attr(OPT, 4, struct.pack("!I", 50)) + comms,
            nlri=pfx("10.0.1.0/24") + pfx("10.128.0.0/9") + pfx("0.0.0.0/0") + pfx("10.0.0.1/32"),
        )
    )
    assert got.announced == {IPV4_UNICAST: ["10.0.1.0/24", "10.128.0.0/9", "0.0.0.0/0", "10.0.0.1/32"]}
    assert got.withdrawn == {IPV4_UNICAST: ["192.168.0.0/16"]}
    assert got.values == {
        "origin": 0,
        "as_path": AsPath.sequence(65001, 65002),
        "next_hop": ipaddress.IPv4Address("192.0.2.1"),
        "med": 50,
        "communities": ((65001 << 16) | 7, 0xFFFFFF01),
    }
    again = list(Decoder(Context()).iter_full(message(attrs=BASE, nlri=pfx("10.0.2.0/24")) * 2))
    assert isinstance(again[0], FullUpdate) and isinstance(again[1], FullUpdate)
    assert again[0].values is again[1].values  # decoded once per set
    assert (got.next_hops, got.errors, got.disposition, got.end_of_rib) == ((), (), None, None)


def test_ipv6_reach_with_link_local_and_unreach() -> None:
    got = _one(message(attrs=reach(2, 1, NH6 + LL6, pfx("2001:db8::/32") + pfx("2001:db8:1::/48")) + BASE_MP))
    assert got.announced == {IPV6_UNICAST: ["2001:db8::/32", "2001:db8:1::/48"]}
    assert got.next_hops == (ipaddress.IPv6Address("2001:db8::1"), ipaddress.IPv6Address("fe80::1"))
    assert got.withdrawn == {}
    got = _one(message(attrs=unreach(2, 1, pfx("2001:db8::/32") + pfx("::/0"))))
    assert (got.announced, got.withdrawn) == ({}, {IPV6_UNICAST: ["2001:db8::/32", "::/0"]})


# octets that make zero groups often: the fast IPv6 text must leave those to inet_ntop
_OCTETS = st.one_of(st.sampled_from([0, 0, 0, 1, 0x0F, 0x10, 0xFF]), st.integers(0, 255))


@PROPS
@given(st.lists(st.tuples(st.integers(0, 128), st.lists(_OCTETS, min_size=16, max_size=16)), max_size=6))
def test_ipv6_text_is_inet_ntops(prefixes: list[tuple[int, list[int]]]) -> None:
    """The /17../48 prefixes whose text full decode writes itself read as inet_ntop writes
    them (RFC 5952), zero groups and all; so do the others, which it leaves to inet_ntop."""
    wire = []
    for bits, octets in prefixes:
        raw = bytes(octets[: (bits + 7) >> 3])
        if bits % 8:  # the bits past the length are zero, as on the wire
            raw = raw[:-1] + bytes((raw[-1] & (0xFF << (8 - bits % 8)) & 0xFF,))
        wire.append(bytes((bits,)) + raw)
    data = b"\x00" * 3 + b"".join(wire)  # read in place, not from the start
    want = [socket.inet_ntop(socket.AF_INET6, p[1:].ljust(16, b"\0")) + f"/{p[0]}" for p in wire]
    assert full_module._v6_texts(data, 3, len(data)) == want


@pytest.mark.parametrize(
    "text",
    [
        "2001:db8::/32",
        "2001:0:1::/48",
        "2001:db8:100::/40",
        "0:1::/32",
        "2a00::/24",
        "2001:db8::/48",
        "::/0",
        "2001:db8:0:1::/64",
    ],
)
def test_ipv6_text_examples(text: str) -> None:
    data = pfx(text)
    assert full_module._v6_texts(data, 0, len(data)) == [text]


def test_classic_and_mp_prefixes_of_one_family_are_one_list() -> None:
    got = _one(message(attrs=reach(1, 1, bytes((192, 0, 2, 9)), pfx("10.5.0.0/16")) + BASE, nlri=pfx("10.6.0.0/16")))
    assert got.announced == {IPV4_UNICAST: ["10.6.0.0/16", "10.5.0.0/16"]}
    assert got.next_hops == (ipaddress.IPv4Address("192.0.2.9"),)
    got = _one(message(withdrawn=pfx("10.7.0.0/16"), attrs=unreach(1, 2, pfx("10.8.0.0/16"))))
    assert got.withdrawn == {IPV4_UNICAST: ["10.7.0.0/16"], V4_MULTICAST: ["10.8.0.0/16"]}


def test_treat_as_withdraw_announces_nothing() -> None:
    # NEXT_HOP missing while the NLRI field carries prefixes (RFC 7606 3.d)
    got = _one(message(attrs=BASE_MP, nlri=pfx("10.0.0.0/24")))
    assert got.disposition is Disposition.TREAT_AS_WITHDRAW
    assert got.announced == {}
    assert got.withdrawn == {IPV4_UNICAST: ["10.0.0.0/24"]}
    assert "NEXT_HOP" in got.errors[0].reason


def test_attribute_discard_keeps_the_routes() -> None:
    bad_aggregator = attr(OPT_TRANS, 7, b"\x00\x01")
    got = _one(message(attrs=BASE + bad_aggregator, nlri=pfx("10.0.0.0/24")))
    assert got.disposition is Disposition.ATTRIBUTE_DISCARD
    assert got.announced == {IPV4_UNICAST: ["10.0.0.0/24"]}
    assert "aggregator" not in got.values


def test_end_of_rib() -> None:
    assert _one(message()).end_of_rib == IPV4_UNICAST
    got = _one(message(attrs=unreach(2, 1, b"")))
    assert (got.end_of_rib, got.announced, got.withdrawn) == (IPV6_UNICAST, {}, {})


def test_add_path_prefixes_name_their_path() -> None:
    ctx = Context(addpath_rx=frozenset({IPV4_UNICAST}))
    got = _one(message(attrs=BASE, nlri=pfx("10.0.0.0/24", 7)), ctx)
    assert got.announced == {IPV4_UNICAST: ["10.0.0.0/24 path 7"]}


def test_extended_length_and_late_mp_attribute() -> None:
    late = BASE_MP + reach(2, 1, NH6, pfx("2001:db8::/32"), flags=OPT | EXT)
    assert _one(message(attrs=late)).announced == {IPV6_UNICAST: ["2001:db8::/32"]}


@pytest.mark.parametrize(
    ("msg", "code", "subcode"),
    [
        (message(attrs=BASE, nlri=b"\x21\x0a\x00\x00\x00\x00"), 3, 10),  # a /33
        (message(attrs=BASE, nlri=b"\x18\x0a\x00"), 3, 10),  # cut short
        (message(withdrawn=b"\x10\x0a", attrs=BASE), 3, 10),
        (message(attrs=reach(2, 1, NH6, b"\x81" + b"\x00" * 17) + BASE_MP), 3, 9),  # a /129
        (message(attrs=reach(2, 1, NH6[:8], pfx("2001:db8::/32")) + BASE_MP), 3, 9),  # next hop of 8
        (message(attrs=unreach(2, 1, b"\x30\x20\x01")), 3, 9),
        (message(attrs=BASE + attr(WK, 99, b"x"), nlri=pfx("10.0.0.0/24")), 3, 2),  # unknown well-known
    ],
)
def test_malformed_prefixes_raise_the_notification(msg: bytes, code: int, subcode: int) -> None:
    results, error = assert_agree(msg, Context())
    assert results == []
    assert error is not None and error[:2] == (code, subcode)
