"""A BGP peer that does what it is told, including what a correct speaker never does.

:class:`TestPeer` is made of a socket and the codec (``pyspeaker.wire``), not of the
speaker's FSM: it can crash without a NOTIFICATION, come back with any graceful restart
flags, go silent, stop reading, withhold End-of-RIB, flap a prefix, send any bytes. It
answers KEEPALIVEs by itself (every hold/3 seconds) unless told to go silent, and records
everything the device under test (DUT) does, and every fault it performs, on a
:class:`~pyspeaker.testpeer.record.Recorder` with monotonic timestamps.

Usage::

    rec = Recorder()
    peer = TestPeer("192.0.2.1", asn=65001, dut_asn=65000, router_id="192.0.2.2", recorder=rec,
                    graceful_restart=GrSpec(restart_time=30, families={IPV4_UNICAST: 0x80}))
    await peer.connect()
    await peer.announce(["10.1.0.0/24"])
    await peer.end_of_rib(IPV4_UNICAST)
    peer.crash()                                   # TCP closed, no NOTIFICATION
    await peer.restart_gracefully(families={IPV4_UNICAST: 0x00})   # back with F=0: the field bug
    print(rec.timeline())
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspeaker.runtime.sockopts import set_md5
from pyspeaker.wire import constants as c
from pyspeaker.wire import open as wopen
from pyspeaker.wire import pack
from pyspeaker.wire.attrs import AttrSet, to_two_octet
from pyspeaker.wire.attrs import build as build_attrs
from pyspeaker.wire.context import Context
from pyspeaker.wire.errors import NotificationError
from pyspeaker.wire.family import CODECS, IPV4_UNICAST, IPV6_UNICAST, Family
from pyspeaker.wire.framing import Framer
from pyspeaker.wire.notification import (
    CEASE,
    CEASE_HARD_RESET,
    KEEPALIVE_BYTES,
    Notification,
    decode_notification,
    decode_route_refresh,
    describe,
)
from pyspeaker.wire.open import Capability, Open, decode_open
from pyspeaker.wire.prefix import parse as parse_prefix
from pyspeaker.wire.prefix import to_text
from pyspeaker.wire.update import Update, UpdateDecoder
from pyspeaker.wire.values import AsPath

from .record import Recorder

# Session states, as recorded in "state" events.
IDLE = "idle"
CONNECTING = "connecting"
OPEN_SENT = "open-sent"
OPEN_CONFIRM = "open-confirm"
ESTABLISHED = "established"
CLOSED = "closed"

_WRITE_HIGH = 256 * 1024  # transport write buffer watermark: senders wait below it


class SessionFailed(Exception):
    """The session did not come up (or ended while it was being set up): ``reason`` says why,
    ``notification`` is the NOTIFICATION the DUT sent, if any."""

    def __init__(self, reason: str, notification: Notification | None = None, local: bool = False) -> None:
        super().__init__(reason if notification is None else f"{reason}: {notification}")
        self.reason = reason
        self.notification = notification
        self.local = local  # our side is at fault (e.g. the local address is not on this host): retrying won't help


@dataclass(frozen=True)
class GrSpec:
    """The Graceful Restart capability we send (RFC 4724, N bit of RFC 8538), with the flags
    exactly as given: wrong ones (0x00 where 0x80 was meant, families the session does not
    carry, reserved bits) are sent too, on purpose."""

    restart_time: int = 120
    restarting: bool = False  # R bit
    notification: bool = True  # N bit (RFC 8538)
    families: dict[Family, int] = field(default_factory=lambda: {IPV4_UNICAST: 0x80, IPV6_UNICAST: 0x80})
    reserved_bits: int = 0  # the two bits between N and the restart time

    @classmethod
    def for_families(cls, families: Iterable[Family], flags: int = 0x80, **kw: Any) -> GrSpec:
        return cls(families={f: flags for f in families}, **kw)

    def replace(self, **changes: Any) -> GrSpec:
        return dataclasses.replace(self, **changes)

    def capability(self) -> Capability:
        return wopen.graceful_restart(
            self.restart_time,
            list(self.families.items()),
            restarting=self.restarting,
            notification=self.notification,
            reserved_bits=self.reserved_bits,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "restart_time": self.restart_time,
            "R": int(self.restarting),
            "N": int(self.notification),
            "families": {f.name: f"0x{v:02x}" for f, v in self.families.items()},
        }


@dataclass(frozen=True, slots=True)
class Route:
    """A route the DUT advertises to us: its attributes, next hop (text; two addresses
    joined by a space for a global + link-local IPv6 next hop), when it arrived (``since``,
    recorder time) and when it last changed."""

    prefix: str
    family: Family
    attrs: AttrSet | None
    next_hop: str
    since: float
    changed: float


def _addr_family(text: str) -> Family:
    return IPV6_UNICAST if ":" in text else IPV4_UNICAST


class _Protocol(asyncio.Protocol):
    """Hands the connection's events to its TestPeer, tagged with the connection's generation
    (a crashed connection's late callbacks are ignored)."""

    def __init__(self, peer: TestPeer, generation: int) -> None:
        self.peer = peer
        self.generation = generation
        self.can_write = asyncio.Event()
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.peer._data(self.generation, data)

    def eof_received(self) -> bool | None:
        self.peer._lost(self.generation, "the DUT closed the connection")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()
        self.peer._lost(self.generation, f"connection lost ({exc})" if exc else "connection closed")

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()


class TestPeer:
    """One BGP session to a DUT, scripted. See the module docstring and ``docs/test-peer.md``.

    ``routes[family][prefix]`` is what the DUT advertises to us on the current session (kept
    as it was when the session ends, cleared when a new one starts). ``eor_received[family]``
    is when the DUT's End-of-RIB arrived on the current session (recorder time)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        dut: str,
        *,
        asn: int,
        router_id: str,
        dut_asn: int | None = None,
        port: int = 179,
        local_address: str | None = None,
        families: Sequence[Family] = (IPV4_UNICAST, IPV6_UNICAST),
        hold_time: int = 90,
        graceful_restart: GrSpec | None = None,
        extra_capabilities: Sequence[Capability] = (),
        recorder: Recorder | None = None,
        name: str = "peer",
        password: str | None = None,
        next_hop: str | None = None,
        next_hop6: str | None = None,
        record_keepalives: bool = False,
        record_routes: bool = True,
        enforce_hold: bool = True,
    ) -> None:
        ipaddress.ip_address(dut)  # a clear ValueError for a bad address
        self.dut = dut
        self.asn = asn
        self.router_id = router_id
        self.dut_asn = dut_asn
        self.port = port
        self.local_address = local_address
        self.families = tuple(families)
        self.hold_time = hold_time
        self.graceful_restart = graceful_restart
        self.extra_capabilities = tuple(extra_capabilities)
        self.recorder = recorder if recorder is not None else Recorder()
        self.name = name
        self.password = password
        self.next_hop = next_hop
        self.next_hop6 = next_hop6
        self.record_keepalives = record_keepalives
        self.record_routes = record_routes
        self.enforce_hold = enforce_hold

        self.state = IDLE
        self.closed = False
        self.close_reason = ""
        self.routes: dict[Family, dict[str, Route]] = {f: {} for f in self.families}
        self.dut_open: Open | None = None
        self.dut_open_raw = b""
        self.dut_opens: list[Open] = []  # every OPEN the DUT sent, one per session
        self.open_sent_raw = b""
        self.notification_received: Notification | None = None
        self.notification_sent: Notification | None = None
        self.eor_received: dict[Family, float] = {}
        self.sent_routes: dict[Family, dict[str, bytes]] = {}  # what we announce now: prefix -> attrs
        self.received: dict[str, int] = {}  # message counts on the current session, by type name
        self.established_at: float | None = None
        self.negotiated_hold = 0
        self.context = Context()
        self.silent = False
        self.reading = True
        self.sessions = 0  # sessions established so far

        self._generation = 0
        self._early: bytearray | None = None  # see connect()
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._framer = Framer()
        self._decoder = UpdateDecoder()
        self._keepalive: asyncio.TimerHandle | None = None
        self._hold: asyncio.TimerHandle | None = None
        self._last_rx = 0.0
        self._waiters: set[asyncio.Event] = set()
        self._withheld: dict[Family, bool] = {}  # family -> an End-of-RIB was held back
        self.recorder.listeners.append(self._on_event)

    # -- state ------------------------------------------------------------------------------
    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED

    def _record(self, kind: str, **data: Any) -> None:
        self.recorder.add(self.name, kind, **data)

    def _set_state(self, state: str, reason: str = "") -> None:
        if state == self.state:
            return
        self.state = state
        if reason:
            self._record("state", state=state, reason=reason)
        else:
            self._record("state", state=state)

    def _on_event(self, _event: object) -> None:
        self._wake()

    def _wake(self) -> None:
        for ev in self._waiters:
            ev.set()

    async def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Return when ``predicate()`` is true: it is checked now and after every message
        received and every event recorded (by any peer on the same recorder). On timeout,
        AssertionError with ``what`` and the timeline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: {what}: not within {timeout:g} s\n{self.recorder.timeline()}")
            ev = asyncio.Event()
            self._waiters.add(ev)
            try:
                await asyncio.wait_for(ev.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(ev)

    # -- OPEN ---------------------------------------------------------------------------------
    def capabilities(self) -> list[Capability]:
        """The capabilities of our OPEN: multiprotocol per family, route refresh, 4-octet AS,
        graceful restart as configured, then the extra ones as given."""
        caps = [wopen.multiprotocol(f) for f in self.families]
        caps += [wopen.route_refresh(), wopen.four_octet_as(self.asn)]
        if self.graceful_restart is not None:
            caps.append(self.graceful_restart.capability())
        caps += self.extra_capabilities
        return caps

    def open_message(self) -> Open:
        return Open.build(self.asn, self.hold_time, self.router_id, self.capabilities())

    # -- connecting -----------------------------------------------------------------------------
    async def connect(self, timeout: float = 10.0, *, open_message: bytes | None = None) -> None:
        """Open TCP to the DUT, send our OPEN (or ``open_message``, any bytes, for OPEN
        faults), answer its OPEN with KEEPALIVE and return once Established. Raises
        SessionFailed if the connection is refused, the DUT sends a NOTIFICATION or closes,
        or ``timeout`` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._early = bytearray()  # what the DUT sends before our OPEN is out (uvloop may deliver it)
        try:
            await self.connect_tcp(timeout)
            data = open_message if open_message is not None else self.open_message().encode()
            self.open_sent_raw = data
            self._write(data)
            self._record_open_sent(data)
            self._set_state(OPEN_SENT)
        finally:
            early, self._early = self._early, None
        if early:
            self._data(self._generation, bytes(early))
        try:
            await self.wait(
                lambda: self.state in (ESTABLISHED, CLOSED), max(0.0, deadline - loop.time()), "Established"
            )
        except AssertionError:
            self._abort("no Established within the connect timeout")
            raise SessionFailed(f"no Established within {timeout:g} s (state {self.state})") from None
        if self.state != ESTABLISHED:
            raise SessionFailed(self.close_reason or "session closed", self.notification_received)

    async def connect_tcp(self, timeout: float = 10.0) -> None:
        """Only the TCP connection (nothing sent): for tests that send their own first bytes
        with :meth:`send_raw`."""
        if self._transport is not None and not self.closed:
            raise SessionFailed("already connected")
        loop = asyncio.get_running_loop()
        self._reset_session()
        self._set_state(CONNECTING)
        af = socket.AF_INET6 if ":" in self.dut else socket.AF_INET
        sock = socket.socket(af, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.password:
                set_md5(sock, self.dut, self.password)
            if self.local_address:
                try:
                    sock.bind((self.local_address, 0))
                except OSError as exc:
                    why = f"cannot use local address {self.local_address}: {exc.strerror or exc}"
                    sock.close()
                    self._closed(why)
                    raise SessionFailed(why, local=True) from None
            await asyncio.wait_for(loop.sock_connect(sock, (self.dut, self.port)), timeout)
        except (OSError, TimeoutError) as exc:
            sock.close()
            why = f"TCP connect to {self.dut} port {self.port} failed: {exc or type(exc).__name__}"
            self._closed(why)
            raise SessionFailed(why) from None
        self._generation += 1
        gen = self._generation
        transport, protocol = await loop.create_connection(lambda: _Protocol(self, gen), sock=sock)
        protocol.can_write.set()
        transport.set_write_buffer_limits(high=_WRITE_HIGH)
        self._transport = transport
        self._protocol = protocol
        self.closed = False

    def _reset_session(self) -> None:
        self._framer = Framer()
        self._decoder = UpdateDecoder()
        self.routes = {f: {} for f in self.families}
        self.eor_received = {}
        self.sent_routes = {}
        self.received = {}
        self.notification_received = None
        self.notification_sent = None
        self.dut_open = None
        self.dut_open_raw = b""
        self.established_at = None
        self.close_reason = ""
        self.silent = False
        self.reading = True
        self._withheld = {}
        self.state = IDLE

    def _record_open_sent(self, data: bytes) -> None:
        try:
            sent = decode_open(data)
        except NotificationError:
            self._record("open-sent", raw=data, malformed=True)
            return
        self._record("open-sent", **_open_data(sent, data))

    # -- receiving ----------------------------------------------------------------------------
    def _data(self, gen: int, data: bytes) -> None:
        if gen != self._generation or self.closed:
            return
        if self._early is not None:  # connect() has not sent our OPEN yet
            self._early += data
            return
        loop = asyncio.get_running_loop()
        self._last_rx = loop.time()
        try:
            messages = self._framer.feed(data)
        except NotificationError as err:
            self._protocol_error(err, "bad message header from the DUT")
            return
        for msg_type, msg in messages:
            if self.closed or gen != self._generation:
                return
            try:
                self._message(msg_type, msg)
            except NotificationError as err:
                self._protocol_error(err, f"bad {c.MESSAGE_NAMES.get(msg_type, msg_type)} from the DUT")
                return
        self._wake()

    def _message(self, msg_type: int, msg: bytes) -> None:
        name = c.MESSAGE_NAMES.get(msg_type, str(msg_type))
        self.received[name] = self.received.get(name, 0) + 1
        if msg_type == c.UPDATE:
            if self.state != ESTABLISHED:
                raise NotificationError(5, 1 if self.state == OPEN_SENT else 2, b"", f"UPDATE in {self.state}")
            self._update(self._decoder.decode(msg))
        elif msg_type == c.KEEPALIVE:
            if self.record_keepalives:
                self._record("keepalive-received")
            if self.state == OPEN_CONFIRM:
                self._established()
        elif msg_type == c.OPEN:
            self._open(msg)
        elif msg_type == c.NOTIFICATION:
            n = decode_notification(msg)
            self.notification_received = n
            self._record("notification-received", **_notification_data(n))
            self._close(f"NOTIFICATION from the DUT: {n}")
        elif msg_type == c.ROUTE_REFRESH:
            rr = decode_route_refresh(msg)
            self._record("route-refresh-received", family=rr.family.name, subtype=rr.subtype)

    def _open(self, msg: bytes) -> None:
        dut = decode_open(msg)
        self.dut_open = dut
        self.dut_open_raw = msg
        self.dut_opens.append(dut)
        self._record("open-received", **_open_data(dut, msg))
        if self.state != OPEN_SENT:
            raise NotificationError(5, 2 if self.state == OPEN_CONFIRM else 3, b"", f"OPEN in {self.state}")
        if self.dut_asn is not None and dut.asn != self.dut_asn:
            raise NotificationError(2, wopen.BAD_PEER_AS, b"", f"the DUT is AS {dut.asn}, expected {self.dut_asn}")
        self.context = _negotiate(self.capabilities(), dut, self.asn)
        self._decoder = UpdateDecoder(self.context)
        self.negotiated_hold = min(self.hold_time, dut.hold_time)
        self._write(KEEPALIVE_BYTES)
        self._set_state(OPEN_CONFIRM)
        self._arm_timers()

    def _established(self) -> None:
        self.established_at = self.recorder.now()
        self.sessions += 1
        self._set_state(ESTABLISHED)

    def _update(self, u: Update) -> None:
        now = self.recorder.now()
        eor = u.end_of_rib
        if eor is not None:
            self.eor_received[eor] = now
            self._record("eor", family=eor.name)
            return
        record = self.record_routes
        for fam, prefixes in u.withdrawals().items():
            table = self.routes.setdefault(fam, {})
            alen = CODECS[fam].address_len
            for p in prefixes:
                text = to_text(p, alen)
                gone = table.pop(text, None)
                if record:
                    if gone is None:
                        self._record("withdraw", family=fam.name, prefix=text, unknown=True)
                    else:
                        self._record("withdraw", family=fam.name, prefix=text)
        announced = u.announced()
        if not announced:
            return
        attrs = u.attrs
        raw = attrs.raw if attrs is not None else b""
        for fam, prefixes in announced.items():
            table = self.routes.setdefault(fam, {})
            alen = CODECS[fam].address_len
            if fam == IPV4_UNICAST and u.nlri and prefixes is u.nlri:
                nh = str(attrs.next_hop) if attrs is not None and attrs.next_hop is not None else ""
            elif u.reach is not None and u.reach.family == fam:
                nh = " ".join(str(a) for a in u.reach.next_hops())
            else:
                nh = str(attrs.next_hop) if attrs is not None and attrs.next_hop is not None else ""
            for p in prefixes:
                text = to_text(p, alen)
                old = table.get(text)
                if old is None:
                    table[text] = Route(text, fam, attrs, nh, now, now)
                    if record:
                        self._record("announce", family=fam.name, prefix=text, next_hop=nh, attrs=raw)
                elif old.attrs != attrs or old.next_hop != nh:
                    table[text] = Route(text, fam, attrs, nh, old.since, now)
                    if record:
                        self._record("change", family=fam.name, prefix=text, next_hop=nh, attrs=raw)
                elif record:
                    self._record("announce", family=fam.name, prefix=text, next_hop=nh, attrs=raw, again=True)

    def _protocol_error(self, err: NotificationError, what: str) -> None:
        self._record("note", text=f"{what}: {err}")
        self._send_notification(Notification(err.code, err.subcode, err.data))
        self._close(f"{what}: {err}")

    # -- timers -------------------------------------------------------------------------------
    def _arm_timers(self) -> None:
        self._cancel_timers()
        if self.negotiated_hold <= 0:
            return
        loop = asyncio.get_running_loop()
        gen = self._generation
        interval = self.negotiated_hold / 3

        def keepalive() -> None:
            if gen != self._generation or self.closed:
                return
            if not self.silent:
                self._write(KEEPALIVE_BYTES)
            self._keepalive = loop.call_later(interval, keepalive)

        self._keepalive = loop.call_later(interval, keepalive)
        if self.enforce_hold:
            hold = float(self.negotiated_hold)

            def check_hold() -> None:
                if gen != self._generation or self.closed:
                    return
                idle = loop.time() - self._last_rx
                if idle >= hold:
                    self._record("note", text=f"nothing from the DUT for {idle:.1f} s: our hold timer expired")
                    self._send_notification(Notification(4, 0))
                    self._close("our hold timer expired")
                    return
                self._hold = loop.call_later(hold - idle, check_hold)

            self._last_rx = loop.time()
            self._hold = loop.call_later(hold, check_hold)

    def _cancel_timers(self) -> None:
        for handle in (self._keepalive, self._hold):
            if handle is not None:
                handle.cancel()
        self._keepalive = self._hold = None

    # -- closing ------------------------------------------------------------------------------
    def _lost(self, gen: int, reason: str) -> None:
        if gen != self._generation or self.closed:
            return
        self._close(reason)

    def _close(self, reason: str) -> None:
        transport = self._transport
        self._closed(reason)
        if transport is not None:
            transport.close()  # what is buffered (a NOTIFICATION) is sent first

    def _abort(self, reason: str) -> None:
        transport = self._transport
        self._closed(reason)
        if transport is not None:
            transport.abort()

    def _closed(self, reason: str) -> None:
        self._cancel_timers()
        self._transport = None
        self._generation += 1  # late callbacks of this connection are ignored
        self.close_reason = reason
        self.closed = True
        self._set_state(CLOSED, reason)
        self._wake()

    async def close(self) -> None:
        """End the session with Cease/Administrative Shutdown, if it is up; else just close."""
        if self._transport is not None and not self.closed:
            if self.state in (OPEN_SENT, OPEN_CONFIRM, ESTABLISHED):
                await self.notify(CEASE, 2)
            else:
                self._abort("closed")
        with contextlib.suppress(ValueError):
            self.recorder.listeners.remove(self._on_event)
        await asyncio.sleep(0)

    # -- sending ------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._transport is None or self.closed:
            raise SessionFailed(f"{self.name}: not connected")
        self._transport.write(data)

    async def _drain(self) -> None:
        protocol = self._protocol
        if protocol is not None and not protocol.can_write.is_set():
            await protocol.can_write.wait()

    def _send_notification(self, n: Notification) -> None:
        if self._transport is None or self.closed:
            return
        self._transport.write(n.encode())
        self.notification_sent = n
        self._record("notification-sent", **_notification_data(n))

    async def send_raw(self, data: bytes, note: str = "") -> None:
        """Send any bytes as they are (after Established, or before it for OPEN faults)."""
        self._write(data)
        extra = {"note": note} if note else {}
        self._record("sent", what="raw", octets=len(data), raw=data[:4096], **extra)
        await self._drain()

    async def notify(self, code: int, subcode: int, data: bytes = b"") -> None:
        """Send a NOTIFICATION with any code/subcode (Cease/Hard Reset included) and close."""
        if self._transport is None or self.closed:
            raise SessionFailed(f"{self.name}: not connected")
        self._send_notification(Notification(code, subcode, data))
        self._close(f"we sent NOTIFICATION {describe(code, subcode)}")
        await asyncio.sleep(0)

    async def hard_reset(self, code: int = CEASE, subcode: int = 2, data: bytes = b"") -> None:
        """RFC 8538 Hard Reset: Cease/Hard Reset carrying the reason (Cease/Administrative
        Shutdown by default). Helpers must drop our routes at once."""
        self._record("fault", fault="hard-reset", reason=describe(code, subcode))
        await self.notify(CEASE, CEASE_HARD_RESET, bytes((code, subcode)) + data)

    def _attrs_for(self, fam: Family, next_hop: str | None, attrs: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """(attribute bytes, MP next hop bytes, empty for IPv4 unicast in the NLRI field)."""
        kw = dict(attrs)
        kw.setdefault("origin", 0)
        their = self.dut_asn if self.dut_asn is not None else (self.dut_open.asn if self.dut_open else self.asn)
        ibgp = their == self.asn
        path = kw.pop("as_path", None)
        if path is None:
            path = AsPath() if ibgp else AsPath.sequence(self.asn)
        elif not isinstance(path, AsPath):
            path = AsPath.sequence(*path)
        kw["as_path"] = path
        if ibgp:
            kw.setdefault("local_pref", 100)
        nh = next_hop or (self.next_hop if fam.afi == 1 else self.next_hop6) or self._local_address(fam)
        if fam == IPV4_UNICAST:
            made = build_attrs(next_hop=nh, **kw)
            mp_nh = b""
        else:
            made = build_attrs(**kw)
            mp_nh = ipaddress.ip_address(nh).packed
        raw = made.raw if self.context.asn4 else to_two_octet(made)
        return raw, mp_nh

    def _local_address(self, fam: Family) -> str:
        if self._transport is not None:
            local = self._transport.get_extra_info("sockname")
            if local and (":" in local[0]) == (fam.afi == 2):
                return str(local[0])
        raise ValueError(
            f"{self.name}: no next hop for {fam.name}: pass next_hop= (or next_hop6= for IPv6 over an IPv4 session)"
        )

    def _group(self, prefixes: Iterable[str]) -> dict[Family, list[str]]:
        out: dict[Family, list[str]] = {}
        for text in prefixes:
            out.setdefault(_addr_family(text), []).append(text)
        return out

    async def announce(self, prefixes: Iterable[str], next_hop: str | None = None, **attrs: Any) -> None:
        """Announce prefixes (text; IPv4 and IPv6 mixed) with one attribute set per family.
        ``attrs`` are those of ``pyspeaker.wire.build_attrs`` (origin, as_path as an AsPath or
        a list of ASNs, med, local_pref, communities, ...). Defaults: origin IGP, AS_PATH
        empty on iBGP and our AS on eBGP, LOCAL_PREF 100 on iBGP, next hop ours."""
        for fam, texts in self._group(prefixes).items():
            raw, mp_nh = self._attrs_for(fam, next_hop, attrs)
            wire = [parse_prefix(t) for t in texts]
            for msg in pack.announce(fam, raw, wire, mp_nh):
                self._write(msg)
            table = self.sent_routes.setdefault(fam, {})
            for t in texts:
                table[t] = raw
            self._record("sent", what="announce", family=fam.name, count=len(texts), prefixes=texts[:64])
            await self._drain()

    async def withdraw(self, prefixes: Iterable[str]) -> None:
        for fam, texts in self._group(prefixes).items():
            for msg in pack.withdraw(fam, [parse_prefix(t) for t in texts]):
                self._write(msg)
            table = self.sent_routes.setdefault(fam, {})
            for t in texts:
                table.pop(t, None)
            self._record("sent", what="withdraw", family=fam.name, count=len(texts), prefixes=texts[:64])
            await self._drain()

    async def end_of_rib(self, family: Family, delay: float = 0.0) -> None:
        """Send End-of-RIB for a family (after ``delay`` seconds). Held back, with a "fault"
        event, while :meth:`withhold_end_of_rib` is in force for the family."""
        if delay > 0:
            self._record("fault", fault="delay-eor", family=family.name, seconds=delay)
            await asyncio.sleep(delay)
        if family in self._withheld:
            self._withheld[family] = True
            self._record("fault", fault="eor-held-back", family=family.name)
            return
        self._write(pack.end_of_rib(family))
        self._record("sent", what="eor", family=family.name)
        await self._drain()

    # -- faults ------------------------------------------------------------------------------
    def crash(self, rst: bool = False) -> None:
        """Close the TCP connection without a NOTIFICATION (with a RST if ``rst``, else FIN),
        as a speaker that dies or restarts does."""
        self._record("fault", fault="crash", rst=rst)
        transport = self._transport
        if transport is None or self.closed:
            return
        if rst:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._abort("crashed: TCP closed without NOTIFICATION")

    async def restart_gracefully(
        self,
        *,
        restart_time: int | None = None,
        restarting: bool = True,
        notification: bool | None = None,
        families: Mapping[Family, int] | None = None,
        down_for: float = 0.0,
        timeout: float = 10.0,
        crash: bool = True,
    ) -> GrSpec:
        """A graceful restart: crash (unless already down or ``crash=False``), stay away
        ``down_for`` seconds, and connect again with the GR capability changed as given: R
        set by default, the per-family flags as given (0x00 where 0x80 was meant is the
        classic field bug). Returns the GR capability sent. Nothing is announced again: do it
        (and End-of-RIB) after, or not, as the test needs."""
        base = self.graceful_restart or GrSpec()
        spec = base.replace(
            restart_time=base.restart_time if restart_time is None else restart_time,
            restarting=restarting,
            notification=base.notification if notification is None else notification,
            families=dict(families) if families is not None else dict(base.families),
        )
        self._record("fault", fault="graceful-restart", down_for=down_for, **spec.describe())
        if crash and not self.closed and self._transport is not None:
            self.crash()
        if down_for > 0:
            await asyncio.sleep(down_for)
        self.graceful_restart = spec
        await self.connect(timeout)
        return spec

    async def restarts(self, count: int, interval: float, **kw: Any) -> list[GrSpec]:
        """``count`` graceful restarts in a row, ``interval`` seconds apart (each inside the
        previous one's restart window if the interval is shorter than the restart time)."""
        self._record("fault", fault="consecutive-restarts", count=count, interval=interval)
        specs = []
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            specs.append(await self.restart_gracefully(**kw))
        return specs

    def go_silent(self) -> None:
        """Stop sending KEEPALIVEs (the session stays open): the DUT's hold timer will fire."""
        self.silent = True
        self._record("fault", fault="go-silent", hold_time=self.negotiated_hold)

    def resume_keepalives(self) -> None:
        """Send KEEPALIVEs again (one at once)."""
        self.silent = False
        self._record("fault", fault="resume-keepalives")
        if self._transport is not None and not self.closed:
            self._write(KEEPALIVE_BYTES)

    def stop_reading(self) -> None:
        """Stop reading from the socket: the kernel's buffers fill and the DUT's writes block
        (back-pressure). Our own hold timer is suspended meanwhile."""
        self.reading = False
        self._record("fault", fault="stop-reading")
        if self._transport is not None and not self.closed:
            self._transport.pause_reading()
            if self._hold is not None:
                self._hold.cancel()
                self._hold = None

    def resume_reading(self) -> None:
        self.reading = True
        self._record("fault", fault="resume-reading")
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()
            self._last_rx = asyncio.get_running_loop().time()
            if self.enforce_hold and self._hold is None and self.negotiated_hold > 0:
                self._arm_timers()

    def withhold_end_of_rib(self, family: Family) -> None:
        """Hold back End-of-RIB for a family: :meth:`end_of_rib` sends nothing until
        :meth:`release_end_of_rib` (this session only)."""
        self._withheld.setdefault(family, False)
        self._record("fault", fault="withhold-eor", family=family.name)

    async def release_end_of_rib(self, family: Family) -> None:
        """Stop holding End-of-RIB back; send the one held back, if any."""
        held = self._withheld.pop(family, False)
        self._record("fault", fault="release-eor", family=family.name, held=held)
        if held:
            await self.end_of_rib(family)

    async def flap(self, prefix: str, count: int, rate: float = 1.0, next_hop: str | None = None, **attrs: Any) -> None:
        """Withdraw and announce ``prefix`` ``count`` times, ``rate`` flaps per second; it is
        announced at the end."""
        if count < 1 or rate <= 0:
            raise ValueError("flap: count must be at least 1 and rate above 0")
        self._record("fault", fault="flap", prefix=prefix, count=count, rate=rate)
        half = 0.5 / rate
        for i in range(count):
            await self.withdraw([prefix])
            await asyncio.sleep(half)
            await self.announce([prefix], next_hop, **attrs)
            if i + 1 < count:
                await asyncio.sleep(half)

    async def send_messages(self, messages: Iterable[bytes], rate: float | None = None) -> int:
        """Send encoded messages (UPDATEs from the benchmark corpus, an MRT file, ...) as they
        are, ``rate`` messages per second (as fast as the DUT reads if None). Returns how many
        were sent."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        count = octets = 0
        self._record("fault", fault="send-messages", rate=rate if rate is not None else 0)
        for msg in messages:
            if rate is not None:
                wait = start + count / rate - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._write(msg)
            count += 1
            octets += len(msg)
            if self._protocol is not None and not self._protocol.can_write.is_set():
                await self._drain()
        await self._drain()
        self._record("sent", what="messages", count=count, octets=octets, seconds=round(loop.time() - start, 3))
        return count

    async def announce_table(
        self,
        prefixes: Iterable[str],
        rate: float | None = None,
        *,
        batch: int = 500,
        next_hop: str | None = None,
        eor: str = "after",
        **attrs: Any,
    ) -> int:
        """Announce a table: ``prefixes`` in batches of ``batch``, ``rate`` prefixes per
        second (as fast as the DUT reads if None). ``eor``: "after" (End-of-RIB for each
        family once all is sent), "before" (sent first: the early End-of-RIB bug) or "none"."""
        if eor not in ("after", "before", "none"):
            raise ValueError(f"announce_table: eor must be 'after', 'before' or 'none', not {eor!r}")
        loop = asyncio.get_running_loop()
        start = loop.time()
        table = list(prefixes)
        families = list(dict.fromkeys(_addr_family(p) for p in table))
        if eor == "before":
            self._record("fault", fault="early-eor", families=[f.name for f in families])
            for fam in families:
                await self.end_of_rib(fam)
        sent = 0
        for k in range(0, len(table), batch):
            chunk = table[k : k + batch]
            if rate is not None:
                wait = start + sent / rate - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            await self.announce(chunk, next_hop, **attrs)
            sent += len(chunk)
        if eor == "after":
            for fam in families:
                await self.end_of_rib(fam)
        self._record("note", text="table sent", count=sent, seconds=round(loop.time() - start, 3))
        return sent


# -- plain data for the recording ------------------------------------------------------------------
def _open_data(o: Open, raw: bytes) -> dict[str, Any]:
    return {
        "raw": raw,
        "asn": o.asn,
        "hold_time": o.hold_time,
        "bgp_id": str(o.bgp_id),
        "capabilities": [cap.to_json() for cap in o.capabilities],
    }


def _notification_data(n: Notification) -> dict[str, Any]:
    return {"code": n.code, "subcode": n.subcode, "name": describe(n.code, n.subcode), "data": n.data}


def _addpath_modes(caps: Iterable[Capability]) -> dict[Family, int]:
    out: dict[Family, int] = {}
    for cap in caps:
        if cap.code == c.CAP_ADD_PATH and len(cap.raw) % 4 == 0:
            for i in range(0, len(cap.raw), 4):
                fam = Family((cap.raw[i] << 8) | cap.raw[i + 1], cap.raw[i + 2])
                out[fam] = cap.raw[i + 3]
    return out


def _negotiate(ours: Sequence[Capability], dut: Open, asn: int) -> Context:
    """What the codec must know about this session: 4-octet AS, ADD-PATH receive, extended
    message and extended next hop, when both sides sent them."""
    codes = {cap.code for cap in ours}
    asn4 = c.CAP_FOUR_OCTET_AS in codes and dut.has(c.CAP_FOUR_OCTET_AS)
    mine, theirs = _addpath_modes(ours), _addpath_modes(dut.capabilities)
    rx = frozenset(f for f, m in mine.items() if m & 1 and theirs.get(f, 0) & 2)
    tx = frozenset(f for f, m in mine.items() if m & 2 and theirs.get(f, 0) & 1)
    ext_msg = c.CAP_EXTENDED_MESSAGE in codes and dut.has(c.CAP_EXTENDED_MESSAGE)
    enh: frozenset[Family] = frozenset()
    if c.CAP_EXTENDED_NEXT_HOP in codes and dut.has(c.CAP_EXTENDED_NEXT_HOP):
        fams = set()
        for cap in dut.find(c.CAP_EXTENDED_NEXT_HOP):
            for i in range(0, len(cap.raw) - 5, 6):
                fams.add(Family((cap.raw[i] << 8) | cap.raw[i + 1], (cap.raw[i + 2] << 8) | cap.raw[i + 3]))
        enh = frozenset(fams)
    return Context(
        asn4=asn4,
        addpath_rx=rx,
        addpath_tx=tx,
        extended_message=ext_msg,
        ibgp=dut.asn == asn,
        peer_as=dut.asn,
        extended_nexthop=enh,
    )
