"""One neighbor in the asyncio shell: connects (with backoff), takes accepted connections,
resolves collisions, and pumps bytes, timers and events between a socket and the sans-IO
:class:`~pyspeaker.fsm.session.Session`."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from ..fsm import types as ft
from ..fsm.session import Session, resolve_collision
from ..wire.constants import MARKER, ROUTE_REFRESH, UPDATE
from ..wire.family import Family
from ..wire.notification import CEASE, CEASE_COLLISION, CEASE_MAX_PREFIXES, Notification
from .backoff import Backoff
from .sockopts import set_md5, set_ttl_security
from .stats import OutCounter, PeerStats

log = logging.getLogger("pyspeaker.peer")

EventSink = Callable[["PeerRunner", ft.Event], None]

WRITE_HIGH_WATER = 256 * 1024  # bytes queued on a transport before a peer counts as slow


class Tap(Protocol):
    """Sees a neighbor's traffic (an MRT recorder, pyspeaker.mrt.record): the bytes of each
    connection as received and as sent (``link`` tells the connections apart), and the
    session's state changes. Called synchronously; must be quick."""

    def received(self, runner: PeerRunner, link: object, data: bytes) -> None: ...

    def sent(self, runner: PeerRunner, link: object, data: bytes) -> None: ...

    def state(self, runner: PeerRunner, event: ft.StateChanged) -> None: ...


@dataclass(frozen=True, slots=True)
class Transport:
    """Where and how to reach the neighbor."""

    address: str
    port: int = 179
    local_address: str | None = None
    password: str | None = None
    ttl_security: int | None = None
    connect_retry: float = 5.0
    connect_retry_max: float = 120.0
    max_prefixes: tuple[tuple[Family, int], ...] = ()


