"""RFC 4271 4.1 and 6.1: the message header, and splitting a stream into messages."""

from __future__ import annotations

import struct

import pytest

from pyspeaker.wire import Context, Decoder, Framer, Keepalive, NotificationError, Update, decode, iter_frames
from rfc_tests.conftest import (
    BASE,
    KEEPALIVE,
    MARKER,
    T_KEEPALIVE,
    T_NOTIFICATION,
    T_OPEN,
    T_ROUTE_REFRESH,
    T_UPDATE,
    cap,
    message,
    notification,
    open_msg,
    param,
    pfx,
    route_refresh,
    update,
)


def _raises(data: bytes, ctx: Context | None = None) -> NotificationError:
    with pytest.raises(NotificationError) as info:
        decode(data, ctx or Context())
    return info.value


# -- 6.1 Message Header error handling -----------------------------------------------------
@pytest.mark.parametrize("bad_byte", [0, 7, 15])
def test_marker_not_all_ones_is_1_1(bad_byte: int) -> None:
    data = bytearray(KEEPALIVE)
    data[bad_byte] = 0xFE
    err = _raises(bytes(data))
    assert (err.code, err.subcode) == (1, 1)


@pytest.mark.parametrize("bad_byte", [0, 9, 15])
def test_update_marker_not_all_ones_is_1_1(bad_byte: int) -> None:
    # the usual UPDATE's header is checked by a table look-up: a bad marker is not in it
    good = update(attrs=BASE, nlri=pfx("10.0.0.0/24"))
    data = bytearray(good)
    data[bad_byte] = 0x7F
    err = _raises(good + bytes(data))
    assert (err.code, err.subcode) == (1, 1)


@pytest.mark.parametrize("cut", [1, 5, 18, 19, 30])
def test_update_cut_short_at_the_end_of_a_stream_is_1_2(cut: int) -> None:
    good = update(attrs=BASE, nlri=pfx("10.0.0.0/24"))
    err = _raises(good + good[: len(good) - cut] if cut < len(good) else good)
    assert (err.code, err.subcode) == (1, 2)


def test_update_header_table_holds_exactly_the_valid_headers() -> None:
    from pyspeaker.wire.framing import UPDATE_HEADERS, parse_header

    assert len(UPDATE_HEADERS) == 4096 - 23 + 1
    for header, length in UPDATE_HEADERS.items():
        assert parse_header(header, 0) == (length, T_UPDATE)
    assert MARKER + struct.pack("!HB", 22, T_UPDATE) not in UPDATE_HEADERS
    assert MARKER + struct.pack("!HB", 4097, T_UPDATE) not in UPDATE_HEADERS


def test_marker_error_from_framer() -> None:
    with pytest.raises(NotificationError) as info:
        Framer().feed(b"\x00" * 16 + b"\x00\x13\x04")
    assert (info.value.code, info.value.subcode) == (1, 1)


@pytest.mark.parametrize(
    ("msg_type", "length"),
    [
        pytest.param(T_KEEPALIVE, 18, id="length-18"),
        pytest.param(T_KEEPALIVE, 0, id="length-0"),
        pytest.param(T_UPDATE, 4097, id="length-4097"),
        pytest.param(T_UPDATE, 65535, id="length-65535-not-negotiated"),
        pytest.param(T_OPEN, 28, id="open-shorter-than-29"),
        pytest.param(T_UPDATE, 22, id="update-shorter-than-23"),
        pytest.param(T_KEEPALIVE, 20, id="keepalive-not-19"),
        pytest.param(T_NOTIFICATION, 20, id="notification-shorter-than-21"),
    ],
)
def test_bad_length_is_1_2_with_length_as_data(msg_type: int, length: int) -> None:
    body_len = max(0, min(length, 4200) - 19)
    data = message(msg_type, b"\x00" * body_len, length=length)
    err = _raises(data)
    assert (err.code, err.subcode) == (1, 2)
    assert err.data == struct.pack("!H", length)


def test_bad_length_from_framer_before_body_arrives() -> None:
    # the error is found from the header alone: no need to wait for 4097 octets
    with pytest.raises(NotificationError) as info:
        Framer().feed(MARKER + struct.pack("!HB", 4097, T_UPDATE))
    assert (info.value.code, info.value.subcode, info.value.data) == (1, 2, b"\x10\x01")


@pytest.mark.parametrize("msg_type", [0, 6, 128, 255])
def test_unknown_type_is_1_3_with_type_as_data(msg_type: int) -> None:
    err = _raises(message(msg_type, b"\x00" * 4))
    assert (err.code, err.subcode) == (1, 3)
    assert err.data == bytes((msg_type,))


def _big_update(total: int) -> bytes:
    """An UPDATE of exactly ``total`` octets: BASE attributes and /32 NLRI, padded with /8s."""
    room = total - 23 - len(BASE)
    nlri = b""
    i = 0
    while room - len(nlri) >= 5:
        nlri += bytes((32, 10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF))
        i += 1
    while len(nlri) < room:
        nlri += b"\x00"  # 0.0.0.0/0: one octet
    msg = update(attrs=BASE, nlri=nlri)
    assert len(msg) == total
    return msg


