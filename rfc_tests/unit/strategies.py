"""Hypothesis strategies for typed attribute values, prefixes and whole valid UPDATEs."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from hypothesis import strategies as st

from pyspeaker.wire import Aggregator, AsPath
from rfc_tests.conftest import EXT, OPT, OPT_TRANS, PARTIAL, WK, attr, pfx

u32 = st.integers(0, 0xFFFFFFFF)
ipv4 = st.integers(0, 0xFFFFFFFF).map(ipaddress.IPv4Address)
unicast_v4 = st.builds(lambda a, b: ipaddress.IPv4Address((a << 24) | b), st.integers(1, 223), st.integers(0, 0xFFFFFF))
# codes the codec does not know (neither in EXPECTED_FLAGS nor MP_REACH/MP_UNREACH)
UNKNOWN_CODES = [11, 12, 13, 19, 20, 21, 22, 23, 25, 26, 29, 30, 35, 40, 99, 128, 200, 240, 255]


def segments(confed: bool = True, max_asns: int = 12) -> st.SearchStrategy[tuple[int, tuple[int, ...]]]:
    kinds = [1, 2, 3, 4] if confed else [1, 2]
    return st.tuples(st.sampled_from(kinds), st.lists(u32, min_size=1, max_size=max_asns).map(tuple))


as_paths = st.lists(segments(), max_size=5).map(lambda s: AsPath(tuple(s)))
# for a 2-octet session: confederation segments only at the front, as RFC 5065 puts them,
# and with 2-octet member ASNs (RFC 6793 7: a confederation with 4-octet member ASNs
# cannot include 2-octet speakers, so such a path never crosses a 2-octet session)
plain_paths = st.builds(
    lambda conf, plain: AsPath(tuple(conf) + tuple(plain)),
    st.lists(
        st.tuples(st.sampled_from([3, 4]), st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=5).map(tuple)),
        max_size=2,
    ),
    st.lists(segments(confed=False), max_size=4),
)


@st.composite
def unknown_attrs(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    codes = draw(st.lists(st.sampled_from(UNKNOWN_CODES), unique=True, max_size=3))
    out = []
    for code in codes:
        flags = draw(st.sampled_from([OPT, OPT_TRANS, OPT_TRANS | PARTIAL, OPT | PARTIAL]))
        value = draw(st.binary(max_size=300))
        out.append((flags | (EXT if len(value) > 255 else 0), code, value))
    return out


@st.composite
def typed_values(draw: st.DrawFn, path: st.SearchStrategy[AsPath] = as_paths, next_hop: bool = True) -> dict[str, Any]:
    """Keyword arguments for build_attrs: always ORIGIN and AS_PATH (and NEXT_HOP if asked),
    the rest optional."""
    v: dict[str, Any] = {"origin": draw(st.integers(0, 2)), "as_path": draw(path)}
    if next_hop:
        v["next_hop"] = draw(unicast_v4)
    opt = st.none() | u32
    v["med"] = draw(opt)
    v["local_pref"] = draw(opt)
    v["atomic_aggregate"] = draw(st.booleans())
    v["aggregator"] = draw(st.none() | st.builds(Aggregator, u32, ipv4))
    v["communities"] = tuple(draw(st.lists(u32, max_size=10)))
    v["originator_id"] = draw(st.none() | ipv4)
    v["cluster_list"] = tuple(draw(st.lists(ipv4, max_size=4)))
    v["ext_communities"] = tuple(draw(st.lists(st.binary(min_size=8, max_size=8), max_size=4)))
    v["large_communities"] = tuple(draw(st.lists(st.tuples(u32, u32, u32), max_size=4)))
    v["unknown"] = tuple(draw(unknown_attrs()))
    return v


def assert_values(attrs: Any, v: dict[str, Any]) -> None:
    """The decoded AttrSet holds exactly the typed values ``v``."""
    assert attrs.origin == v["origin"]
    assert attrs.as_path == v["as_path"]
    assert attrs.next_hop == v.get("next_hop")
    assert attrs.med == v["med"]
    assert attrs.local_pref == v["local_pref"]
    assert attrs.atomic_aggregate == v["atomic_aggregate"]
    assert attrs.aggregator == v["aggregator"]
    assert attrs.communities == v["communities"]
    assert attrs.originator_id == v["originator_id"]
    assert attrs.cluster_list == v["cluster_list"]
    assert attrs.ext_communities == v["ext_communities"]
    assert attrs.large_communities == v["large_communities"]
    assert sorted(attrs.unknown) == sorted(v["unknown"])


# -- prefixes -----------------------------------------------------------------------------------
def _net(version: int, addr: int, plen: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if version == 4:
        return ipaddress.IPv4Network((addr & 0xFFFFFFFF, plen), strict=False)
    return ipaddress.IPv6Network((addr, plen), strict=False)


v4_nets = st.builds(lambda a, n: _net(4, a, n), st.integers(0, 2**32 - 1), st.integers(0, 32))
v6_nets = st.builds(lambda a, n: _net(6, a, n), st.integers(0, 2**128 - 1), st.integers(0, 128))
v4_prefixes = v4_nets.map(lambda n: pfx(str(n)))
v6_prefixes = v6_nets.map(lambda n: pfx(str(n)))


# -- whole valid UPDATEs, built by hand --------------------------------------------------------------
def _encode_path(path: AsPath) -> bytes:
    return b"".join(bytes((t, len(a))) + struct.pack(f"!{len(a)}I", *a) for t, a in path.segments)


@st.composite
def attribute_pieces(draw: st.DrawFn) -> list[bytes]:
    """Valid attributes (iBGP, 4-octet AS), each maybe with the Extended Length bit, in no
    particular order."""
    ext = st.booleans()

    def piece(flags: int, code: int, value: bytes) -> bytes:
        return attr(flags | (EXT if draw(ext) or len(value) > 255 else 0), code, value)

    out = [
        piece(WK, 1, bytes((draw(st.integers(0, 2)),))),
        piece(WK, 2, _encode_path(draw(as_paths))),
        piece(WK, 3, draw(unicast_v4).packed),
    ]
    if draw(st.booleans()):
        out.append(piece(OPT, 4, draw(u32).to_bytes(4, "big")))
    if draw(st.booleans()):
        out.append(piece(WK, 5, draw(u32).to_bytes(4, "big")))
    if draw(st.booleans()):
        out.append(piece(WK, 6, b""))
    if draw(st.booleans()):
        out.append(piece(OPT_TRANS, 7, draw(u32).to_bytes(4, "big") + draw(ipv4).packed))
    if draw(st.booleans()):
        out.append(
            piece(OPT_TRANS, 8, b"".join(x.to_bytes(4, "big") for x in draw(st.lists(u32, min_size=1, max_size=8))))
        )
    if draw(st.booleans()):
        out.append(piece(OPT, 9, draw(ipv4).packed))
    if draw(st.booleans()):
        out.append(piece(OPT, 10, b"".join(a.packed for a in draw(st.lists(ipv4, min_size=1, max_size=4)))))
    if draw(st.booleans()):
        out.append(piece(OPT_TRANS, 16, draw(st.binary(min_size=8, max_size=8))))
    if draw(st.booleans()):
        out.append(piece(OPT_TRANS, 32, draw(st.binary(min_size=12, max_size=12))))
    for flags, code, value in draw(unknown_attrs()):
        out.append(piece(flags & ~EXT, code, value))
    return out


FAMILIES = [(1, 1, 4), (2, 1, 16), (1, 2, 4), (2, 2, 16)]  # afi, safi, address length


@st.composite
def mp_attributes(draw: st.DrawFn) -> list[bytes]:
    out = []
    if draw(st.booleans()):
        afi, safi, alen = draw(st.sampled_from(FAMILIES))
        nets = v4_prefixes if alen == 4 else v6_prefixes
        nh = (
            draw(st.binary(min_size=alen, max_size=alen))
            if alen == 4
            else draw(st.sampled_from([16, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
        )
        nlri = b"".join(draw(st.lists(nets, max_size=20)))
        value = struct.pack("!HBB", afi, safi, len(nh)) + nh + b"\x00" + nlri
        out.append(attr(OPT | (EXT if draw(st.booleans()) or len(value) > 255 else 0), 14, value))
    if draw(st.booleans()):
        afi, safi, alen = draw(st.sampled_from(FAMILIES))
        nets = v4_prefixes if alen == 4 else v6_prefixes
        value = struct.pack("!HB", afi, safi) + b"".join(draw(st.lists(nets, max_size=20)))
        out.append(attr(OPT | (EXT if draw(st.booleans()) or len(value) > 255 else 0), 15, value))
    return out


@st.composite
def valid_updates(draw: st.DrawFn) -> bytes:
    pieces = draw(attribute_pieces()) + draw(mp_attributes())
    block = b"".join(draw(st.permutations(pieces)))
    withdrawn = b"".join(draw(st.lists(v4_prefixes, max_size=20)))
    nlri = b"".join(draw(st.lists(v4_prefixes, max_size=20)))
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(block)) + block + nlri
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 2) + body
