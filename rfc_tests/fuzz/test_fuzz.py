"""Bounded fuzzing of the decoders: whatever the bytes, the codec raises nothing but
WireError subclasses (which carry the NOTIFICATION to send), and a decoded message can
be inspected without raising anything else either.

Two parts: hypothesis-generated messages, and a mutation fuzz of valid messages (bit flips,
truncation, insertion, length-field corruption, splices) with a fixed seed and a fixed count.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyspeaker.wire import (
    IPV4_UNICAST,
    IPV6_UNICAST,
    Context,
    Decoder,
    Framer,
    Message,
    Notification,
    Open,
    Update,
    UpdateDecoder,
    WireError,
)
from pyspeaker.wire.attrs import to_two_octet
from rfc_tests.conftest import (
    BASE,
    BASE_MP,
    EXT,
    KEEPALIVE,
    MARKER,
    OPT,
    OPT_TRANS,
    WK,
    as_path,
    attr,
    cap,
    communities,
    local_pref,
    med,
    mp_reach,
    mp_unreach,
    next_hop,
    notification,
    open_ext,
    open_msg,
    origin,
    param,
    pfx,
    route_refresh,
    segment,
    update,
    v4,
    v6,
)

CONTEXTS = [
    Context(),
    Context(asn4=False),
    Context(ibgp=False, peer_as=65001),
    Context(
        addpath_rx=frozenset({IPV4_UNICAST, IPV6_UNICAST}),
        extended_nexthop=frozenset({IPV4_UNICAST}),
        extended_message=True,
    ),
]


def _touch(msg: Message, ctx: Context) -> None:
    """Use everything a session or the CLI may use of a decoded message."""
    if isinstance(msg, Update):
        _ = (msg.errors, msg.disposition, msg.announced(), msg.withdrawals(), msg.end_of_rib, msg.treat_as_withdraw)
        msg.to_json(ctx)
        repr(msg)
        if msg.reach is not None:
            msg.reach.next_hops()
        attrs = msg.attrs
        if attrs is not None:
            attrs.values()
            attrs.to_json()
            attrs.for_export()
            _ = (attrs.as_path.length, attrs.as_path.first_as, attrs.as_path.origin_as, str(attrs.as_path))
            to_two_octet(attrs)
        msg.encode(Context(extended_message=True))
    elif isinstance(msg, Open):
        msg.to_json()
        msg.encode()
        msg.graceful_restart()
        msg.families()
        _ = msg.asn
    elif isinstance(msg, Notification):
        str(msg)
        msg.to_json()
    else:
        msg.to_json()
        msg.encode()


def _decode_safely(data: bytes, ctx: Context) -> None:
    try:
        for msg in Decoder(ctx).decode(data):
            _touch(msg, ctx)
    except WireError:
        pass


def _update_safely(data: bytes, ctx: Context) -> None:
    try:
        u = UpdateDecoder(ctx).decode(data)
        _touch(u, ctx)
    except WireError:
        pass


# -- hypothesis: arbitrary framed messages --------------------------------------------------------
@st.composite
def framed(draw: st.DrawFn) -> bytes:
    msg_type = draw(st.sampled_from([1, 2, 2, 2, 3, 4, 5, 6]))
    body = draw(st.binary(max_size=200))
    length = draw(st.one_of(st.just(19 + len(body)), st.integers(0, 0xFFFF)))
    return MARKER + struct.pack("!HB", length, msg_type) + body


FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(framed(), min_size=1, max_size=3).map(b"".join), st.sampled_from(CONTEXTS))
def test_decoder_raises_only_wire_errors(data: bytes, ctx: Context) -> None:
    _decode_safely(data, ctx)


# -- hypothesis: UPDATEs from plausible pieces ----------------------------------------------------------
CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 99, 200]
FLAGS = [0x00, WK, OPT, OPT_TRANS, OPT_TRANS | 0x20, WK | EXT, OPT | EXT, OPT_TRANS | EXT, 0xFF]


@st.composite
def attribute(draw: st.DrawFn) -> bytes:
    flags = draw(st.sampled_from(FLAGS))
    code = draw(st.sampled_from(CODES))
    value = draw(
        st.one_of(
            st.binary(max_size=40),
            st.just(b"\x00\x02\x01\x10" + bytes(16) + b"\x00" + pfx("2001:db8::/32")),
            st.just(b"\x00\x01\x01\x04" + v4("192.0.2.1") + b"\x00" + pfx("10.0.0.0/8")),
            st.just(segment(2, [65001, 23456])),
            st.just(b"\x00\x02\x01"),
        )
    )
    if flags & EXT:
        raw = bytes((flags, code)) + struct.pack("!H", len(value)) + value
    else:
        raw = bytes((flags, code, len(value))) + value
    cut = draw(st.integers(0, 3))
    return raw[: len(raw) - cut] if draw(st.integers(0, 9)) == 0 else raw


@st.composite
def update_messages(draw: st.DrawFn) -> bytes:
    withdrawn = draw(st.binary(max_size=12))
    block = b"".join(draw(st.lists(attribute(), max_size=6)))
    nlri = draw(st.binary(max_size=12))
    wlen = draw(st.one_of(st.just(len(withdrawn)), st.integers(0, 0xFFFF)))
    alen = draw(st.one_of(st.just(len(block)), st.integers(0, len(block) + 4)))
    body = struct.pack("!H", wlen) + withdrawn + struct.pack("!H", alen) + block + nlri
    return MARKER + struct.pack("!HB", 19 + len(body), 2) + body


@FUZZ
@given(update_messages(), st.sampled_from(CONTEXTS))
def test_update_decoder_raises_only_wire_errors(data: bytes, ctx: Context) -> None:
    _update_safely(data, ctx)


# -- mutation fuzz of valid messages ---------------------------------------------------------------------
def _corpus() -> list[bytes]:
    v6_nh = v6("2001:db8::1") + v6("fe80::1")
    big_path = as_path(segment(2, [65001, 23456, 4200000000]), segment(1, [1, 2, 3]))
    return [
        update(
            withdrawn=pfx("10.9.0.0/16"),
            attrs=BASE + med(5) + local_pref(100) + communities(1, 2),
            nlri=pfx("10.0.0.0/24") + pfx("10.1.0.0/17"),
        ),
        update(
            attrs=origin(0)
            + big_path
            + next_hop()
            + attr(OPT_TRANS, 7, struct.pack("!I", 65010) + v4("1.1.1.1"))
            + attr(OPT, 9, v4("2.2.2.2"))
            + attr(OPT, 10, v4("3.3.3.3"))
            + attr(OPT_TRANS, 16, bytes(8))
            + attr(OPT_TRANS, 32, bytes(12))
            + attr(OPT_TRANS, 99, b"xyz")
            + attr(WK, 6, b""),
            nlri=pfx("192.0.2.0/24"),
        ),
        update(
            attrs=origin(0)
            + as_path(segment(2, [65001, 23456], 2))
            + next_hop()
            + attr(OPT_TRANS, 17, segment(2, [65001, 4200000000]))
            + attr(OPT_TRANS, 7, struct.pack("!H", 23456) + v4("1.1.1.1"))
            + attr(OPT_TRANS, 18, struct.pack("!I", 4200000000) + v4("1.1.1.1")),
            nlri=pfx("10.0.0.0/8"),
        ),
        update(attrs=mp_reach(2, 1, v6_nh, pfx("2001:db8::/32") + pfx("2001:db8:1::/48")) + BASE_MP),
        update(
            attrs=BASE_MP
            + mp_unreach(2, 1, pfx("2001:db8:2::/48"))
            + mp_reach(1, 1, v4("192.0.2.1"), pfx("10.0.0.0/8"))
        ),
        update(attrs=mp_unreach(2, 1, b"")),
        update(attrs=mp_unreach(1, 1, pfx("10.0.0.0/8") + pfx("10.1.0.0/16"))),
        update(attrs=BASE + attr(OPT_TRANS | EXT, 200, bytes(300)), nlri=pfx("10.0.0.0/8")),
        update(),
        open_msg(
            params=param(2, cap(1, b"\x00\x01\x00\x01") + cap(65, b"\x00\x00\xfd\xe9") + cap(2))
            + param(2, cap(64, b"\xc0\x78\x00\x01\x01\x80") + cap(69, b"\x00\x01\x01\x03"))
            + param(2, cap(73, b"\x02r1\x03lab") + cap(71, b"\x00\x01\x01\x80\x00\x0e\x10") + cap(9, b"\x03"))
        ),
        open_ext(params=(cap(1, b"\x00\x02\x00\x01") + cap(5, b"\x00\x01\x00\x01\x00\x02") + cap(6),)),
        notification(6, 9, b"\x06\x02\x05going"),
        notification(3, 9, attr(OPT, 14, b"\x00\x02")),
        route_refresh(2, 1, 1),
        KEEPALIVE,
    ]


def _length_fields(msg: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the length fields of a message: header, UPDATE lengths, attribute
    lengths, OPEN optional parameters length."""
    out = [(16, 2)]
    if len(msg) >= 21 and msg[18] == 2:
        out.append((19, 2))
        we = 21 + struct.unpack_from("!H", msg, 19)[0]
        if we + 2 <= len(msg):
            out.append((we, 2))
            i, end = we + 2, we + 2 + struct.unpack_from("!H", msg, we)[0]
            while i + 3 <= min(end, len(msg)):
                ext = msg[i] & EXT
                out.append((i + 2, 2 if ext else 1))
                i += (4 + struct.unpack_from("!H", msg, i + 2)[0]) if ext and i + 4 <= len(msg) else 3 + msg[i + 2]
    elif len(msg) > 28 and msg[18] == 1:
        out.append((28, 1))
    return out


