"""RFC 4271 6.8: a collision with an Established connection keeps the Established one.

Found by the interop tests against FRR: the peer's OPEN and KEEPALIVE arrived in one read on
our outgoing connection while its own connection to us was pending as the spare, so the
session was already Established when the (stale) OpenConfirm event ran the collision check,
and pyspeaker dumped the Established session with Cease / Connection Collision Resolution
(and reported a SessionDown(was_established=True) with no SessionUp before it)."""

from __future__ import annotations

import asyncio
import socket

from pyspeaker.config import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import IPV4_UNICAST, Open
from pyspeaker.wire import open as wopen

KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"


def _messages(data: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 0
    while i + 19 <= len(data):
        n = int.from_bytes(data[i + 16 : i + 18], "big")
        out.append((data[i + 18], data[i + 19 : i + n]))
        i += n
    return out


async def test_established_connection_wins_a_collision() -> None:
    loop = asyncio.get_running_loop()
    # the peer at 127.0.0.32 has the higher BGP identifier: without an Established session
    # the connection it opened would win
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.32", 0))
    lsock.listen()
    lsock.setblocking(False)
    events: list[ft.Event] = []
    config = f"""
[global]
asn = 65001
router_id = "127.0.0.31"
listen = ["127.0.0.31"]
port = 0
[[neighbor]]
address = "127.0.0.32"
remote_as = 65002
port = {lsock.getsockname()[1]}
local_address = "127.0.0.31"
hold_time = 9
connect_retry = 1
"""
    speaker = Speaker(parse(config, "collision.toml"), lambda _, e: events.append(e))
    await speaker.start()
    ours = theirs = None
    try:
        ours, _ = await asyncio.wait_for(loop.sock_accept(lsock), 10)  # pyspeaker -> peer
        ours.setblocking(False)
        await asyncio.wait_for(loop.sock_recv(ours, 4096), 10)  # its OPEN: OpenSent
        theirs = socket.socket()
        theirs.bind(("127.0.0.32", 0))
        theirs.setblocking(False)
        await loop.sock_connect(theirs, ("127.0.0.31", speaker.port))  # peer -> pyspeaker
        await asyncio.wait_for(loop.sock_recv(theirs, 4096), 10)  # its OPEN: the spare
        peer_open = Open.build(
            65002, 9, "127.0.0.32", [wopen.multiprotocol(IPV4_UNICAST), wopen.four_octet_as(65002)]
        ).encode()
        await loop.sock_sendall(ours, peer_open + KEEPALIVE)  # one read: OpenConfirm, then Established
        # the spare (not Established) is the one closed, with Cease / Connection Collision Resolution
        got = b""
        while True:
            chunk = await asyncio.wait_for(loop.sock_recv(theirs, 4096), 10)
            if not chunk:
                break
            got += chunk
        assert (3, b"\x06\x07") in [(t, body[:2]) for t, body in _messages(got)]
        assert speaker.peers["127.0.0.32"].state is ft.State.ESTABLISHED
        assert any(isinstance(e, ft.SessionUp) for e in events)
        assert not any(isinstance(e, ft.SessionDown) for e in events)
    finally:
        for s in (ours, theirs, lsock):
            if s is not None:
                s.close()
        await speaker.stop()
