"""A client that stops reading does not hold up the others: the reflector notes what changed
for it and, once it reads again, sends it the latest state (not every intermediate one)."""

from __future__ import annotations

import asyncio
import socket

from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import open as wopen
from pyspeaker.wire.attrs import build
from pyspeaker.wire.family import IPV4_UNICAST
from pyspeaker.wire.framing import Framer
from pyspeaker.wire.notification import Keepalive
from pyspeaker.wire.update import UpdateDecoder
from pyspeaker.wire.values import AsPath

from .test_reflector_loopback import RR, Watch, client_config

ROUTES = 12000


async def _stuck_client(port: int) -> socket.socket:
    """An iBGP client from 127.0.1.50 with a tiny receive buffer: it sends OPEN and
    KEEPALIVE and then reads nothing until told to."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.1.50", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    caps = [wopen.multiprotocol(IPV4_UNICAST), wopen.four_octet_as(65000)]
    await loop.sock_sendall(sock, wopen.Open.build(65000, 240, "10.0.1.50", caps).encode() + Keepalive().encode())
    return sock


async def _read_table(sock: socket.socket, want: int, timeout: float = 60.0) -> dict[bytes, bytes]:
    """Read until ``want`` prefixes are held (announced minus withdrawn) and End-of-RIB seen."""
    loop = asyncio.get_running_loop()
    decoder = UpdateDecoder()
    framer = Framer()
    table: dict[bytes, bytes] = {}
    eor = False
    deadline = loop.time() + timeout
    while not (eor and len(table) == want):
        remaining = deadline - loop.time()
        assert remaining > 0, f"only {len(table)} of {want} prefixes after {timeout} s"
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1 << 16), remaining)
        assert chunk, "the reflector closed the connection"
        for msg_type, msg in framer.feed(chunk):
            if msg_type == 2:
                u = decoder.decode(msg)
                eor = eor or u.end_of_rib is not None
                for ps in u.withdrawals().values():
                    for p in ps:
                        table.pop(p, None)
                for ps in u.announced().values():
                    assert u.attrs is not None
                    for p in ps:
                        table[p] = u.attrs.raw
    return table


async def test_a_client_that_stops_reading_catches_up_with_the_latest_state() -> None:
    rr = Speaker(parse(RR, "rr.toml"))
    await rr.start()
    watch = Watch()
    origin = Speaker(parse(client_config(1, rr.port), "c1"), watch.handler(1))
    fast = Speaker(parse(client_config(2, rr.port), "c2"), watch.handler(2))
    stuck = None
    try:
        await origin.start()
        await fast.start()
        stuck = await _stuck_client(rr.port)
        await watch.until(lambda: rr.router.peer("127.0.1.50") is not None and rr.router.peer("127.0.1.2") is not None)
        # every route with its own attributes: one UPDATE each, 6.2 MB in all: more than the
        # kernel buffers of a connection (at most 4 MB on the sending side by default)
        for i in range(ROUTES):
            large = [(65000, i, k) for k in range(40)]  # about 520 octets per UPDATE
            attrs = build(
                origin=0, as_path=AsPath(), communities=(65000 << 16 | (i & 0xFFFF), i), large_communities=large
            )
            origin.originate(f"10.{64 + i // 256}.{i % 256}.0/24", attrs, next_hop="127.0.1.1")
        await watch.until(lambda: len(watch.routes.get(2, {})) == ROUTES, timeout=60)
        st = rr.router.peer("127.0.1.50")
        assert st is not None
        member = st.members[IPV4_UNICAST]
        runner = rr.peers["127.0.1.50"]
        assert runner.backlog() > 256 * 1024  # the table waits in its transport
        # churn while it is stuck: a tenth of the routes withdrawn, one changed
        for i in range(0, ROUTES, 10):
            origin.withdraw(f"10.{64 + i // 256}.{i % 256}.0/24")
        origin.originate("10.64.1.0/24", build(origin=0, as_path=AsPath(), med=7), next_hop="127.0.1.1")
        await watch.until(lambda: len(watch.routes.get(2, {})) == ROUTES - ROUTES // 10, timeout=60)
        # the fast client has it all; for the stuck one the changes since it filled up
        # (the rest of the table, the withdrawals) are noted, not queued
        assert member.behind and len(member.dirty) >= ROUTES // 10
        queued = runner.backlog()
        table = await _read_table(stuck, ROUTES - ROUTES // 10)
        assert not member.behind and queued < 4 * 1024 * 1024
        assert len(table) == ROUTES - ROUTES // 10
        assert b"\x80\x04\x04\x00\x00\x00\x07" in table[bytes((24, 10, 64, 1))]  # the latest MED 7
        assert rr.router.peer("127.0.1.50") is not None  # its session survived
    finally:
        if stuck is not None:
            stuck.close()
        await origin.stop()
        await fast.stop()
        await rr.stop()
