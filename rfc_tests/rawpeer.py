"""A BGP peer made of a socket and the codec, for tests that need a peer to do exactly what
it is told (send a chosen OPEN, crash without NOTIFICATION, come back): it answers the OPEN
with KEEPALIVE, keeps the routes it is sent, and records End-of-RIB and NOTIFICATIONs."""

from __future__ import annotations

import asyncio
import socket

from pyspeaker.wire import open as wopen
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from pyspeaker.wire.framing import Framer
from pyspeaker.wire.notification import Keepalive
from pyspeaker.wire.prefix import to_text
from pyspeaker.wire.update import UpdateDecoder


class RawPeer:
    def __init__(self, source: str, router_id: str, asn: int = 65000) -> None:
        self.source = source
        self.router_id = router_id
        self.asn = asn
        self.sock: socket.socket | None = None
        self.routes: dict[str, bytes] = {}  # prefix text -> attribute bytes
        self.eor: list[Family] = []
        self.notifications: list[bytes] = []
        self.opens: list[bytes] = []  # every OPEN received, as on the wire
        self.log: list[tuple[object, ...]] = []  # ("update"/"eor", prefixes or family), in order
        self.established = asyncio.Event()
        self.closed = asyncio.Event()  # the other side closed the connection
        self.changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, port: int, capabilities: list[wopen.Capability], hold: int = 90) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.source, 0))
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        self.sock = sock
        self.established = asyncio.Event()
        caps = [wopen.multiprotocol(IPV4_UNICAST), wopen.multiprotocol(IPV6_UNICAST), wopen.four_octet_as(self.asn)]
        await loop.sock_sendall(sock, wopen.Open.build(self.asn, hold, self.router_id, caps + capabilities).encode())
        self._reader = loop.create_task(self._read(sock))
        await asyncio.wait_for(self.established.wait(), 10)

    async def send(self, data: bytes) -> None:
        assert self.sock is not None
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    def crash(self) -> None:
        """Close the TCP connection without a NOTIFICATION."""
        if self._reader is not None:
            self._reader.cancel()
        if self.sock is not None:
            # unregister first: a new socket may get the same descriptor number at once
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    async def _read(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        framer = Framer()
        decoder = UpdateDecoder()
        while True:
            try:
                data = await loop.sock_recv(sock, 1 << 16)
            except ConnectionError:
                data = b""
            if not data:
                self.closed.set()
                return
            for msg_type, msg in framer.feed(data):
                if msg_type == 1:
                    self.opens.append(msg)
                    await loop.sock_sendall(sock, Keepalive().encode())
                elif msg_type == 4:
                    self.established.set()
                elif msg_type == 3:
                    self.notifications.append(msg)
                elif msg_type == 2:
                    u = decoder.decode(msg)
                    if u.end_of_rib is not None:
                        self.eor.append(u.end_of_rib)
                        self.log.append(("eor", u.end_of_rib))
                    elif u.announced() or u.withdrawals():
                        self.log.append(("update", u.announced(), u.withdrawals()))
                    for fam, ps in u.withdrawals().items():
                        for p in ps:
                            self.routes.pop(_text(fam, p), None)
                    for fam, ps in u.announced().items():
                        for p in ps:
                            self.routes[_text(fam, p)] = u.attrs.raw if u.attrs is not None else b""
            async with self.changed:
                self.changed.notify_all()

    async def until(self, ok: object, timeout: float = 10.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ok), timeout)  # type: ignore[arg-type]


def _text(fam: Family, p: bytes) -> str:
    return to_text(p, 4 if fam.afi == 1 else 16)