def test_65535_octets_accepted_with_extended_message() -> None:
    msg = _big_update(65535)
    (u,) = decode(msg, Context(extended_message=True))
    assert isinstance(u, Update)
    assert u.errors == ()
    assert len(u.nlri) > 10000
    assert u.nlri[0] == pfx("10.0.0.0/32")
    # and one octet too many is still a header error
    with pytest.raises(NotificationError):
        decode(msg + b"\x00", Context(extended_message=True))


def test_65535_octets_rejected_without_extended_message() -> None:
    err = _raises(_big_update(65535))
    assert (err.code, err.subcode, err.data) == (1, 2, b"\xff\xff")


def test_4096_octets_accepted_without_extended_message() -> None:
    (u,) = decode(_big_update(4096))
    assert isinstance(u, Update)
    assert u.errors == ()


def test_framer_max_len_65535() -> None:
    msg = _big_update(65535)
    out = Framer(max_len=65535).feed(msg)
    assert out == [(T_UPDATE, msg)]
    with pytest.raises(NotificationError):
        Framer().feed(msg)


# -- 4.1 framing of a stream ------------------------------------------------------------------
def _stream() -> list[bytes]:
    caps = param(2, cap(65, struct.pack("!I", 65001)) + cap(1, b"\x00\x01\x00\x01"))
    return [
        open_msg(params=caps),
        KEEPALIVE,
        update(withdrawn=pfx("10.9.0.0/16"), attrs=BASE, nlri=pfx("10.0.0.0/24") + pfx("10.1.0.0/17")),
        update(),
        route_refresh(1, 1, 0),
        notification(6, 2, b"\x03bye"),
    ]


def test_iter_frames_finds_each_message() -> None:
    msgs = _stream()
    data = b"".join(msgs)
    frames = list(iter_frames(data))
    assert [(t, data[s:e]) for t, s, e in frames] == [(m[18], m) for m in msgs]


def test_framer_fed_one_byte_at_a_time_yields_the_same_messages() -> None:
    msgs = _stream()
    data = b"".join(msgs)
    framer = Framer()
    got: list[tuple[int, bytes]] = []
    for k in range(len(data)):
        got += framer.feed(data[k : k + 1])
    assert got == [(m[18], m) for m in msgs]
    assert framer.pending == 0
    assert Framer().feed(data) == got


def test_framer_keeps_a_partial_message_pending() -> None:
    framer = Framer()
    assert framer.feed(KEEPALIVE + KEEPALIVE[:10]) == [(T_KEEPALIVE, KEEPALIVE)]
    assert framer.pending == 10
    assert framer.feed(KEEPALIVE[10:]) == [(T_KEEPALIVE, KEEPALIVE)]
    assert framer.pending == 0


def test_decoder_decodes_each_message_of_a_stream_one_byte_framed() -> None:
    msgs = _stream()
    dec = Decoder()
    framer = Framer()
    data = b"".join(msgs)
    out = []
    for k in range(len(data)):
        for msg_type, raw in framer.feed(data[k : k + 1]):
            out.append(dec.decode_one(msg_type, raw))
    assert [type(m).__name__ for m in out] == [
        "Open",
        "Keepalive",
        "Update",
        "Update",
        "RouteRefresh",
        "Notification",
    ]
    ref = decode(data)
    assert len(ref) == len(out)
    for a, b in zip(out, ref, strict=True):
        if isinstance(a, Update):
            assert isinstance(b, Update)
            assert (a.withdrawn, a.nlri, a.attrs) == (b.withdrawn, b.nlri, b.attrs)
        else:
            assert a == b
    u = out[2]
    assert isinstance(u, Update)
    assert u.nlri == [pfx("10.0.0.0/24"), pfx("10.1.0.0/17")]
    assert u.withdrawn == [pfx("10.9.0.0/16")]


def test_truncated_stream_is_an_error_for_iter_frames() -> None:
    data = KEEPALIVE + KEEPALIVE[:12]
    with pytest.raises(NotificationError) as info:
        list(iter_frames(data))
    assert info.value.code == 1


def test_truncated_body_is_an_error_for_iter_frames() -> None:
    msg = update(attrs=BASE, nlri=pfx("10.0.0.0/8"))
    with pytest.raises(NotificationError) as info:
        list(iter_frames(msg[:-1]))
    assert (info.value.code, info.value.subcode) == (1, 2)


# -- 4.4 KEEPALIVE -----------------------------------------------------------------------------
def test_keepalive_decodes_and_encodes() -> None:
    (msg,) = decode(KEEPALIVE)
    assert isinstance(msg, Keepalive)
    assert msg.encode() == KEEPALIVE
    assert msg.to_json() == {"type": "KEEPALIVE"}


def test_keepalive_with_a_body_is_1_2() -> None:
    err = _raises(message(T_KEEPALIVE, b"\x00"))
    assert (err.code, err.subcode, err.data) == (1, 2, b"\x00\x14")


def test_route_refresh_type_is_known() -> None:
    assert [t for t, _, _ in iter_frames(route_refresh(2, 1))] == [T_ROUTE_REFRESH]
