"""The speaker: the library API a program embeds, and what `pyspeaker run` drives."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable

from ..config import Config, NeighborConfig
from ..fsm import types as ft
from ..wire.attrs import Interner
from ..wire.notification import Notification
from .listener import Listener
from .peer import PeerRunner, Transport

log = logging.getLogger("pyspeaker.speaker")

EventHandler = Callable[[str, ft.Event], None]


def peer_settings(config: Config, n: NeighborConfig) -> ft.PeerSettings:
    return ft.PeerSettings(
        local_as=config.global_.asn,
        peer_as=n.remote_as,
        router_id=str(config.global_.router_id),
        families=n.families,
        hold_time=n.hold_time,
        keepalive_time=n.keepalive_time,
        connect_retry_time=n.connect_retry,
        passive=n.passive,
        delay_open_time=n.delay_open,
        idle_hold_time=1.0,  # a peer that accepts and drops at once is not retried in a loop
        idle_hold_max=n.connect_retry_max,
    )


def transport_for(n: NeighborConfig) -> Transport:
    return Transport(
        address=str(n.address),
        port=n.port,
        local_address=str(n.local_address) if n.local_address else None,
        password=n.password,
        ttl_security=n.ttl_security,
        connect_retry=n.connect_retry,
        connect_retry_max=n.connect_retry_max,
        max_prefixes=tuple(n.max_prefixes.items()),
    )


class Speaker:
    """Runs the sessions of a configuration on the running asyncio loop.

    >>> speaker = Speaker(config)
    >>> await speaker.start()
    >>> async for address, event in speaker.events(): ...
    >>> await speaker.stop("maintenance")
    """

    def __init__(self, config: Config, on_event: EventHandler | None = None) -> None:
        self.config = config
        self.on_event = on_event
        self.interner = Interner()
        self.peers: dict[str, PeerRunner] = {}
        self.listeners: list[Listener] = []
        self._queues: list[asyncio.Queue[tuple[str, ft.Event]]] = []
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        """Open the listening sockets (an error names the address) and start every neighbor."""
        g = self.config.global_
        for listen_address in g.listen:
            listener = Listener(str(listen_address), g.port, self._accept, g.listen_backlog)
            listener.open()
            self.listeners.append(listener)
        for n in self.config.neighbors:
            runner = PeerRunner(peer_settings(self.config, n), transport_for(n), self._sink)
            self.peers[str(n.address)] = runner
            if n.password:
                for listener in self.listeners:
                    listener.set_password(str(n.address), n.password)
        if any(n.ttl_security for n in self.config.neighbors):
            for listener in self.listeners:
                listener.send_ttl_255()
        for listener in self.listeners:
            listener.start()
        for n in self.config.neighbors:
            if n.enabled:
                self.peers[str(n.address)].start()

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0 in tests)."""
        return self.listeners[0].port if self.listeners else self.config.global_.port

    def _accept(self, peer: str, sock: socket.socket) -> bool:
        runner = self.peers.get(peer)
        if runner is None:
            return False
        return runner.accept(sock)

    def _sink(self, runner: PeerRunner, event: ft.Event) -> None:
        address = runner.where.address
        if self.on_event is not None:
            self.on_event(address, event)
        for q in self._queues:
            q.put_nowait((address, event))

    async def events(self) -> AsyncIterator[tuple[str, ft.Event]]:
        """Every session event, as (peer address, event), until the speaker stops."""
        q: asyncio.Queue[tuple[str, ft.Event]] = asyncio.Queue()
        self._queues.append(q)
        try:
            while not self._stopped.is_set() or not q.empty():
                get = asyncio.ensure_future(q.get())
                stop = asyncio.ensure_future(self._stopped.wait())
                done, _ = await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if get in done:
                    yield get.result()
                else:
                    get.cancel()
        finally:
            self._queues.remove(q)

    async def stop(self, message: str = "") -> None:
        """Close every session with Cease/Administrative Shutdown and the RFC 9003 text."""
        notification = Notification.shutdown(message)
        for runner in self.peers.values():
            runner.stop(notification)
        await asyncio.sleep(0)  # let the transports flush the NOTIFICATIONs
        for listener in self.listeners:
            await listener.close()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()
