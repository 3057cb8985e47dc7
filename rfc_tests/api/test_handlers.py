"""The control API without sockets: the framing (however the stream is cut), and the
handlers' answers for good and bad requests, over a Speaker that was never started (no
sessions: the routing core and the configuration are enough)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from pyspeaker.api.handlers import OPS, RELOAD_UNSUPPORTED, handle
from pyspeaker.api.protocol import MAX_REQUEST, FrameReader, ProtocolError, encode
from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker

CONFIG = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[[neighbor]]
address = "192.0.2.1"
remote_as = 65001
description = "upstream"
families = ["ipv4-unicast", "ipv6-unicast"]
import = "accept"

[[neighbor]]
address = "2001:db8::2"
remote_as = 65000
families = ["ipv6-unicast"]
rr_client = true
enabled = false
"""


def test_frames_survive_any_cut() -> None:
    messages: list[Any] = [{"op": "status", "args": {}}, {"ok": True, "result": [1, "two", None, {"x": b"\x00"}]}]
    data = b"".join(encode(m) for m in messages)
    for cut in range(len(data) + 1):
        reader = FrameReader()
        got = reader.feed(data[:cut]) + reader.feed(data[cut:])
        assert got == messages and reader.pending == 0


def test_frame_limits_and_garbage() -> None:
    reader = FrameReader(limit=MAX_REQUEST)
    with pytest.raises(ProtocolError, match="over the limit"):
        reader.feed((MAX_REQUEST + 1).to_bytes(4, "big"))
    with pytest.raises(ProtocolError, match="not a msgpack message"):
        FrameReader().feed(b"\x00\x00\x00\x01\xc1")  # 0xc1 is never used in msgpack


def test_values_that_msgpack_does_not_know_are_sent_as_text() -> None:
    import ipaddress

    body = encode({"a": ipaddress.ip_address("192.0.2.1"), "s": frozenset({2, 1})})[4:]
    assert msgpack.unpackb(body) == {"a": "192.0.2.1", "s": [1, 2]}


@pytest.fixture
async def speaker() -> Speaker:
    """Its neighbors made as start() makes them, but never started: no connection is tried
    (the addresses are documentation addresses, not loopback)."""
    sp = Speaker(parse(CONFIG, "handlers.toml"))
    for n in sp.config.neighbors:
        sp._runner(n)
    return sp


async def ask(sp: Speaker, op: str, **args: Any) -> dict[str, Any]:
    return await handle(sp, {"op": op, "args": args})


async def test_bad_requests_are_one_line_errors(speaker: Speaker) -> None:
    assert await handle(speaker, "status") == {"ok": False, "error": 'a request is a map {"op": NAME, "args": {...}}'}
    r = await handle(speaker, {"op": "explode"})
    assert r["ok"] is False and r["error"].startswith("unknown operation 'explode' (known: status, neighbors")
    r = await handle(speaker, {"op": "status", "args": {}, "extra": 1})
    assert r == {"ok": False, "error": "unknown request fields: extra"}
    r = await ask(speaker, "neighbor")
    assert r == {"ok": False, "error": "neighbor: argument 'address' is required"}
    r = await ask(speaker, "neighbor", address=5)
    assert r == {"ok": False, "error": "neighbor: argument 'address' must be text, not 5"}
    r = await ask(speaker, "neighbor", address="192.0.2.1", verbose=True)
    assert r == {"ok": False, "error": "neighbor: unknown argument 'verbose' (known: address)"}
    r = await ask(speaker, "route_add", prefix="10.0.0.0/8", med=True)
    assert r == {"ok": False, "error": "route_add: argument 'med' must be a number, not True"}
    for r in [await ask(speaker, op) for op in OPS]:
        assert "\n" not in r.get("error", "")


async def test_neighbors_and_unknown_neighbor(speaker: Speaker) -> None:
    r = await ask(speaker, "neighbor", address="192.0.2.9")
    assert r == {"ok": False, "error": "unknown neighbor 192.0.2.9 (neighbors: 192.0.2.1, 2001:db8::2)"}
    r = await ask(speaker, "neighbor_reset", address="192.0.2.9")
    assert r == {"ok": False, "error": "unknown neighbor 192.0.2.9 (neighbors: 192.0.2.1, 2001:db8::2)"}
    # the address is taken in any spelling
    r = await ask(speaker, "neighbor", address="2001:DB8:0::2")
    assert r["ok"] and r["result"]["address"] == "2001:db8::2"
    n = r["result"]
    assert n["rr_client"] is True and n["admin_state"] == "down" and n["state"] == "Idle"
    r = await ask(speaker, "neighbor", address="192.0.2.1")
    n = r["result"]
    assert n["description"] == "upstream" and n["import_policy"] == "accept" and n["export_policy"] is None
    assert n["remote_as"] == 65001 and n["uptime"] is None and n["established_count"] == 0
    assert n["capabilities"]["received"] is None
    sent = {c["name"] for c in n["capabilities"]["sent"]}
    assert {"multiprotocol", "four-octet-as", "graceful-restart", "route-refresh"} <= sent
    table = (await ask(speaker, "neighbors"))["result"]
    assert [x["address"] for x in table] == ["192.0.2.1", "2001:db8::2"]


