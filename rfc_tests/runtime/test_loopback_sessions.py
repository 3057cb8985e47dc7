"""Two speakers on loopback addresses, real TCP, real asyncio: sessions come up, carry
UPDATEs, refuse strangers, and go down with the right NOTIFICATION."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable

import pytest

from pyspeaker.config import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import IPV4_UNICAST, AsPath, Update, build_attrs, pack, prefix

TIMEOUT = 20.0


def _config(addr: str, asn: int, port: int, neighbors: str) -> str:
    return f"""
[global]
asn = {asn}
router_id = "{addr}"
listen = ["{addr}"]
port = {port}
{neighbors}
"""


def _neighbor(addr: str, asn: int, port: int, passive: bool, local: str, extra: str = "") -> str:
    return f"""
[[neighbor]]
address = "{addr}"
remote_as = {asn}
port = {port}
passive = {"true" if passive else "false"}
local_address = "{local}"
families = ["ipv4-unicast", "ipv6-unicast"]
hold_time = 9
connect_retry = 0.2
connect_retry_max = 1
{extra}
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, ft.Event]] = []
        self.changed = asyncio.Event()

    def __call__(self, address: str, event: ft.Event) -> None:
        self.events.append((address, event))
        self.changed.set()

    async def wait_for(self, pred: Callable[[ft.Event], bool], timeout: float = TIMEOUT) -> ft.Event:
        async def scan() -> ft.Event:
            seen = 0
            while True:
                for _, ev in self.events[seen:]:
                    if pred(ev):
                        return ev
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), timeout)


async def _pair(
    a_extra: str = "", b_remote_as: int = 65001, b_extra: str = ""
) -> tuple[Speaker, Speaker, Recorder, Recorder]:
    rb, ra = Recorder(), Recorder()
    b = Speaker(
        parse(
            _config("127.0.0.12", 65002, 0, _neighbor("127.0.0.11", b_remote_as, 1, True, "127.0.0.12", b_extra)),
            "b.toml",
        ),
        rb,
    )
    await b.start()
    a = Speaker(
        parse(
            _config("127.0.0.11", 65001, 0, _neighbor("127.0.0.12", 65002, b.port, False, "127.0.0.11", a_extra)),
            "a.toml",
        ),
        ra,
    )
    await a.start()
    return a, b, ra, rb


async def test_session_comes_up_and_carries_an_update() -> None:
    a, b, ra, rb = await _pair()
    try:
        up_a = await ra.wait_for(lambda e: isinstance(e, ft.SessionUp))
        up_b = await rb.wait_for(lambda e: isinstance(e, ft.SessionUp))
        assert isinstance(up_a, ft.SessionUp) and isinstance(up_b, ft.SessionUp)
        assert up_a.negotiated.peer_as == 65002 and up_b.negotiated.peer_as == 65001
        assert up_a.negotiated.families == up_b.negotiated.families and len(up_a.negotiated.families) == 2
        assert up_a.negotiated.hold_time == 9 and up_a.negotiated.asn4

        attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001), next_hop="192.0.2.11")
        for msg in pack.announce_ipv4(attrs.raw, [prefix.parse("10.11.0.0/24")]):
            a.peers["127.0.0.12"].send_update(msg)
        got = await rb.wait_for(lambda e: isinstance(e, ft.UpdateReceived) and bool(e.update.nlri))
        assert isinstance(got, ft.UpdateReceived) and isinstance(got.update, Update)
        assert got.update.nlri == [prefix.parse("10.11.0.0/24")]
        assert got.update.attrs is not None and got.update.attrs.as_path == AsPath.sequence(65001)
    finally:
        await a.stop("test over")
        down = await rb.wait_for(lambda e: isinstance(e, ft.SessionDown))
        await b.stop()
    assert isinstance(down, ft.SessionDown) and down.received is not None
    assert (down.received.code, down.received.subcode) == (6, 2)
    assert down.received.shutdown_message == "test over"


async def test_wrong_remote_as_is_refused_with_bad_peer_as() -> None:
    a, b, ra, rb = await _pair(b_remote_as=65099)  # b expects 65099, a is 65001
    try:
        down = await ra.wait_for(lambda e: isinstance(e, ft.SessionDown) and e.received is not None)
        assert isinstance(down, ft.SessionDown) and down.received is not None
        assert (down.received.code, down.received.subcode) == (2, 2)
        sent = await rb.wait_for(lambda e: isinstance(e, ft.SessionDown) and e.sent is not None)
        assert isinstance(sent, ft.SessionDown) and sent.sent is not None and sent.sent.code == 2
        assert not any(isinstance(e, ft.SessionUp) for _, e in ra.events + rb.events)
    finally:
        await a.stop()
        await b.stop()