def _fix_header(m: bytearray) -> None:
    if len(m) >= 18:
        m[16:18] = struct.pack("!H", len(m) & 0xFFFF)


def _mutate(rng: random.Random, msg: bytes, corpus: list[bytes]) -> bytes:
    """One to three mutations in a row."""
    for _ in range(rng.choice([1, 1, 2, 3])):
        msg = _mutate_once(rng, msg, corpus)
    return msg


def _mutate_once(rng: random.Random, msg: bytes, corpus: list[bytes]) -> bytes:
    m = bytearray(msg)
    if len(m) < 19:
        return msg
    kind = rng.randrange(7)
    if kind == 0:  # bit flips after the marker
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(16, len(m))
            m[pos] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation, header length fixed up (or not)
        m = m[: rng.randrange(19, len(m) + 1)]
        if rng.random() < 0.8:
            _fix_header(m)
    elif kind == 2:  # length-field corruption
        offset, size = rng.choice(_length_fields(msg))
        value = rng.choice([0, 1, 2, 3, 255, 0xFFFF, rng.randrange(1 << (8 * size))]) & ((1 << (8 * size)) - 1)
        if offset + size <= len(m):
            m[offset : offset + size] = value.to_bytes(size, "big")
    elif kind == 3:  # off-by-a-few on a length field
        offset, size = rng.choice(_length_fields(msg))
        if offset + size <= len(m):
            value = (int.from_bytes(m[offset : offset + size], "big") + rng.choice([-2, -1, 1, 2])) % (1 << (8 * size))
            m[offset : offset + size] = value.to_bytes(size, "big")
    elif kind == 4:  # insert random bytes, header length fixed up
        pos = rng.randrange(19, len(m) + 1)
        m[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        _fix_header(m)
    elif kind == 5:  # overwrite a byte with an interesting value
        pos = rng.randrange(19, len(m)) if len(m) > 19 else 18
        m[pos] = rng.choice([0, 1, 2, 3, 4, 14, 15, 0x10, 0x40, 0x80, 0xC0, 0xD0, 0xFF, rng.randrange(256)])
    else:  # splice the tail of another message
        other = rng.choice(corpus)
        cut, cut2 = rng.randrange(19, len(m) + 1), rng.randrange(19, len(other) + 1)
        m = m[:cut] + other[cut2:]
        _fix_header(m)
    return bytes(m)


MUTATIONS = 20_000  # per context: 80,000 mutated messages in all


@pytest.mark.parametrize("ctx", CONTEXTS, ids=["default", "2-octet", "ebgp", "addpath-enh-extmsg"])
def test_mutated_messages_raise_only_wire_errors(ctx: Context) -> None:
    rng = random.Random(7606)
    corpus = _corpus()
    for i, msg in enumerate(corpus):  # the corpus itself is valid (the third on a 2-octet session)
        valid_on = Context(asn4=i != 2)
        for m in Decoder(valid_on).decode(msg):
            assert not isinstance(m, Update) or m.errors == ()
            _touch(m, valid_on)
    failures: list[tuple[bytes, str]] = []
    for _ in range(MUTATIONS):
        data = _mutate(rng, rng.choice(corpus), corpus)
        for run in (_decode_safely, _update_safely if data[18:19] == b"\x02" else None):
            if run is None:
                continue
            try:
                run(data, ctx)
            except Exception as exc:  # anything but a WireError is a bug
                failures.append((data, f"{run.__name__}: {type(exc).__name__}: {exc}"))
    if failures:
        data, what = failures[0]
        pytest.fail(f"{len(failures)} inputs raised a non-WireError, e.g. {what} on {data.hex()}")


def _chunks(rng: random.Random, data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 40)
        out.append(data[i : i + n])
        i += n
    return out


def test_framer_on_mutated_streams_raises_only_wire_errors() -> None:
    rng = random.Random(4271)
    corpus = _corpus()
    decoded = 0
    for k in range(1500):
        ctx = CONTEXTS[k % 3]
        stream = b"".join(rng.choice(corpus) for _ in range(3))
        stream = _mutate(rng, stream, corpus) if rng.random() < 0.9 else stream
        framer = Framer(max_len=rng.choice([4096, 65535]))
        dec = Decoder(ctx)
        try:
            for chunk in _chunks(rng, stream):
                for msg_type, raw in framer.feed(chunk):
                    _touch(dec.decode_one(msg_type, raw), ctx)
                    decoded += 1
        except WireError:
            pass
    assert decoded > 1000  # the fuzz reached the decoders, not only the framer