async def test_status(speaker: Speaker) -> None:
    r = (await ask(speaker, "status"))["result"]
    assert (r["asn"], r["router_id"], r["neighbors"], r["established"]) == (65000, "10.255.0.1", 2, 0)


async def test_route_add_rib_and_del(speaker: Speaker) -> None:
    r = await ask(
        speaker,
        "route_add",
        prefix="10.1.0.0/16",
        next_hop="192.0.2.254",
        communities=["65000:1", "no-export"],
        large_communities=["65000:2:3"],
        med=10,
        local_pref=300,
        as_path=[65010, "65011"],
        origin="incomplete",
    )
    assert r["ok"], r
    route = r["result"]
    assert route["prefix"] == "10.1.0.0/16" and route["next_hop"] == "192.0.2.254"
    assert route["communities"] == ["65000:1", "65535:65281"] and route["large_communities"] == ["65000:2:3"]
    assert (route["med"], route["local_pref"], route["as_path"], route["origin"]) == (
        10,
        300,
        "65010 65011",
        "incomplete",
    )
    assert route["from"] == "local"
    rib = (await ask(speaker, "rib"))["result"]
    assert [(x["prefix"], x["best"], x["reason"], x["stale"]) for x in rib] == [
        ("10.1.0.0/16", True, "only route", False)
    ]
    # longest match for an address; an address outside any prefix finds nothing
    assert [x["prefix"] for x in (await ask(speaker, "rib", prefix="10.1.200.3"))["result"]] == ["10.1.0.0/16"]
    assert (await ask(speaker, "rib", prefix="10.2.0.1"))["result"] == []
    # IPv6 needs its next hop; the family is chosen by name
    r = await ask(speaker, "route_add", prefix="2001:db8:100::/48")
    assert r == {"ok": False, "error": "route add 2001:db8:100::/48: 2001:db8:100::/48: a next hop is needed"}
    r = await ask(speaker, "route_add", prefix="2001:db8:100::/48", next_hop="2001:db8::1")
    assert r["ok"]
    v6 = (await ask(speaker, "rib", family="ipv6-unicast"))["result"]
    assert [(x["prefix"], x["next_hop"]) for x in v6] == [("2001:db8:100::/48", "2001:db8::1")]
    assert [x["prefix"] for x in (await ask(speaker, "routes"))["result"]] == ["10.1.0.0/16", "2001:db8:100::/48"]
    assert (await ask(speaker, "route_del", prefix="10.1.0.0/16"))["ok"]
    assert (await ask(speaker, "rib"))["result"] == []
    r = await ask(speaker, "route_del", prefix="10.1.0.0/16")
    assert r == {"ok": False, "error": "route del 10.1.0.0/16: no route of this speaker for that prefix"}


async def test_bad_route_and_rib_arguments(speaker: Speaker) -> None:
    cases = [
        ({"op": "route_add", "args": {"prefix": "10.0.0.0/33"}}, "not a prefix: '10.0.0.0/33'"),
        ({"op": "route_add", "args": {"prefix": "10.0.0.0/8", "next_hop": "x"}}, "not a next hop address: 'x'"),
        (
            {"op": "route_add", "args": {"prefix": "10.0.0.0/8", "next_hop": "1.1.1.1", "communities": ["1:2:3"]}},
            "not a community: '1:2:3' (expected ASN:VALUE, each 0..65535)",
        ),
        (
            {"op": "route_add", "args": {"prefix": "10.0.0.0/8", "next_hop": "1.1.1.1", "origin": "bgp"}},
            "origin 'bgp': one of igp, egp, incomplete",
        ),
        (
            {"op": "route_add", "args": {"prefix": "10.0.0.0/8", "next_hop": "1.1.1.1", "med": -1}},
            "med -1: a number from 0 to 4294967295",
        ),
        ({"op": "rib", "args": {"prefix": "banana"}}, "not a prefix or address: 'banana'"),
        ({"op": "rib", "args": {"prefix": "2001:db8::/32"}}, "2001:db8::/32 is not a ipv4-unicast prefix"),
        (
            {"op": "rib", "args": {"family": "ipv5"}},
            "unknown address family 'ipv5' (known: ipv4-unicast, ipv6-unicast, ipv4-multicast, ipv6-multicast)",
        ),
        ({"op": "rib", "args": {"direction": "in"}}, "the in direction needs a neighbor"),
        ({"op": "rib", "args": {"direction": "sideways"}}, "direction 'sideways': one of loc, in, out"),
        (
            {"op": "rib", "args": {"direction": "out", "neighbor": "192.0.2.77"}},
            "unknown neighbor 192.0.2.77 (neighbors: 192.0.2.1, 2001:db8::2)",
        ),
    ]
    for request, message in cases:
        assert await handle(speaker, request) == {"ok": False, "error": message}, request