async def test_a_stranger_is_closed_before_any_byte(caplog: pytest.LogCaptureFixture) -> None:
    rb = Recorder()
    b = Speaker(
        parse(_config("127.0.0.12", 65002, 0, _neighbor("127.0.0.11", 65001, 1, True, "127.0.0.12")), "b.toml"), rb
    )
    await b.start()
    loop = asyncio.get_running_loop()
    before = list(rb.events)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.13", 0))
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.12", b.port))
        data = await asyncio.wait_for(loop.sock_recv(sock, 100), TIMEOUT)
        sock.close()
        assert data == b""  # closed by the listener, no OPEN sent
        assert rb.events == before  # the configured neighbor's session saw nothing
        assert "refused a connection from 127.0.0.13" in caplog.text
    finally:
        await b.stop()


@pytest.mark.parametrize("hold", [3])
async def test_hold_timer_expiry_when_peer_goes_silent(hold: int) -> None:
    """A raw peer that completes the OPEN exchange and then says nothing."""
    from pyspeaker.wire import Open
    from pyspeaker.wire import open as wopen

    rb = Recorder()
    extra = f"hold_time = {hold}"
    b = Speaker(
        parse(
            _config(
                "127.0.0.12",
                65002,
                0,
                _neighbor("127.0.0.11", 65001, 1, True, "127.0.0.12").replace("hold_time = 9", extra),
            ),
            "b.toml",
        ),
        rb,
    )
    await b.start()
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.11", 0))
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.12", b.port))
        caps = [wopen.multiprotocol(f) for f in ()] + [wopen.four_octet_as(65001)]
        await loop.sock_sendall(sock, Open.build(65001, hold, "127.0.0.11", caps).encode())
        await loop.sock_sendall(sock, b"\xff" * 16 + b"\x00\x13\x04")  # KEEPALIVE, then silence
        await rb.wait_for(lambda e: isinstance(e, ft.SessionUp))
        down = await rb.wait_for(lambda e: isinstance(e, ft.SessionDown), timeout=hold + 10)
        assert isinstance(down, ft.SessionDown) and down.sent is not None
        assert (down.sent.code, down.sent.subcode) == (4, 0)
    finally:
        sock.close()
        await b.stop()


async def test_maximum_prefix_limit_ends_the_session_with_cease_1() -> None:
    a, b, ra, rb = await _pair()
    try:
        await ra.wait_for(lambda e: isinstance(e, ft.SessionUp))
        await rb.wait_for(lambda e: isinstance(e, ft.SessionUp))
        # b allows 3 IPv4 prefixes from a; a sends 4 (one twice: duplicates do not count)
        runner = b.peers["127.0.0.11"]
        runner.where = dataclasses.replace(runner.where, max_prefixes=((IPV4_UNICAST, 3),))
        attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001), next_hop="192.0.2.11")
        first = [prefix.parse(f"10.12.{i}.0/24") for i in range(3)]
        for msg in pack.announce_ipv4(attrs.raw, first + first[:1]):
            a.peers["127.0.0.12"].send_update(msg)
        await rb.wait_for(lambda e: isinstance(e, ft.UpdateReceived) and len(e.update.nlri) == 4)
        assert not any(isinstance(e, ft.SessionDown) for _, e in rb.events)
        for msg in pack.announce_ipv4(attrs.raw, [prefix.parse("10.12.9.0/24")]):
            a.peers["127.0.0.12"].send_update(msg)
        down = await rb.wait_for(lambda e: isinstance(e, ft.SessionDown))
        assert isinstance(down, ft.SessionDown) and down.sent is not None
        assert (down.sent.code, down.sent.subcode) == (6, 1)
        assert down.sent.data == b"\x00\x01\x01\x00\x00\x00\x03"  # AFI 1, SAFI 1, limit 3 (RFC 4486)
    finally:
        await a.stop()
        await b.stop()


async def test_ttl_security_both_sides_comes_up_one_side_does_not() -> None:
    """GTSM (RFC 5082): with ttl_security both send TTL 255 and demand 255; a peer that sends
    the default TTL (64 on Linux loopback) is never heard."""
    a, b, ra, rb = await _pair(a_extra="ttl_security = 1", b_extra="ttl_security = 1")
    try:
        await ra.wait_for(lambda e: isinstance(e, ft.SessionUp))
    finally:
        await a.stop()
        await b.stop()
    a, b, ra, rb = await _pair(b_extra="ttl_security = 1")
    try:
        with pytest.raises(TimeoutError):
            await rb.wait_for(lambda e: isinstance(e, ft.SessionUp), timeout=4.0)
        assert not any(isinstance(e, ft.SessionUp) for _, e in ra.events)
    finally:
        await a.stop()
        await b.stop()
