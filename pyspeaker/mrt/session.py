"""A minimal BGP session to replay an MRT file into a device under test: OPEN, KEEPALIVEs
and hold timer by pyspeaker's own session machine (a PeerRunner), the UPDATEs written as
they are, with the pace set by the transport's drain; End-of-RIB per family at the end."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Sequence

from ..fsm import types as ft
from ..runtime.peer import PeerRunner, Transport
from ..wire import pack
from ..wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from ..wire.notification import Notification

log = logging.getLogger("pyspeaker.mrt")


class SessionError(RuntimeError):
    """The session did not come up, or went down."""


class ReplaySession:
    """One outgoing session to ``address``; :meth:`send` is the ``send`` of
    :func:`pyspeaker.mrt.replay.replay`."""

    def __init__(
        self,
        address: str,
        asn: int,
        peer_as: int | None = None,
        *,
        port: int = 179,
        source: str | None = None,
        router_id: str | None = None,
        families: Sequence[Family] = (IPV4_UNICAST, IPV6_UNICAST),
        hold_time: int = 90,
        passive: bool = False,
    ) -> None:
        if router_id is None:
            src = ipaddress.ip_address(source) if source else None
            router_id = str(src) if src is not None and src.version == 4 else "10.255.255.254"
        settings = ft.PeerSettings(
            local_as=asn,
            peer_as=peer_as if peer_as is not None else asn,
            router_id=router_id,
            families=tuple(families),
            hold_time=hold_time,
            connect_retry_time=1.0,
            idle_hold_time=1.0,
            passive=passive,
        )
        self.runner = PeerRunner(settings, Transport(address, port, source, connect_retry=1.0), self._event)
        self.runner.on_drain = self._drained
        self._up = asyncio.Event()
        self._down: str | None = None
        self._changed = asyncio.Event()
        self.negotiated: ft.Negotiated | None = None

    def _event(self, _runner: PeerRunner, event: ft.Event) -> None:
        if isinstance(event, ft.SessionUp):
            self.negotiated = event.negotiated
            self._down = None
            self._up.set()
        elif isinstance(event, ft.SessionDown) and self._up.is_set():
            self._up.clear()
            self._down = event.reason
        self._changed.set()

    def _drained(self, _runner: PeerRunner) -> None:
        self._changed.set()

    @property
    def local_address(self) -> str | None:
        return self.runner.local_address()

    async def start(self, timeout: float = 30.0) -> ft.Negotiated:
        """Connect and wait for Established."""
        self.runner.start()
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            self.runner.stop()
            raise SessionError(f"no session with {self.runner.address} within {timeout:.0f} s") from None
        assert self.negotiated is not None
        return self.negotiated

    async def send(self, data: bytes) -> None:
        """Write UPDATE bytes; returns once the transport has room for more."""
        if self._down is not None or not self._up.is_set():
            raise SessionError(f"session with {self.runner.address} is down: {self._down or 'not established'}")
        self.runner.send_update(data)
        while self.runner.backlog() and self._up.is_set():
            self._changed.clear()
            await self._changed.wait()
        if not self._up.is_set():
            raise SessionError(f"session with {self.runner.address} went down: {self._down}")

    async def end_of_rib(self) -> list[Family]:
        """End-of-RIB for every negotiated family (IPv4 unicast first)."""
        neg = self.negotiated
        fams = sorted(neg.families) if neg is not None else [IPV4_UNICAST]
        for fam in fams:
            await self.send(pack.end_of_rib(fam))
        return fams

    async def wait_down(self) -> str:
        """Until the session ends (returns why)."""
        while self._up.is_set():
            self._changed.clear()
            await self._changed.wait()
        return self._down or "stopped"

    async def drain(self, timeout: float = 30.0) -> None:
        """Until everything written has left (or the timeout)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.runner.write_backlog and loop.time() < end and self._up.is_set():
            await asyncio.sleep(0.05)

    def stop(self, message: str = "replay done") -> None:
        """Cease/Administrative Shutdown and close at once."""
        self.runner.stop(Notification.shutdown(message))

    async def close(self, message: str = "replay done", timeout: float = 5.0) -> None:
        """Cease/Administrative Shutdown, then a half-close (FIN) and the peer's own close
        awaited while what it still sends is read. Closing a socket with unread data in it
        makes the kernel send a reset, and a reset makes the peer's kernel drop what the peer
        has not read yet: the last UPDATEs and End-of-RIB of a short replay."""
        link = self.runner.link
        transport = link.transport if link is not None else None
        if transport is None or not self._up.is_set():
            self.stop(message)
            return
        transport.write(Notification.shutdown(message).encode())
        if transport.can_write_eof():
            transport.write_eof()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_down(), timeout)
        self.runner.stop()