async def test_neighbor_without_session_has_empty_ribs(speaker: Speaker) -> None:
    for direction in ("in", "out"):
        r = await ask(speaker, "rib", neighbor="192.0.2.1", direction=direction)
        assert r == {"ok": True, "result": []}


async def test_reload_without_support_says_so(speaker: Speaker, monkeypatch: pytest.MonkeyPatch) -> None:
    if hasattr(Speaker, "reload"):
        monkeypatch.delattr(Speaker, "reload")
    assert await ask(speaker, "reload") == {"ok": False, "error": RELOAD_UNSUPPORTED}


async def test_reload_calls_the_speaker(speaker: Speaker, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    async def reload(self: Speaker) -> dict[str, Any]:
        calls.append(1)
        return {"added": ["192.0.2.3"]}

    monkeypatch.setattr(Speaker, "reload", reload, raising=False)
    assert await ask(speaker, "reload") == {"ok": True, "result": {"added": ["192.0.2.3"]}}
    assert calls == [1]


async def test_an_unexpected_exception_is_an_answer_not_a_crash(
    speaker: Speaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Speaker) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(Speaker, "status", broken)
    r = await ask(speaker, "status")
    assert r == {"ok": False, "error": "internal error in status: ZeroDivisionError: division by zero"}


async def test_rib_flags_long_lived_stale_routes(speaker: Speaker) -> None:
    """A route carrying LLGR_STALE is long-lived stale (RFC 9494 4.3): rib says so."""
    assert (await ask(speaker, "route_add", prefix="10.9.0.0/16", next_hop="192.0.2.254", communities=["llgr-stale"]))[
        "ok"
    ]
    assert (await ask(speaker, "route_add", prefix="10.8.0.0/16", next_hop="192.0.2.254"))["ok"]
    rib = {r["prefix"]: r for r in (await ask(speaker, "rib"))["result"]}
    assert rib["10.9.0.0/16"]["llgr_stale"] is True and rib["10.9.0.0/16"]["communities"] == ["65535:6"]
    assert rib["10.8.0.0/16"]["llgr_stale"] is False


def test_a_long_result_is_encoded_in_pieces_that_join_to_the_same_body() -> None:
    from pyspeaker.api.protocol import body_parts

    response = {"ok": True, "result": [{"prefix": f"10.{i >> 8}.{i & 255}.0/24", "med": i} for i in range(5000)]}
    parts = list(body_parts(response, step=1000))
    assert len(parts) == 6  # the header, then five pieces
    assert b"".join(parts) == encode(response)[4:]
    small = {"ok": False, "error": "x"}
    assert list(body_parts(small)) == [encode(small)[4:]]


async def test_a_large_rib_gives_the_event_loop_turns(speaker: Speaker) -> None:
    import asyncio
    import ipaddress

    from pyspeaker.api.handlers import YIELD_EVERY
    from pyspeaker.wire.attrs import build
    from pyspeaker.wire.family import IPV4_UNICAST
    from pyspeaker.wire.prefix import from_network
    from pyspeaker.wire.values import AsPath

    attrs = speaker.interner.intern(build(origin=0, as_path=AsPath(), next_hop="192.0.2.254"))
    n = 2 * YIELD_EVERY + 5
    for i in range(n):
        speaker.router.originate(IPV4_UNICAST, from_network(ipaddress.ip_network((0x0A000000 + (i << 8), 24))), attrs)
    turned = asyncio.Event()
    asyncio.get_running_loop().call_soon(turned.set)
    r = await ask(speaker, "rib")
    assert turned.is_set()  # the callback ran while the RIB was being made
    assert len(r["result"]) == n and r["result"][0]["prefix"] == "10.0.0.0/24"
