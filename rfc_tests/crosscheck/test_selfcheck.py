"""Self-check of the independent BGP decoders (tshark, scapy) used for cross-checking.

The messages are built by hand here with a tiny struct-based builder, and the
expected normalized form is written out literally. The quirk tests pin down the
known misdecodes of each decoder and check that they are reported, not hidden.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from rfc_tests.crosscheck.common import ALL_FIELDS, DecodeResult, UntrustedDecodeError, Update, diff_updates
from rfc_tests.crosscheck.pcap import write_pcap

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

# --- tiny wire builder -------------------------------------------------------

ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR = 1, 2, 3, 4, 5, 6, 7
COMMUNITIES, MP_REACH, MP_UNREACH, EXT_COMMUNITIES, LARGE_COMMUNITIES = 8, 14, 15, 16, 32
WELL_KNOWN, OPTIONAL_TRANSITIVE, OPTIONAL, EXT_LEN = 0x40, 0xC0, 0x80, 0x10
AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET = 1, 2, 3, 4


def message(msg_type: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), msg_type) + body


def attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & EXT_LEN:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def prefixes(*nets: str) -> bytes:
    out = b""
    for text in nets:
        net = ipaddress.ip_network(text)
        out += bytes([net.prefixlen]) + net.network_address.packed[: (net.prefixlen + 7) // 8]
    return out


def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return message(2, body)


def as_path(*segments: tuple[int, list[int]]) -> bytes:
    value = b"".join(struct.pack(f"!BB{len(asns)}I", t, len(asns), *asns) for t, asns in segments)
    return attr(WELL_KNOWN, AS_PATH, value)


def v6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def mp_reach(next_hop: bytes, *nets: str) -> bytes:
    value = struct.pack("!HBB", 2, 1, len(next_hop)) + next_hop + b"\x00" + prefixes(*nets)
    return attr(OPTIONAL | EXT_LEN, MP_REACH, value)


def mp_unreach(*nets: str) -> bytes:
    return attr(OPTIONAL, MP_UNREACH, struct.pack("!HB", 2, 1) + prefixes(*nets))


KEEPALIVE = message(4, b"")
OPEN = message(1, struct.pack("!BHH4sB", 4, 23456, 90, bytes([192, 0, 2, 1]), 0))

# 1. IPv4 UPDATE carrying every attribute of the normalized form, 2 prefixes.
UPDATE_V4_FULL = update(
    attrs=(
        attr(WELL_KNOWN, ORIGIN, b"\x02")
        + as_path((AS_SEQUENCE, [65001, 4200000000, 70000]), (AS_SET, [64512, 64513]))
        + attr(WELL_KNOWN, NEXT_HOP, bytes([192, 0, 2, 254]))
        + attr(OPTIONAL, MED, struct.pack("!I", 100))
        + attr(WELL_KNOWN, LOCAL_PREF, struct.pack("!I", 4294967295))
        + attr(WELL_KNOWN, ATOMIC_AGGREGATE, b"")
        + attr(OPTIONAL_TRANSITIVE, AGGREGATOR, struct.pack("!I4s", 4200000001, bytes([198, 51, 100, 7])))
        + attr(OPTIONAL_TRANSITIVE, COMMUNITIES, struct.pack("!6H", 65001, 100, 0xFFFF, 0xFF01, 0, 0))
        + attr(
            OPTIONAL_TRANSITIVE,
            EXT_COMMUNITIES,
            bytes.fromhex("0002fde900000064") + bytes.fromhex("0102c0000201007b") + bytes.fromhex("030c000000000008"),
        )
        + attr(OPTIONAL_TRANSITIVE, LARGE_COMMUNITIES, struct.pack("!6I", 4200000000, 1, 2, 65001, 4294967295, 0))
    ),
    nlri=prefixes("203.0.113.128/25", "10.1.0.0/16"),
)

# 2. Withdrawal-only IPv4 UPDATE (the default route last: see the ADD-PATH quirk).
UPDATE_V4_WITHDRAW = update(withdrawn=prefixes("10.1.0.0/16", "198.51.100.1/32", "0.0.0.0/0"))

# 3. IPv6 MP_REACH UPDATE, 32-byte next hop (global + link-local), extended-length attribute.
UPDATE_V6_REACH = update(
    attrs=(
        mp_reach(
            v6("2001:db8::1") + v6("fe80::1:2ff:fe03:405"),
            "2001:db8:1::/48",
            "2001:db8:ff00::/40",
            "2001:db8:0:1::1/128",
        )
        + attr(WELL_KNOWN, ORIGIN, b"\x00")
        + as_path((AS_SEQUENCE, [65002]))
        + attr(WELL_KNOWN, LOCAL_PREF, struct.pack("!I", 100))
    ),
)

# 4. IPv6 MP_UNREACH UPDATE.
UPDATE_V6_UNREACH = update(attrs=mp_unreach("2001:db8:1::/48", "2001:db8:0:1::1/128", "::/0"))

# 5. IPv4 End-of-RIB: an empty UPDATE.
UPDATE_V4_EOR = update()

# 6. IPv6 MP_REACH with a 16-byte next hop. Its AS_PATH is one that tshark's
#    "Auto-detect" AS length reads as three 2-octet segments [1], [513], [5]:
#    it proves `-o bgp.asn_len:4` took effect (tshark ignores bad values silently).
UPDATE_V6_REACH16 = update(
    attrs=(
        attr(WELL_KNOWN, ORIGIN, b"\x01")
        + as_path((AS_SEQUENCE, [0x00010201]), (AS_SEQUENCE, [0x02010005]))
        + attr(OPTIONAL, MED, struct.pack("!I", 0))
        + attr(OPTIONAL_TRANSITIVE, COMMUNITIES, struct.pack("!I", 0xFFFF029A))
        + attr(OPTIONAL_TRANSITIVE, EXT_COMMUNITIES, bytes.fromhex("0202fa56ea01007b"))
        + mp_reach(v6("2001:db8::2"), "2001:db8:2::/48", "::/0")
    ),
)

# 7. IPv6 End-of-RIB: an UPDATE with an empty MP_UNREACH_NLRI for AFI 2 / SAFI 1.
UPDATE_V6_EOR = update(attrs=mp_unreach())

# 8. IPv4 UPDATE with confederation AS_PATH segments; the default route alone.
UPDATE_V4_CONFED = update(
    attrs=(
        attr(WELL_KNOWN, ORIGIN, b"\x00")
        + as_path((AS_CONFED_SEQUENCE, [64600]), (AS_CONFED_SET, [64601, 64602]))
        + attr(WELL_KNOWN, NEXT_HOP, bytes([10, 0, 0, 1]))
        + attr(WELL_KNOWN, LOCAL_PREF, struct.pack("!I", 0))
    ),
    nlri=prefixes("0.0.0.0/0"),
)

# 9. iBGP-style IPv4 UPDATE with an empty AS_PATH and a host route.
UPDATE_V4_IBGP = update(
    attrs=attr(WELL_KNOWN, ORIGIN, b"\x00") + as_path() + attr(WELL_KNOWN, NEXT_HOP, bytes([10, 0, 0, 2])),
    nlri=prefixes("192.0.2.77/32"),
)

STREAM = (
    OPEN
    + KEEPALIVE
    + UPDATE_V4_FULL
    + UPDATE_V4_WITHDRAW
    + KEEPALIVE
    + UPDATE_V6_REACH
    + UPDATE_V6_UNREACH
    + UPDATE_V4_EOR
    + UPDATE_V6_REACH16
    + UPDATE_V6_EOR
    + UPDATE_V4_CONFED
    + UPDATE_V4_IBGP
)

NONE: Update = {
    "withdrawn": [],
    "announced": [],
    "next_hop": None,
    "mp_next_hop": None,
    "origin": None,
    "as_path": None,
    "med": None,
    "local_pref": None,
    "communities": None,
    "large_communities": None,
    "ext_communities": None,
    "atomic_aggregate": False,
    "aggregator": None,
}

EXPECTED: list[Update] = [
    {
        "withdrawn": [],
        "announced": ["10.1.0.0/16", "203.0.113.128/25"],
        "next_hop": "192.0.2.254",
        "mp_next_hop": None,
        "origin": 2,
        "as_path": [[2, [65001, 4200000000, 70000]], [1, [64512, 64513]]],
        "med": 100,
        "local_pref": 4294967295,
        "communities": ["65001:100", "65535:65281", "0:0"],
        "large_communities": ["4200000000:1:2", "65001:4294967295:0"],
        "ext_communities": ["0002fde900000064", "0102c0000201007b", "030c000000000008"],
        "atomic_aggregate": True,
        "aggregator": [4200000001, "198.51.100.7"],
    },
    {**NONE, "withdrawn": ["0.0.0.0/0", "10.1.0.0/16", "198.51.100.1/32"]},
    {
        **NONE,
        "announced": ["2001:db8:0:1::1/128", "2001:db8:1::/48", "2001:db8:ff00::/40"],
        "mp_next_hop": ["2001:db8::1", "fe80::1:2ff:fe03:405"],
        "origin": 0,
        "as_path": [[2, [65002]]],
        "local_pref": 100,
    },
    {**NONE, "withdrawn": ["2001:db8:0:1::1/128", "2001:db8:1::/48", "::/0"]},
    NONE,
    {
        **NONE,
        "announced": ["2001:db8:2::/48", "::/0"],
        "mp_next_hop": ["2001:db8::2"],
        "origin": 1,
        "as_path": [[2, [66049]], [2, [33619973]]],
        "med": 0,
        "communities": ["65535:666"],
        "ext_communities": ["0202fa56ea01007b"],
    },
    NONE,
    {
        **NONE,
        "announced": ["0.0.0.0/0"],
        "next_hop": "10.0.0.1",
        "origin": 0,
        "as_path": [[3, [64600]], [4, [64601, 64602]]],
        "local_pref": 0,
    },
    {**NONE, "announced": ["192.0.2.77/32"], "next_hop": "10.0.0.2", "origin": 0, "as_path": []},
]


# --- pcap --------------------------------------------------------------------


def test_write_pcap(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    messages = [OPEN, KEEPALIVE, UPDATE_V4_FULL, UPDATE_V6_REACH, UPDATE_V4_EOR]
    assert write_pcap(b"".join(messages), str(path)) == len(messages)
    blob = path.read_bytes()
    magic, _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack_from("=IHHiIII", blob)
    assert (magic, linktype) == (0xA1B2C3D4, 1)
    pos, seqs = 24, []
    for msg in messages:
        _sec, _usec, caplen, wirelen = struct.unpack_from("=IIII", blob, pos)
        frame = blob[pos + 16 : pos + 16 + caplen]
        assert caplen == wirelen == 14 + 20 + 20 + len(msg)
        assert frame[14 + 20 + 20 :] == msg  # exactly one whole message per segment
        sport, dport, seq, _ack, _off, flags = struct.unpack_from("!HHIIBB", frame, 34)
        assert (sport, dport, flags) == (179, 50000, 0x18)
        seqs.append(seq)
        pos += 16 + caplen
    assert pos == len(blob)
    assert [b - a for a, b in itertools.pairwise(seqs)] == [len(m) for m in messages[:-1]]


@needs_tshark
def test_tshark_sees_one_bgp_message_per_packet(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "s.pcap"
    count = write_pcap(STREAM, str(path))
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "bgp.type", "-e", "tcp.analysis.flags"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["1\t", "4\t", "2\t", "2\t", "4\t", "2\t", "2\t", "2\t", "2\t", "2\t", "2\t", "2\t"]
    assert len(out) == count


# --- expected decodes --------------------------------------------------------


@needs_tshark
def test_tshark_matches_expected() -> None:
    from rfc_tests.crosscheck.tshark_norm import tshark_normalize

    assert tshark_normalize(STREAM) == EXPECTED


@needs_tshark
def test_tshark_several_messages_per_packet() -> None:
    from rfc_tests.crosscheck.tshark_norm import tshark_decode

    result = tshark_decode(STREAM, per_packet=3)
    assert result.updates == EXPECTED
    assert not any(result.untrusted)


def test_scapy_matches_expected() -> None:
    pytest.importorskip("scapy.contrib.bgp")
    from rfc_tests.crosscheck.scapy_norm import scapy_normalize

    assert scapy_normalize(STREAM) == EXPECTED


def test_updates_one_by_one() -> None:
    """Each UPDATE alone gives its own expected entry (no state between messages)."""
    pytest.importorskip("scapy.contrib.bgp")
    from rfc_tests.crosscheck.scapy_norm import scapy_normalize

    updates = [
        UPDATE_V4_FULL,
        UPDATE_V4_WITHDRAW,
        UPDATE_V6_REACH,
        UPDATE_V6_UNREACH,
        UPDATE_V4_EOR,
        UPDATE_V6_REACH16,
        UPDATE_V6_EOR,
        UPDATE_V4_CONFED,
        UPDATE_V4_IBGP,
    ]
    for raw, expected in zip(updates, EXPECTED, strict=True):
        assert scapy_normalize(raw) == [expected]


# --- known quirks: reported, never silently wrong ----------------------------


def test_scapy_native_quirks_are_flagged() -> None:
    pytest.importorskip("scapy.contrib.bgp")
    from rfc_tests.crosscheck.scapy_norm import NATIVE_TRUSTED_FIELDS, scapy_decode

    result = scapy_decode(UPDATE_V4_FULL, workarounds=False)
    assert set(result.untrusted[0]) == {"aggregator", "communities", "large_communities"}
    assert set(result.untrusted[0]).isdisjoint(NATIVE_TRUSTED_FIELDS)
    native = result.updates[0]
    assert native["aggregator"] == [64086, "234.1.198.51"]  # 2-octet AS read of 4200000001, 198.51.100.7
    assert native["communities"] == ["65001:100"]
    assert native["large_communities"] == ["4200000000:1:2"]
    for name in NATIVE_TRUSTED_FIELDS:
        assert native[name] == EXPECTED[0][name]


EXT_81 = update(
    attrs=(
        attr(WELL_KNOWN, ORIGIN, b"\x00")
        + as_path((AS_SEQUENCE, [65001]))
        + attr(WELL_KNOWN, NEXT_HOP, bytes([192, 0, 2, 1]))
        + attr(OPTIONAL_TRANSITIVE, EXT_COMMUNITIES, bytes.fromhex("8101c00002010005"))
    ),
    nlri=prefixes("10.0.0.0/8"),
)
EXT_81_EXPECTED: Update = {
    **NONE,
    "announced": ["10.0.0.0/8"],
    "next_hop": "192.0.2.1",
    "origin": 0,
    "as_path": [[2, [65001]]],
    "ext_communities": ["8101c00002010005"],
}


def test_scapy_gives_up_on_some_extended_communities() -> None:
    pytest.importorskip("scapy.contrib.bgp")
    from rfc_tests.crosscheck.scapy_norm import scapy_decode, scapy_normalize

    result = scapy_decode(EXT_81)
    assert set(result.untrusted[0]) == ALL_FIELDS
    with pytest.raises(UntrustedDecodeError):
        scapy_normalize(EXT_81)


@needs_tshark
def test_tshark_decodes_what_scapy_cannot() -> None:
    from rfc_tests.crosscheck.tshark_norm import tshark_normalize

    assert tshark_normalize(EXT_81) == [EXT_81_EXPECTED]


# Plain (non-ADD-PATH) prefix blocks that the ADD-PATH heuristic of Wireshark
# and/or scapy misreads: (message, expected withdrawn, expected announced).
ADDPATH_TRAPS: list[tuple[bytes, list[str], list[str]]] = [
    (update(withdrawn=prefixes("0.0.0.0/0", "1.0.0.0/24")), ["0.0.0.0/0", "1.0.0.0/24"], []),
    (
        update(
            attrs=attr(WELL_KNOWN, ORIGIN, b"\x00") + as_path() + attr(WELL_KNOWN, NEXT_HOP, bytes(4)),
            nlri=prefixes("10.0.0.0/8", "0.0.0.0/0"),
        ),
        [],
        ["0.0.0.0/0", "10.0.0.0/8"],
    ),
    (
        update(attrs=mp_unreach("2001:db8:1::/48", "::/0", "2001:db8:0:1::1/128")),
        ["2001:db8:0:1::1/128", "2001:db8:1::/48", "::/0"],
        [],
    ),
    (
        update(attrs=mp_reach(v6("2001:db8::2"), "::/0", "2001:db8::/32", "2001:db8:1::/48")),
        [],
        ["2001:db8:1::/48", "2001:db8::/32", "::/0"],
    ),
]


@pytest.mark.parametrize("decoder", ["tshark", "scapy"])
def test_addpath_heuristic_is_flagged_or_right(decoder: str) -> None:
    decode: Callable[[bytes], DecodeResult]
    if decoder == "tshark":
        if shutil.which("tshark") is None:
            pytest.skip("tshark not installed")
        from rfc_tests.crosscheck.tshark_norm import tshark_decode

        decode = tshark_decode
    else:
        pytest.importorskip("scapy.contrib.bgp")
        from rfc_tests.crosscheck.scapy_norm import scapy_decode

        decode = scapy_decode
    flagged = 0
    for raw, withdrawn, announced in ADDPATH_TRAPS:
        result = decode(raw)
        untrusted = result.untrusted[0]
        if "withdrawn" in untrusted or "announced" in untrusted:
            flagged += 1
            continue
        assert result.updates[0]["withdrawn"] == withdrawn
        assert result.updates[0]["announced"] == announced
    # Both dissectors fall for the first trap at least.
    assert flagged >= 1


@needs_tshark
def test_tshark_flags_messages_longer_than_4096() -> None:
    from rfc_tests.crosscheck.tshark_norm import tshark_decode

    nets = [str(ipaddress.ip_network((0x0A000000 + (i << 8), 24))) for i in range(1100)]
    big = update(
        attrs=attr(WELL_KNOWN, ORIGIN, b"\x00") + as_path() + attr(WELL_KNOWN, NEXT_HOP, bytes(4)),
        nlri=prefixes(*nets),
    )
    assert len(big) > 4096
    result = tshark_decode(KEEPALIVE + big + UPDATE_V4_EOR)
    assert len(result.updates) == 2
    assert set(result.untrusted[0]) == ALL_FIELDS
    assert result.untrusted[1] == {}


# --- the two decoders against each other on random UPDATEs -------------------


def random_stream(seed: int, count: int) -> bytes:
    """Random well-formed UPDATEs (plus KEEPALIVEs) touching every normalized field."""
    rnd = random.Random(seed)

    def net4() -> str:
        return str(
            ipaddress.ip_network(
                (rnd.getrandbits(32), rnd.choice([0, 8, 16, 24, 25, 32, rnd.randint(0, 32)])), strict=False
            )
        )

    def net6() -> str:
        return str(
            ipaddress.ip_network(
                (rnd.getrandbits(128), rnd.choice([0, 32, 48, 64, 128, rnd.randint(0, 128)])), strict=False
            )
        )

    def u32s(n: int) -> list[int]:
        return [rnd.getrandbits(32) for _ in range(n)]

    out = []
    for _ in range(count):
        a = b""
        if rnd.random() < 0.8:
            a += attr(WELL_KNOWN, ORIGIN, bytes([rnd.randint(0, 2)]))
        if rnd.random() < 0.8:
            a += as_path(*[(rnd.randint(1, 4), u32s(rnd.randint(1, 5))) for _ in range(rnd.randint(0, 3))])
        if rnd.random() < 0.5:
            a += attr(WELL_KNOWN, NEXT_HOP, rnd.randbytes(4))
        if rnd.random() < 0.3:
            a += attr(OPTIONAL, MED, rnd.randbytes(4))
        if rnd.random() < 0.3:
            a += attr(WELL_KNOWN, LOCAL_PREF, rnd.randbytes(4))
        if rnd.random() < 0.2:
            a += attr(WELL_KNOWN, ATOMIC_AGGREGATE, b"")
        if rnd.random() < 0.2:
            a += attr(OPTIONAL_TRANSITIVE, AGGREGATOR, rnd.randbytes(8))
        if rnd.random() < 0.4:
            a += attr(OPTIONAL_TRANSITIVE, COMMUNITIES, rnd.randbytes(4 * rnd.randint(0, 6)))
        if rnd.random() < 0.3:
            types = [0x00, 0x01, 0x02, 0x03, 0x40, 0x41, 0x42, 0x43, 0x06, 0x80]
            ext = b"".join(bytes([rnd.choice(types)]) + rnd.randbytes(7) for _ in range(rnd.randint(0, 4)))
            a += attr(OPTIONAL_TRANSITIVE, EXT_COMMUNITIES, ext)
        if rnd.random() < 0.3:
            a += attr(OPTIONAL_TRANSITIVE, LARGE_COMMUNITIES, rnd.randbytes(12 * rnd.randint(0, 4)))
        if rnd.random() < 0.3:
            hop = rnd.randbytes(16) + (v6("fe80::1") if rnd.random() < 0.5 else b"")
            a += mp_reach(hop, *dict.fromkeys(net6() for _ in range(rnd.randint(0, 8))))
        if rnd.random() < 0.3:
            nets = dict.fromkeys(net6() for _ in range(rnd.randint(0, 8)))
            a += attr(OPTIONAL | EXT_LEN, MP_UNREACH, struct.pack("!HB", 2, 1) + prefixes(*nets))
        withdrawn = prefixes(*dict.fromkeys(net4() for _ in range(rnd.randint(0, 5))))
        nlri = prefixes(*dict.fromkeys(net4() for _ in range(rnd.randint(0, 5)))) if a else b""
        out.append(update(withdrawn=withdrawn if rnd.random() < 0.3 else b"", attrs=a, nlri=nlri))
        if rnd.random() < 0.1:
            out.append(KEEPALIVE)
    return b"".join(out)


@needs_tshark
def test_tshark_and_scapy_agree_on_random_updates() -> None:
    pytest.importorskip("scapy.contrib.bgp")
    from rfc_tests.crosscheck.scapy_norm import scapy_decode
    from rfc_tests.crosscheck.tshark_norm import tshark_decode

    data = random_stream(seed=7606, count=600)
    by_scapy, by_tshark = scapy_decode(data), tshark_decode(data)
    assert len(by_scapy.updates) == len(by_tshark.updates) == 600
    skip = [{**s, **t} for s, t in zip(by_scapy.untrusted, by_tshark.untrusted, strict=True)]
    assert diff_updates(by_tshark.updates, by_scapy.updates, skip) == []
    # The comparison is not vacuous: most messages are fully trusted by both.
    assert sum(1 for s in skip if not s) > 500
