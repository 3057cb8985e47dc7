"""The listening socket: accepts only configured neighbors; anything else is closed before
a byte is read, and logged once per address with a rate limit."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable

from .ratelimit import RateLimitedLog
from .sockopts import set_md5, set_md5_prefix

log = logging.getLogger("pyspeaker.listener")

ACCEPT_BATCH = 64  # connections accepted per turn of the event loop at most

Acceptor = Callable[[str, socket.socket], bool]  # (peer address, socket) -> taken?


def _normalize(address: str) -> str:
    addr = ipaddress.ip_address(address.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


class Listener:
    def __init__(self, address: str, port: int, acceptor: Acceptor, backlog: int = 1024) -> None:
        self.address = address
        self.port = port
        self.acceptor = acceptor
        self.backlog = backlog
        self.sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paused: asyncio.TimerHandle | None = None
        self._refused = RateLimitedLog(log)

    def open(self) -> None:
        """Bind and listen (raises OSError naming the address if it cannot)."""
        fam = socket.AF_INET6 if ipaddress.ip_address(self.address).version == 6 else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((self.address, self.port))
            sock.listen(self.backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on {self.address} port {self.port}: {exc.strerror}") from None
        self.sock = sock
        if self.port == 0:
            self.port = sock.getsockname()[1]

    def set_password(self, peer: str, password: str | None) -> None:
        """TCP-MD5 for connections from one peer (RFC 2385); a no-op for other families."""
        if self.sock is None:
            return
        if ipaddress.ip_address(peer).version == (6 if self.sock.family == socket.AF_INET6 else 4):
            set_md5(self.sock, peer, password)

    def set_range_password(self, network: str, password: str | None) -> None:
        """TCP-MD5 for connections from every address of a listen range."""
        if self.sock is None:
            return
        if ipaddress.ip_network(network).version == (6 if self.sock.family == socket.AF_INET6 else 4):
            set_md5_prefix(self.sock, network, password)

    def send_ttl_255(self) -> None:
        """GTSM: our SYN-ACKs (and every accepted socket) leave with TTL 255, so that peers
        that check it (RFC 5082) hear them; the minimum accepted TTL is set per peer."""
        if self.sock is None:
            return
        if self.sock.family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        else:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)

    def start(self) -> None:
        assert self.sock is not None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        """Accept every connection waiting (at most ACCEPT_BATCH), at once: a peer's OPEN
        then leaves one turn of the event loop sooner than through a coroutine woken per
        connection, which counts when hundreds of nodes connect at the same time."""
        sock = self.sock
        if sock is None:
            return
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: pause, or every turn of the loop fails again
                log.warning("accept on %s port %d failed: %s", self.address, self.port, exc)
                self._pause(0.1)
                return
            conn.setblocking(False)
            self._take(conn, _normalize(addr[0]))

    def _pause(self, seconds: float) -> None:
        if self.sock is None or self._loop is None:
            return
        self._loop.remove_reader(self.sock.fileno())
        self._paused = self._loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self._paused = None
        if self.sock is not None and self._loop is not None:
            self._loop.add_reader(self.sock.fileno(), self._readable)

    def _take(self, conn: socket.socket, peer: str) -> None:
        taken = False
        try:
            taken = self.acceptor(peer, conn)
        finally:
            if not taken:
                conn.close()
        if not taken:
            assert self._loop is not None
            self._refused.warning(
                peer,
                self._loop.time(),
                "refused a connection from %s: not a configured neighbor or not accepting now",
                peer,
                extra={"peer": peer},
            )

    async def close(self) -> None:
        if self._paused is not None:
            self._paused.cancel()
            self._paused = None
        if self.sock is not None and self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        if self.sock is not None:
            self.sock.close()
            self.sock = None
