"""RFC 6396 records: what is written reads back the same; hostile bytes raise MrtError and
nothing else."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pyspeaker.mrt import codec
from pyspeaker.mrt.codec import (
    Bgp4mpMessage,
    Bgp4mpStateChange,
    MrtError,
    PeerEntry,
    PeerIndexTable,
    Reader,
    RibEntry,
    RibRecord,
    encode,
    iter_records,
    rib_attributes,
)
from pyspeaker.mrt.replay import Rewrite, updates
from pyspeaker.mrt.routes import message_routes, rib_attrs, routes
from pyspeaker.mrt.state import apply, table_dump
from pyspeaker.wire import build_attrs, pack
from pyspeaker.wire.attrs import AttrSet, to_two_octet
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from pyspeaker.wire.prefix import parse
from pyspeaker.wire.values import AsPath

KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"


def _one(data: bytes) -> codec.Record:
    records = list(iter_records(data))
    assert len(records) == 1
    return records[0]


def test_message_round_trips_in_every_subtype() -> None:
    for asn4 in (True, False):
        for local in (True, False):
            for addpath in (True, False):
                for extended in (True, False):
                    ts = 1700000000.25 if extended else 1700000000.0
                    rec = Bgp4mpMessage(
                        ts, 65001, 65002, "192.0.2.1", "192.0.2.2", KEEPALIVE, asn4, local, addpath, 3, extended
                    )
                    data = encode(rec)
                    assert data[4:6] == (b"\x00\x11" if extended else b"\x00\x10")
                    assert int.from_bytes(data[6:8], "big") == rec.subtype
                    assert _one(data) == rec


def test_subtype_numbers_are_rfc_6396_and_8050() -> None:
    msg = Bgp4mpMessage(0, 1, 2, "::1", "::2", KEEPALIVE)
    assert msg.subtype == 4  # BGP4MP_MESSAGE_AS4
    assert Bgp4mpMessage(0, 1, 2, "::1", "::2", KEEPALIVE, asn4=False).subtype == 1
    assert Bgp4mpMessage(0, 1, 2, "::1", "::2", KEEPALIVE, local=True).subtype == 7
    assert Bgp4mpMessage(0, 1, 2, "::1", "::2", KEEPALIVE, addpath=True).subtype == 9
    assert Bgp4mpMessage(0, 1, 2, "::1", "::2", KEEPALIVE, asn4=False, local=True, addpath=True).subtype == 10


def test_extended_timestamp_keeps_microseconds() -> None:
    rec = Bgp4mpMessage(1700000000.123456, 4200000000, 65000, "2001:db8::1", "2001:db8::2", KEEPALIVE, extended=True)
    data = encode(rec)
    seconds, mrt_type, _, length = struct.unpack_from(">IHHI", data)
    assert (seconds, mrt_type) == (1700000000, 17)
    assert length == len(data) - 12  # the microseconds field counts in the length (RFC 6396 3)
    assert int.from_bytes(data[12:16], "big") == 123456
    back = _one(data)
    assert isinstance(back, Bgp4mpMessage)
    assert abs(back.timestamp - rec.timestamp) < 1e-6
    assert back.peer_as == 4200000000


def test_state_change_round_trip() -> None:
    for asn4 in (True, False):
        rec = Bgp4mpStateChange(1700000001.0, 65001, 65002, "10.0.0.1", "10.0.0.2", 5, 6, asn4)
        assert _one(encode(rec)) == rec


def test_two_octet_record_refuses_large_as() -> None:
    try:
        encode(Bgp4mpMessage(0, 4200000000, 1, "10.0.0.1", "10.0.0.2", KEEPALIVE, asn4=False))
    except MrtError as exc:
        assert "65535" in str(exc)
    else:
        raise AssertionError("a 4-octet AS was written into a 2-octet record")


def test_table_dump_v2_round_trip() -> None:
    peers = (PeerEntry("10.0.0.1", "192.0.2.1", 65001), PeerEntry("10.0.0.2", "2001:db8::2", 4200000000))
    table = PeerIndexTable(1700000000.0, "10.255.0.1", "main", peers)
    assert _one(encode(table)) == table
    attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001), next_hop="192.0.2.1").raw
    v4 = RibRecord(1700000000.0, 2, 7, IPV4_UNICAST, parse("10.1.0.0/16"), (RibEntry(0, 1699999999, attrs),))
    assert _one(encode(v4)) == v4
    six = rib_attributes(build_attrs(origin=0, as_path=AsPath()).raw, IPV6_UNICAST, bytes(15) + b"\x01")
    v6 = RibRecord(
        1700000000.0, 10, 8, IPV6_UNICAST, parse("2001:db8::/32"), (RibEntry(1, 5, six, 1), RibEntry(0, 6, six, 2))
    )
    assert _one(encode(v6)) == v6  # subtype 10: RIB_IPV6_UNICAST_ADDPATH, from the path ids
    other = Family(1, 4)
    generic = RibRecord(1700000000.0, 6, 9, other, b"\x08\x0a", (RibEntry(0, 5, attrs),))
    assert _one(encode(generic)) == generic  # RIB_GENERIC for a family without its own subtype


def test_rib_next_hop_is_only_the_next_hop() -> None:
    """RFC 6396 4.3.4: MP_REACH_NLRI in a RIB entry holds the next hop length and address."""
    nh = bytes.fromhex("20010db8000000000000000000000001")
    raw = rib_attributes(build_attrs(origin=0, as_path=AsPath.sequence(65001)).raw, IPV6_UNICAST, nh)
    assert raw[:3] == b"\x80\x0e\x11" and raw[3] == 16 and raw[4:20] == nh
    attrs, next_hop = rib_attrs(raw)
    assert next_hop == "2001:db8::1"
    assert str(attrs.as_path) == "65001"


def test_two_octet_message_is_read_with_two_octet_as_path() -> None:
    attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001, 4200000000), next_hop="192.0.2.1")
    two = to_two_octet(AttrSet(attrs.raw))
    msg = pack.announce_ipv4(two, [parse("10.9.0.0/16")])[0]
    rec = Bgp4mpMessage(0, 65001, 65002, "192.0.2.1", "192.0.2.2", msg, asn4=False)
    (route,) = message_routes(_one(encode(rec)))  # type: ignore[arg-type]
    assert route.attrs is not None and route.attrs.as_path.asns() == [65001, 4200000000]  # AS4_PATH merged


def test_reader_takes_any_cut() -> None:
    recs = [encode(Bgp4mpStateChange(float(i), 1, 2, "10.0.0.1", "10.0.0.2", 1 + i % 6, 2)) for i in range(20)]
    data = b"".join(recs)
    for size in (1, 5, 13, 100):
        reader = Reader()
        got = []
        for i in range(0, len(data), size):
            got.extend(reader.feed(data[i : i + size]))
        reader.close()
        assert got == list(iter_records(data))
        assert len(got) == 20


def test_truncated_file_is_an_error() -> None:
    data = encode(Bgp4mpStateChange(0.0, 1, 2, "10.0.0.1", "10.0.0.2", 1, 2))
    reader = Reader()
    reader.feed(data[:-1])
    try:
        reader.close()
    except MrtError as exc:
        assert "ends" in str(exc)
    else:
        raise AssertionError("a truncated record went unnoticed")


_TYPES = st.sampled_from(
    [
        (12, 1),
        (12, 2),
        (13, 1),
        (13, 2),
        (13, 4),
        (13, 6),
        (13, 8),
        (13, 12),
        (16, 0),
        (16, 1),
        (16, 4),
        (16, 5),
        (16, 9),
        (16, 11),
        (17, 4),
        (17, 5),
        (99, 1),
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_hostile_bytes_raise_only_mrt_error(data: bytes) -> None:
    with contextlib.suppress(MrtError):
        list(routes(iter_records(data)))


@settings(max_examples=600, deadline=None)
@given(_TYPES, st.binary(max_size=200), st.lists(st.binary(max_size=120), max_size=2))
def test_hostile_bodies_raise_only_mrt_error(kind: tuple[int, int], body: bytes, more: list[bytes]) -> None:
    """Valid headers over random bodies (and a PEER_INDEX_TABLE first, so RIB entries are
    looked up), and BGP messages with a valid marker and length over random contents."""
    data = encode(PeerIndexTable(0.0, "10.0.0.1", "", (PeerEntry("10.0.0.1", "10.0.0.1", 1),)))
    data += struct.pack(">IHHI", 1, kind[0], kind[1], len(body)) + body
    for m in more:
        msg = b"\xff" * 16 + (19 + len(m)).to_bytes(2, "big") + b"\x02" + m
        for asn4 in (True, False):
            data += encode(Bgp4mpMessage(0.0, 1, 2, "10.0.0.1", "10.0.0.2", msg, asn4=asn4, addpath=not asn4))
    with contextlib.suppress(MrtError):
        list(routes(iter_records(data)))
    with contextlib.suppress(MrtError):  # the replay's UPDATEs, and a RIB from a recording
        list(updates(iter_records(data), rewrite=Rewrite(prepend=65000)))
    with contextlib.suppress(MrtError):
        list(table_dump(apply(iter_records(data))))