class _Link(asyncio.Protocol):
    """One TCP connection and the Session that speaks over it."""

    def __init__(self, runner: PeerRunner, session: Session, incoming: bool) -> None:
        self.runner = runner
        self.session = session
        self.incoming = incoming
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.closed = False
        self.discarded = False  # replaced by another connection before it was made: never speaks
        session.counts = runner.stats.received  # per-neighbor counters
        self.sent = OutCounter(runner.stats.sent)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports have the asyncio.Transport methods but are not subclasses
        transport = cast(asyncio.Transport, transport)
        if self.discarded:
            transport.close()
            return
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER, low=WRITE_HIGH_WATER // 4)
        self.session.connection_made(self.runner.now(), incoming=self.incoming)
        self.runner.pump(self)

    def data_received(self, data: bytes) -> None:
        if self.discarded:
            return
        if self.runner.taps:
            for tap in self.runner.taps:
                tap.received(self.runner, self, data)
        self.session.receive_data(data, self.runner.now())
        self.runner.pump(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self.discarded:
            self.runner.link_gone(self)
            return
        if self.session.state is not ft.State.IDLE:
            self.session.connection_lost(self.runner.now())
        self.runner.pump(self)
        self.runner.link_gone(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self is self.runner.link and self.runner.on_drain is not None:
            self.runner.on_drain(self.runner)

    def write(self, data: bytes) -> None:
        """The session's own messages (counted by walking their headers)."""
        if self.transport is not None and not self.closed:
            self.sent.feed(data)
            self._send(self.transport, data)

    def write_updates(self, transport: asyncio.Transport, data: bytes, updates: int | None = None) -> None:
        """The routing core's whole UPDATEs (or one ROUTE-REFRESH): ``updates`` of them, or
        counted here by their markers, in C. Walking their headers cost a quarter of a
        reflector's time; the flush counts each piece it sends to many peers once. (An
        attribute holding 16 octets of 0xff would count twice; the counter is a statistic,
        never framing.)"""
        counts = self.runner.stats.sent
        if updates is not None:
            counts[UPDATE] += updates
        elif len(data) == 23 and data[18] == ROUTE_REFRESH:
            counts[ROUTE_REFRESH] += 1
        else:
            counts[UPDATE] += data.count(MARKER)
        self._send(transport, data)

    def _send(self, transport: asyncio.Transport, data: bytes) -> None:
        transport.write(data)
        if self.runner.taps:
            for tap in self.runner.taps:
                tap.sent(self.runner, self, data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def discard(self) -> None:
        """Give up this connection for another one, even if it is not made yet (our connect
        completed but connection_made has not run): it then closes at once and never touches
        the Session, which the other connection now speaks over."""
        self.discarded = True
        if self.transport is not None:
            self.transport.close()
        self.closed = True


class PeerRunner:
    """Runs one neighbor. ``sink`` receives every FSM event (for the RIB, logs, tests)."""

    def __init__(
        self,
        settings: ft.PeerSettings,
        transport: Transport,
        sink: EventSink | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.settings = settings
        self.where = transport
        self.sink = sink
        self.loop = loop or asyncio.get_running_loop()
        self.session = Session(settings)
        self.link: _Link | None = None
        self.spare: _Link | None = None  # a second, colliding connection until one wins
        self.backoff = Backoff(transport.connect_retry, transport.connect_retry_max)
        self._timer: asyncio.TimerHandle | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._running = False
        self.prefixes: dict[Family, set[bytes]] = {}  # for the maximum-prefix limit
        self.log = logging.LoggerAdapter(log, {"peer": transport.address})
        self.address = transport.address
        self.on_drain: Callable[[PeerRunner], None] | None = None
        self.dynamic = False  # made for a connection from a listen range
        self.taps: list[Tap] = []  # see every byte in and out (MRT recording); empty: one test per read/write
        self.stats = PeerStats()

    def now(self) -> float:
        return self.loop.time()

    @property
    def state(self) -> ft.State:
        return self.session.state

    # -- control ------------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        self.session.start(self.now(), passive=self.settings.passive)
        self.pump(None)

    def stop(self, notification: Notification | None = None) -> None:
        self._running = False
        if self._connect_task is not None:
            self._connect_task.cancel()
            self._connect_task = None
        for link in (self.link, self.spare):
            if link is not None:
                link.session.stop(self.now(), notification)
                self.pump(link)
        if self.link is None:
            self.session.stop(self.now(), notification)
            self.pump(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- what an operator does (the control API) ----------------------------------------------
    @property
    def running(self) -> bool:
        """Started and not stopped (administratively up)."""
        return self._running

    def enable(self) -> None:
        """Start again after :meth:`stop` (or for the first time). The Session is a new one:
        a connection still closing keeps the old one, so its end touches nothing here."""
        if self._running:
            return
        self.session = Session(self.settings)
        self.start()

    def reset(self, notification: Notification) -> None:
        """End the session with ``notification`` (e.g. Cease/Administrative Reset) and start
        again at once."""
        self.stop(notification)
        self.enable()

    def abort(self) -> None:
        """Close every connection at once, without NOTIFICATION (a graceful restart, or a
        crash as the peer sees it), and stop."""
        self._running = False
        if self._connect_task is not None:
            self._connect_task.cancel()
            self._connect_task = None
        for link in (self.link, self.spare):
            if link is not None and link.transport is not None:
                link.closed = True
                link.transport.abort()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def update_settings(self, settings: ft.PeerSettings) -> None:
        """New settings (e.g. the GR capability without R) for the connections to come."""
        self.settings = settings
        self.session.update_settings(settings)

    def send_update(self, data: bytes) -> None:
        if self.link is not None and self.session.state is ft.State.ESTABLISHED:
            self.session.send_update(data, self.now())
            self.pump(self.link)

    @property
    def write_backlog(self) -> int:
        t = self.link.transport if self.link is not None else None
        return t.get_write_buffer_size() if t is not None else 0

    # -- the routing core's view of this neighbor (pyspeaker.export.groups.Link) --------------
    def write(self, data: bytes) -> None:
        """Encoded UPDATEs from the routing core, written as they are (Established only)."""
        link = self.link
        if link is not None and link.transport is not None and self.session.state is ft.State.ESTABLISHED:
            link.write_updates(link.transport, data)

    def write_batch(self, parts: list[bytes], updates: int) -> None:
        """Several pieces of encoded UPDATEs (``updates`` messages in all) in one write."""
        link = self.link
        if link is not None and link.transport is not None and self.session.state is ft.State.ESTABLISHED:
            link.write_updates(link.transport, parts[0] if len(parts) == 1 else b"".join(parts), updates)

    def backlog(self) -> int:
        """Above WRITE_HIGH_WATER while the transport has asked us to pause writing (it says
        so synchronously, from the write that crossed the mark), else 0: the cheap form of
        the question the update groups ask for every peer at every flush."""
        link = self.link
        return WRITE_HIGH_WATER + 1 if link is not None and link.paused else 0

    def local_address(self) -> str | None:
        """Our address on the current connection."""
        t = self.link.transport if self.link is not None else None
        name = t.get_extra_info("sockname") if t is not None else None
        return str(name[0]).split("%")[0] if name else None

    # -- connections ----------------------------------------------------------------------
    def accept(self, sock: socket.socket) -> bool:
        """Take a connection the listener accepted from this neighbor's address."""
        if not self._running or self.session.state is ft.State.IDLE:
            return False  # stopped, or waiting out IdleHold: Idle refuses connections
        if self.link is None or self.link.closed:
            if self._connect_task is not None:
                self._connect_task.cancel()
                self._connect_task = None
            self._attach(sock, self.session, incoming=True, primary=True)
            return True
        state = self.link.session.state
        if state is ft.State.ESTABLISHED and self._restarted(sock):
            return True
        if state is ft.State.ESTABLISHED or self.spare is not None:
            return False  # RFC 4271 6.8: an Established session wins over a new connection
        if state in (ft.State.CONNECT, ft.State.ACTIVE):
            if self.link.transport is None:
                # a connection of ours is set up but its connection_made has not run yet: it
                # will speak over the Session, so this one is refused (the peer, seeing ours,
                # has its answer)
                return False
            self.link.discard()
            self._attach(sock, self.session, incoming=True, primary=True)
            return True
        # OpenSent / OpenConfirm: run both until the BGP identifiers decide
        spare = Session(self.settings)
        spare.start(self.now(), passive=True)
        self._attach(sock, spare, incoming=True, primary=False)
        return True

    def _restarted(self, sock: socket.socket) -> bool:
        """RFC 4724 4.2: a peer that negotiated graceful restart and connects again while
        its old session still looks Established has restarted: the old session ends as if
        its TCP connection had been reset (its routes are kept stale), and the new
        connection is taken."""
        assert self.link is not None
        neg = self.link.session.negotiated
        if neg is None or neg.graceful_restart is None or neg.local_open.graceful_restart() is None:
            return False
        gr = neg.graceful_restart
        if not gr.restart_time or not any(f in neg.families for f, _ in gr.families):
            return False  # GR-aware only: it cannot have restarted gracefully; a collision as usual
        old = self.link
        self.log.info("%s: new connection while Established: the peer restarted (RFC 4724)", self.where.address)
        old.session.connection_lost(self.now())
        self.pump(old)
        old.close()
        self.link = None
        self.session = Session(self.settings)
        self.session.start(self.now(), passive=True)
        self._attach(sock, self.session, incoming=True, primary=True)
        return True

    def _attach(self, sock: socket.socket, session: Session, incoming: bool, primary: bool) -> None:
        if incoming and self.where.ttl_security:
            set_ttl_security(sock, sock.family, self.where.ttl_security)
        link = _Link(self, session, incoming)
        if primary:
            self.link = link
        else:
            self.spare = link
        self.loop.create_task(self._adopt(sock, link))

    async def _adopt(self, sock: socket.socket, link: _Link) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: link, sock)
        except OSError as exc:
            self.log.warning("%s: accepted connection failed: %s", self.where.address, exc)
            sock.close()

    def _schedule_connect(self) -> None:
        if self._connect_task is None and self._running and not self.settings.passive:
            self._connect_task = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            sock = self._socket()
            sock.setblocking(False)
            try:
                await self.loop.sock_connect(sock, (self.where.address, self.where.port))
            except OSError:
                sock.close()
                raise
            self._connect_task = None
            if self.link is not None and not self.link.closed:
                sock.close()  # an accepted connection came first
                return
            link = _Link(self, self.session, incoming=False)
            self.link = link
            await self.loop.connect_accepted_socket(lambda: link, sock)
        except asyncio.CancelledError:
            raise
        except OSError as exc:
            self._connect_task = None
            delay = self.backoff.next_delay()
            self.log.info("%s: connect failed: %s; next try in %.1f s", self.where.address, exc.strerror or exc, delay)
            self.stats.error(f"connect failed: {exc.strerror or exc}", time.time())
            self.session.next_connect_retry(delay)
            self.session.connection_failed(self.now())
            self.pump(None)

    def _socket(self) -> socket.socket:
        fam = socket.AF_INET6 if ipaddress.ip_address(self.where.address).version == 6 else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.where.password:
                set_md5(sock, self.where.address, self.where.password)
            if self.where.ttl_security:
                set_ttl_security(sock, fam, self.where.ttl_security)
            if self.where.local_address:
                sock.bind((self.where.local_address, 0))
        except OSError:
            sock.close()
            raise
        return sock

    def link_gone(self, link: _Link) -> None:
        if link is self.spare:
            self.spare = None
        elif link is self.link:
            self.link = None
            if self.spare is not None:  # the colliding connection carries on
                self.link, self.spare = self.spare, None
                self.session = self.link.session

    # -- the pump -------------------------------------------------------------------------
    def pump(self, link: _Link | None) -> None:
        """Move what the Session produced to the socket, the sink and the timer."""
        session = link.session if link is not None else self.session
        out = session.data_to_send()
        if out and link is not None:
            link.write(out)
        for event in session.next_events():
            self._on_event(link, session, event)
        self._arm(session)

    def _arm(self, session: Session) -> None:
        """One loop timer at the earliest deadline of this neighbor's sessions (none once
        stopped: a stopped neighbor does not start again by itself)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._running:
            return
        sessions = {id(s): s for s in (self.session, *(x.session for x in (self.link, self.spare) if x))}
        deadlines = [d for s in sessions.values() if (d := s.get_timer()) is not None]
        if deadlines:
            self._timer = self.loop.call_at(min(deadlines), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.now() + 0.001  # the loop may wake a hair before the deadline it was given
        fired = False
        for link in (self.link, self.spare):
            if link is not None and (d := link.session.get_timer()) is not None and d <= now:
                link.session.handle_timer(now)
                self.pump(link)
                fired = True
        if self.link is None and (d := self.session.get_timer()) is not None and d <= now:
            self.session.handle_timer(now)
            self.pump(None)
            fired = True
        if not fired:
            self._arm(self.session)

    def _on_event(self, link: _Link | None, session: Session, event: ft.Event) -> None:
        if isinstance(event, ft.ConnectRequested):
            if session is self.session:
                self._schedule_connect()
            return
        if isinstance(event, ft.CloseRequested):
            if link is not None:
                link.close()
            elif self._connect_task is not None:  # abandon the attempt in progress
                self._connect_task.cancel()
                self._connect_task = None
            return
        if isinstance(event, ft.StateChanged):
            # what operators watch (Up, Down, a session that fails on its way up) at INFO; the
            # steps of every session's way up at DEBUG (four lines per session were a tenth of
            # a reflector's time while 1,600 clients connected)
            level = (
                logging.INFO
                if event.new is ft.State.IDLE or ft.State.ESTABLISHED in (event.old, event.new)
                else logging.DEBUG
            )
            self.log.log(level, "%s: %s -> %s (%s)", self.where.address, event.old.value, event.new.value, event.reason)
            if self.taps and session is self.session:
                for tap in self.taps:
                    tap.state(self, event)
            if event.new is ft.State.OPEN_CONFIRM and self.spare is not None:
                self._resolve_collision()
        elif isinstance(event, ft.SessionUp):
            self.stats.up(time.time())
            self.backoff.reset()
            session.next_connect_retry(self.where.connect_retry)
            self.prefixes.clear()
        elif isinstance(event, ft.SessionDown):
            self.stats.down(event.reason, event.sent, event.received, event.was_established, time.time())
            self.prefixes.clear()
            if session is self.session:
                # ConnectRetry backs off, with jitter, until a session comes up again
                session.next_connect_retry(self.backoff.next_delay())
            if event.sent is not None or event.received is not None:
                self.log.warning("%s: session down: %s", self.where.address, event.reason)
        elif isinstance(event, ft.UpdateReceived):
            self._count(link, event)
        if self.sink is not None and session is self.session:
            self.sink(self, event)

    def _resolve_collision(self) -> None:
        """RFC 4271 6.8: keep the connection opened by the speaker with the higher BGP id."""
        assert self.link is not None and self.spare is not None
        outgoing, incoming = (self.link, self.spare) if not self.link.incoming else (self.spare, self.link)
        # The OpenConfirm event may be stale: with OPEN and KEEPALIVE in one read the session
        # is already Established, and an Established connection always wins (RFC 4271 6.8).
        established = [lk for lk in (self.link, self.spare) if lk.session.state is ft.State.ESTABLISHED]
        if established:
            loser = self.spare if established[0] is self.link else self.link
        else:
            peer_id = self.link.session.peer_id or self.spare.session.peer_id
            if peer_id is None:
                return
            keep_outgoing = resolve_collision(self.settings.router_id, peer_id)
            loser = incoming if keep_outgoing else outgoing
        loser.session.stop(self.now(), Notification(CEASE, CEASE_COLLISION))
        self.pump(loser)
        if loser is self.link:
            self.link, self.spare = self.spare, loser
            self.session = self.link.session

    def _count(self, link: _Link | None, event: ft.UpdateReceived) -> None:
        """Maximum-prefix limit per family (RFC 4486 Cease subcode 1)."""
        if not self.where.max_prefixes:
            return
        update = event.update
        for fam, prefixes in update.withdrawals().items():
            self.prefixes.setdefault(fam, set()).difference_update(prefixes)
        for fam, prefixes in update.announced().items():
            self.prefixes.setdefault(fam, set()).update(prefixes)
        for fam, limit in self.where.max_prefixes:
            if len(self.prefixes.get(fam, ())) > limit:
                self.log.warning("%s: %s prefixes exceed the limit of %d", self.where.address, fam, limit)
                data = fam.afi.to_bytes(2, "big") + bytes((fam.safi,)) + limit.to_bytes(4, "big")
                if link is not None:
                    link.session.reset(self.now(), Notification(CEASE, CEASE_MAX_PREFIXES, data))
                    self.pump(link)
                return
