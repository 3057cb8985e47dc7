"""The codec's fast paths agree with the plain ones they stand in for.

- :class:`~pyspeaker.wire.attrcache.AttrCache` (check and decode a set in one walk, sharing
  attributes between sets) accepts exactly the blocks :func:`fast_scan` accepts, with the
  same mandatory bits, and gives the values :meth:`AttrSet.values` decodes from the bytes,
  whatever the cache already holds.
- :func:`prefix.texts` writes what :func:`prefix.to_text` writes (and, for IPv4,
  :mod:`ipaddress`).
- The decoder's shared next hops and inlined NLRI split give what the plain code gives.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyspeaker.wire import AsPath, Context, Family, UpdateDecoder, prefix
from pyspeaker.wire.attrcache import AttrCache
from pyspeaker.wire.attrs import AttrSet, _decode_values, parse_block
from pyspeaker.wire.validate import fast_rules, fast_scan
from rfc_tests.conftest import EXT, OPT, OPT_TRANS, PARTIAL, WK
from rfc_tests.unit.strategies import as_paths, attribute_pieces, v4_nets, v6_nets, valid_updates

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTEXTS = [Context(), Context(ibgp=False), Context(asn4=False)]
KNOWN = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32]


def _path(path: AsPath) -> bytes:
    return b"".join(bytes((t, len(a))) + struct.pack(f"!{len(a)}I", *a) for t, a in path.segments)


def _words(n: int) -> st.SearchStrategy[bytes]:
    return st.lists(st.integers(0, 0xFFFFFFFF), min_size=n, max_size=n).map(lambda w: struct.pack(f"!{len(w)}I", *w))


# values near the rules' edges: right and wrong lengths, one-segment paths and others
values = st.one_of(
    st.binary(max_size=14),
    st.sampled_from([b"", b"\x00", b"\x02", b"\x03", b"\x00\x00\x00\x00", b"\xe0\x00\x00\x01", b"\x0a\x00\x00\x01"]),
    as_paths.map(_path),
    st.integers(0, 6).flatmap(lambda n: _words(n).map(lambda w: bytes((2, n)) + w)),
    st.integers(0, 6).flatmap(_words),
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=12, max_size=12),
)


@st.composite
def any_attribute(draw: st.DrawFn) -> bytes:
    code = draw(st.sampled_from([*KNOWN, 11, 99, 255]))
    flags = draw(
        st.sampled_from([WK, OPT, OPT_TRANS, OPT_TRANS | PARTIAL, WK | PARTIAL, 0, OPT | PARTIAL]) | st.integers(0, 255)
    )
    value = draw(values)
    if draw(st.booleans()) or len(value) > 255:
        return bytes((flags | EXT, code)) + len(value).to_bytes(2, "big") + value
    return bytes((flags & ~EXT, code, len(value))) + value


@st.composite
def blocks(draw: st.DrawFn) -> bytes:
    pieces = draw(st.lists(any_attribute(), max_size=6)) + draw(attribute_pieces())
    pieces = draw(st.permutations(pieces))[: draw(st.integers(0, len(pieces)))]
    if pieces and draw(st.booleans()):
        pieces.append(draw(st.sampled_from(pieces)))  # a repeated attribute
    block = b"".join(pieces)
    if block and draw(st.integers(0, 4)) == 0:
        block = block[: draw(st.integers(0, len(block) - 1))]  # cut short anywhere
    return block


def _same_as_plain(cache: AttrCache, block: bytes, ctx: Context) -> None:
    got = cache.scan(block)
    want = fast_scan(block, fast_rules(ctx))
    assert (got is None) == (want is None), (block.hex(), got, want)
    if got is not None:
        assert got[0] == want
        assert got[1] == _decode_values(AttrSet(block))
        assert parse_block(block, ctx).attrs.raw == block


@PROPS
@given(st.lists(blocks(), min_size=1, max_size=6), st.integers(1, 8))
def test_attr_cache_agrees_with_fast_scan(many: list[bytes], limit: int) -> None:
    for ctx in CONTEXTS:
        shared = AttrCache(fast_rules(ctx), limit=limit)  # small: it starts afresh often
        for block in many + many:
            _same_as_plain(shared, block, ctx)
            _same_as_plain(AttrCache(fast_rules(ctx)), block, ctx)


def test_attr_cache_shares_values_and_stays_bounded() -> None:
    ctx = Context()
    cache = AttrCache(fast_rules(ctx), limit=4)
    a = bytes.fromhex("400101004002060201000000014003040a000001")
    b = bytes.fromhex("400101004002060201000000024003040a000001")
    one, two = cache.scan(a), cache.scan(b)
    assert one is not None and two is not None
    assert one[1]["next_hop"] is two[1]["next_hop"]  # the same attribute bytes, one value
    assert one[1]["as_path"] == AsPath.sequence(1) and two[1]["as_path"] == AsPath.sequence(2)
    assert len(cache) <= 4


@PROPS
@given(valid_updates(), st.sampled_from(CONTEXTS))
def test_decoded_values_match_the_attribute_bytes(msg: bytes, ctx: Context) -> None:
    dec = UpdateDecoder(ctx)
    for _ in range(2):  # the second time from the decoder's caches
        u = dec.decode(msg)
        if u.attrs is not None:
            assert u.attrs.values() == _decode_values(AttrSet(u.attrs.raw))
            assert u.errors == UpdateDecoder(ctx).decode(msg).errors


@PROPS
@given(st.lists(v4_nets, max_size=40), st.lists(v6_nets, max_size=40))
def test_texts_match_to_text_and_ipaddress(v4: list[ipaddress.IPv4Network], v6: list[ipaddress.IPv6Network]) -> None:
    wire4 = [prefix.from_network(n) for n in v4]
    assert prefix.texts(wire4, 4) == [prefix.to_text(p, 4) for p in wire4] == [str(n) for n in v4]
    wire6 = [prefix.from_network(n) for n in v6]  # (inet_ntop writes ::1:0 as ::0.1.0.0)
    assert prefix.texts(wire6, 16) == [prefix.to_text(p, 16) for p in wire6]


def test_texts_every_ipv4_length() -> None:
    nets = [ipaddress.IPv4Network((0xC6336401 >> (32 - n) << (32 - n) if n else 0, n)) for n in range(33)]
    assert prefix.texts([prefix.from_network(n) for n in nets], 4) == [str(n) for n in nets]


def test_next_hops_are_shared_but_each_call_gets_its_own_list() -> None:
    nh = bytes.fromhex("20010db8000000000000000000000001fe800000000000000000000000000001")
    value = struct.pack("!HBB", 2, 1, 32) + nh + b"\x00" + b"\x30\x20\x01\x0d\xb8\x00\x01"
    attrs = bytes((OPT | EXT, 14)) + len(value).to_bytes(2, "big") + value
    attrs += bytes.fromhex("400101004002 00")  # ORIGIN, empty AS_PATH
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs
    msg = b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body
    dec = UpdateDecoder(Context())
    one, two = dec.decode(msg).reach, dec.decode(msg).reach
    assert one is not None and two is not None
    first, second = one.next_hops(), two.next_hops()
    assert first == second == [ipaddress.IPv6Address("2001:db8::1"), ipaddress.IPv6Address("fe80::1")]
    assert first is not second
    first.clear()
    assert two.next_hops() == second


@PROPS
@given(st.lists(v4_nets, max_size=30), st.integers(0, 5))
def test_inlined_nlri_split_matches_split(nets: list[ipaddress.IPv4Network], cut: int) -> None:
    nlri = b"".join(prefix.from_network(n) for n in nets)
    if cut and nlri:
        nlri = nlri[: max(0, len(nlri) - cut)]
    attrs = bytes.fromhex("40010100400200400304c0000201")
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + nlri
    msg = b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body
    try:
        want: list[bytes] | None = prefix.split(nlri, 0, len(nlri), prefix.NBYTES_V4)
    except prefix.PrefixError:
        want = None
    try:
        got: list[bytes] | None = UpdateDecoder(Context()).decode(msg).nlri
    except Exception:
        got = None
    assert got == want


def _update(block: bytes, nlri: bytes = b"\x18\x0a\x00\x01") -> bytes:
    body = b"\x00\x00" + len(block).to_bytes(2, "big") + block + nlri
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


def _outcome(dec: UpdateDecoder, msg: bytes) -> object:
    try:
        u = dec.decode(msg)
    except Exception as exc:
        return type(exc), str(exc)
    attrs = u.attrs
    return (
        u.errors,
        u.disposition,
        attrs.raw if attrs is not None else None,
        attrs.values() if attrs is not None else None,
        u.nlri,
        u.announced(),
        u.withdrawals(),
    )


@PROPS
@given(st.lists(blocks() | valid_updates(), min_size=2, max_size=8), st.sampled_from(CONTEXTS))
def test_an_eager_decoder_decodes_like_a_fresh_one(items: list[bytes], ctx: Context) -> None:
    """Once a set has been looked at, the decoder checks and decodes new blocks as it files
    them: what every UPDATE then says is what a fresh, lazy decoder says of it."""
    msgs = [m if m.startswith(b"\xff" * 16) else _update(m) for m in items]
    eager = UpdateDecoder(ctx)
    for msg in msgs + msgs:
        assert _outcome(eager, msg) == _outcome(UpdateDecoder(ctx), msg)


@PROPS
@given(st.lists(blocks() | valid_updates(), min_size=1, max_size=6), st.sampled_from(CONTEXTS))
def test_decoded_updates_have_every_slot_set(items: list[bytes], ctx: Context) -> None:
    """The decoder makes the usual Update and Entry without their __init__: every slot is
    set all the same, with what __init__ would have set."""
    from pyspeaker.wire.update import Entry, Update

    dec = UpdateDecoder(ctx)
    for msg in [m if m.startswith(b"\xff" * 16) else _update(m) for m in items] * 2:
        try:
            u = dec.decode(msg)
        except Exception:
            continue
        for name in Update.__slots__:
            getattr(u, name)
        rebuilt = Update(u.withdrawn, u.nlri, u._entry, u.reach, u.unreach, u._layout)
        assert {n: getattr(rebuilt, n) for n in Update.__slots__} == {n: getattr(u, n) for n in Update.__slots__}
        entry = u._entry
        if isinstance(entry, Entry):
            for name in Entry.__slots__:
                getattr(entry, name)


FAMILIES = [(1, 1), (2, 1), (1, 2), (2, 2), (3, 1), (2, 4), (1, 128)]
MP_CONTEXTS = [
    Context(),
    Context(extended_nexthop=frozenset({Family(1, 1)})),
    Context(addpath_rx=frozenset({Family(2, 1), Family(1, 1)})),
]


@st.composite
def mp_values(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(MP_REACH_NLRI value, MP_UNREACH_NLRI value), mostly well formed, sometimes cut,
    padded or with a wrong next hop length or a family the codec does not speak."""
    afi, safi = draw(st.sampled_from(FAMILIES))
    nets = draw(st.lists(v6_nets if afi == 2 else v4_nets, max_size=8))
    nlri = b"".join(prefix.from_network(n) for n in nets)
    if draw(st.booleans()):  # path identifiers, as ADD-PATH sends them
        nlri = b"".join(draw(st.binary(min_size=4, max_size=4)) + prefix.from_network(n) for n in nets)
    nh_len = draw(st.sampled_from([4, 16, 32, 0, 5, 255]))
    head = struct.pack("!HBB", afi, safi, nh_len) + draw(st.binary(min_size=nh_len, max_size=nh_len)) + b"\x00"
    reach, unreach = head + nlri, struct.pack("!HB", afi, safi) + nlri
    cut = draw(st.integers(0, 6))
    if cut:
        reach, unreach = reach[: max(0, len(reach) - cut)], unreach[: max(0, len(unreach) - cut)]
    return reach, unreach


def _mp_outcome(fn: Any, *args: Any) -> object:
    try:
        got = fn(*args)
    except Exception as exc:
        return type(exc), str(exc), getattr(exc, "data", None)
    if isinstance(got, tuple):
        return got
    return got.family, got.next_hop, got.prefixes, got.next_hops()


@PROPS
@given(
    mp_values() | st.tuples(st.binary(max_size=24), st.binary(max_size=24)),
    st.binary(max_size=6),
    st.sampled_from(MP_CONTEXTS),
)
def test_mp_values_split_in_place_as_from_a_copy(values: tuple[bytes, bytes], pad: bytes, ctx: Context) -> None:
    """The decoder splits the usual MP attribute's prefixes where they lie in the message;
    whatever the bytes around it, it finds what the plain code finds in a copy of the value,
    errors included."""
    dec = UpdateDecoder(ctx)
    for value, at, plain in ((values[0], dec._reach_at, dec._reach), (values[1], dec._unreach_at, dec._unreach)):
        for data in (pad + value, pad + value + pad, pad + value + b"\xff" * 8):
            assert _mp_outcome(at, data, len(pad), len(pad) + len(value)) == _mp_outcome(plain, value)
