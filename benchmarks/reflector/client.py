"""The simulated clients: a tiny BGP client FSM per session, and the shared scoreboard that
knows, for every client, whether it holds exactly the routes it should.

Per client the state is two ``bytearray``s with one octet per origin (0: no route, else the
epoch of the route held + 1) and two counters of origins whose octet equals the expected
value. A reflector sends the same UPDATE bytes to every client, so each distinct UPDATE is
decoded once (by :class:`pyspeaker.wire.UpdateDecoder`, RFC 7606 checks included) into its
effects, (family, origin, octet) per prefix, cached by the message's bytes; receiving an
UPDATE is then a dict look-up and a few integer operations per prefix.

The loop over UPDATEs in :meth:`Client._receive` also exists compiled (``fastrecv.c``, see
:mod:`benchmarks.reflector.native`), statement for statement; the scoreboard uses it when it
can be built.

Graceful restart (``helper=True``): a client announces the GR capability (both families,
restart time :data:`plan.CLIENT_RESTART_TIME`, N bit) and is a GR helper toward the reflector
(RFC 4724 4.2, RFC 8538): when its session ends without NOTIFICATION (or with one, N
negotiated, other than Hard Reset) it keeps the routes it holds of the families in the
reflector's capability, marked stale, for the reflector's restart time; a new OPEN without F
for a family flushes that family's stale routes; End-of-RIB from the reflector flushes what
is still stale of its family. While the scoreboard is *watching* (the graceful-restart
phase), every route that disappears is counted: withdrawals received and stale routes flushed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from pyspeaker import wire
from pyspeaker.wire import constants as wc
from pyspeaker.wire import open as wopen
from pyspeaker.wire.errors import NotificationError, WireError
from pyspeaker.wire.notification import decode_notification

from . import plan
from .native import Scan

KEEPALIVE = wc.MARKER + b"\x00\x13\x04"
MARKER = wc.MARKER
IDLE, CONNECTING, OPENSENT, OPENCONFIRM, ESTABLISHED = range(5)
CACHE_LIMIT = 400_000  # distinct UPDATEs kept (a mesh run needs about 2 N per epoch)
CEASE, HARD_RESET = 6, 9
NONZERO = bytes((0, *([1] * 255)))  # bytes.translate table: which origins hold a route

# what one UPDATE does: (IPv6?, origin or -1 for a prefix of no origin, octet) per prefix
Effects = tuple[tuple[bool, int, int], ...]


def open_message(address: str, helper: bool = False) -> bytes:
    caps = [
        wopen.multiprotocol(wire.IPV4_UNICAST),
        wopen.multiprotocol(wire.IPV6_UNICAST),
        wopen.route_refresh(),
        wopen.four_octet_as(plan.ASN),
    ]
    if helper:  # a GR helper: both families, flags 0 (never restarted), N set
        fams = [(wire.IPV4_UNICAST, 0), (wire.IPV6_UNICAST, 0)]
        caps.append(wopen.graceful_restart(plan.CLIENT_RESTART_TIME, fams, notification=True))
    return wire.Open.build(plan.ASN, plan.HOLD_TIME, address, caps).encode()


class Scoreboard:
    """What every client should hold, and how many clients do not hold it yet.

    ``want4``/``want6`` hold the expected octet per origin. ``target4``/``target6`` is how
    many origins a client must match (all but itself)."""

    def __init__(
        self,
        index4: dict[bytes, int],
        index6: dict[bytes, int],
        origins: int,
        fixed_values: bool = False,
    ) -> None:
        self.index4 = index4
        self.index6 = index6
        self.want4 = bytearray(origins)
        self.want6 = bytearray(origins)
        self.origins = origins
        self.fixed_values = fixed_values  # full-table mode: any next hop counts as 1
        self.clients: list[Client] = []
        self.incomplete = 0
        self.established = 0
        self.cache: dict[bytes, Effects] = {}
        self.decoder = wire.UpdateDecoder(wire.Context(asn4=True, ibgp=True, peer_as=plan.ASN))
        # the compiled receive loop (native.load()), or None: the loop in Client._receive
        self.scan: Scan | None = None
        self.stats: dict[str, Any] = {
            "updates": 0,
            "prefixes": 0,
            "bytes": 0,
            "unknown_prefixes": 0,
            "attribute_errors": 0,
            "notifications": [],
            "dropped": 0,
            "refused": 0,
            "connect_errors": 0,
            "errors": [],
        }
        # graceful restart: completion needs End-of-RIB of both families in the current session
        self.require_eor = False
        self.watch = False  # count every route that disappears (the graceful-restart phase)
        self.lost_total = 0  # routes that disappeared from any client while watching
        self.complete_times: list[float] = []  # while watching: when each client became complete
        self.eor_times: list[float] = []  # while watching: when a client had End-of-RIB of both families
        self.eor_cache: dict[bytes, int] = {}  # UPDATE bytes -> 4 / 6 (End-of-RIB of that family) / 0
        self.gr: dict[str, Any] = {
            "withdrawn": 0,  # prefixes in withdrawals received while watching (held or not)
            "flushed_eor": 0,  # stale routes removed at the reflector's End-of-RIB
            "flushed_no_f": 0,  # stale routes removed at a new OPEN without F (or without the family)
            "flushed_timer": 0,  # stale routes removed when the reflector's restart time ran out
            "flushed_down": 0,  # routes removed at a session loss that was not a graceful restart
            "late_routes": 0,  # routes received after End-of-RIB of their family in the same session
            "caps": {},  # GR capability (hex) of the reflector's OPENs while watching -> count
        }
        # a waiter: set when `incomplete` or the established count reaches its goal
        self.done: asyncio.Event | None = None
        self.done_at = 0.0
        self.on_done: Callable[[], None] | None = None
        self.established_goal = -1
        self.established_at = 0.0
        self.on_established: Callable[[], None] | None = None

    # -- the expected state ------------------------------------------------------------
    def set_want(self, j: int, value: int) -> None:
        """Expect ``value`` for origin ``j`` (both families) at every client."""
        old4, old6 = self.want4[j], self.want6[j]
        self.want4[j] = value
        self.want6[j] = value
        for c in self.clients:
            if c.i == j:
                continue
            h = c.have4[j]
            if h == old4 and h != value:
                c.good4 -= 1
            elif h == value and h != old4:
                c.good4 += 1
            h = c.have6[j]
            if h == old6 and h != value:
                c.good6 -= 1
            elif h == value and h != old6:
                c.good6 += 1

    def reset_client(self, c: Client) -> None:
        """A new session: the client holds nothing. (The arrays are cleared in place: the
        receive loop holds references to them.)"""
        zero = bytes(self.origins)
        c.have4[:] = zero
        c.have6[:] = zero
        me = 1 if 0 <= c.i < self.origins else 0
        c.good4 = self.want4.count(0) - (me and self.want4[c.i] == 0)
        c.good6 = self.want6.count(0) - (me and self.want6[c.i] == 0)

    def is_complete(self, c: Client) -> bool:
        return c.absent or (
            c.state == ESTABLISHED
            and (not c.listen or (c.good4 == c.target4 and c.good6 == c.target6))
            and (not self.require_eor or (c.eor4 and c.eor6))
        )

    def recount(self) -> None:
        """Recompute which clients are complete (after expectations changed)."""
        self.incomplete = 0
        for c in self.clients:
            c.complete = self.is_complete(c)
            self.incomplete += not c.complete
        self._check_done()

    def check(self, c: Client) -> None:
        complete = self.is_complete(c)
        if complete != c.complete:
            c.complete = complete
            if complete and self.watch:
                self.complete_times.append(time.perf_counter())
            self.incomplete += -1 if complete else 1
            if not self.incomplete:
                self._check_done()

    def _check_done(self) -> None:
        if not self.incomplete and self.done is not None and not self.done.is_set():
            self.done_at = time.perf_counter()
            if self.on_done is not None:
                self.on_done()
            self.done.set()

    def count_established(self, delta: int) -> None:
        self.established += delta
        if self.established == self.established_goal and self.on_established is not None:
            self.established_at = time.perf_counter()
            self.on_established()

    def error(self, text: str) -> None:
        errors = self.stats["errors"]
        if len(errors) < 20:
            errors.append(text)

    def lost(self, c: Client, kind: str, count: int) -> None:
        """``count`` routes disappeared from client ``c`` (counted while watching)."""
        if count and self.watch:
            self.gr[kind] += count
            self.lost_total += count
            c.lost += count

    # -- decoding ----------------------------------------------------------------------
    def end_of_rib(self, msg: bytes) -> int:
        """4 or 6 if ``msg`` (an UPDATE) is End-of-RIB for IPv4 or IPv6 unicast, else 0."""
        fam = self.eor_cache.get(msg)
        if fam is None:
            try:
                eor = self.decoder.decode(msg).end_of_rib
            except (WireError, NotificationError):
                eor = None
            fam = 4 if eor == wire.IPV4_UNICAST else 6 if eor == wire.IPV6_UNICAST else 0
            self.eor_cache[msg] = fam
        return fam

    def miss(self, msg: bytes) -> Effects:
        """Decode an UPDATE not seen before into its effects, and file them."""
        try:
            u = self.decoder.decode(msg)
        except (WireError, NotificationError) as exc:
            raise ProtocolError(f"undecodable UPDATE {msg.hex()}: {exc}") from None
        if u.errors:
            self.stats["attribute_errors"] += 1
            self.error(f"UPDATE with attribute errors {[str(e) for e in u.errors]}: {msg.hex()}")
        fixed = self.fixed_values
        attrs = u.attrs
        out: list[tuple[bool, int, int]] = []
        index4, index6 = self.index4, self.index6
        if u.withdrawn:
            out += [(False, index4.get(p, -1), 0) for p in u.withdrawn]
        if u.unreach is not None:
            fam, gone = u.unreach
            if fam == wire.IPV4_UNICAST:
                out += [(False, index4.get(p, -1), 0) for p in gone]
            elif fam == wire.IPV6_UNICAST:
                out += [(True, index6.get(p, -1), 0) for p in gone]
        withdraw = u.treat_as_withdraw
        if u.nlri:
            nh = attrs.get_raw(wc.NEXT_HOP) if attrs is not None else None
            v = 0 if withdraw else 1 if fixed else plan.value4(nh)
            out += [(False, index4.get(p, -1), v) for p in u.nlri]
        if u.reach is not None:
            fam = u.reach.family
            if fam == wire.IPV4_UNICAST:
                v = 0 if withdraw else 1 if fixed else plan.value4(u.reach.next_hop)
                out += [(False, index4.get(p, -1), v) for p in u.reach.prefixes]
            elif fam == wire.IPV6_UNICAST:
                v = 0 if withdraw else 1 if fixed else plan.value6(u.reach.next_hop)
                out += [(True, index6.get(p, -1), v) for p in u.reach.prefixes]
            else:
                self.error(f"route of family {fam} received")
        if len(self.cache) >= CACHE_LIMIT:
            self.cache.clear()
            self.decoder.clear()
        effects = tuple(out)
        self.cache[msg] = effects
        return effects


class ProtocolError(Exception):
    """The reflector sent something this client cannot make sense of."""


class Client(asyncio.Protocol):
    """One simulated iBGP client: OPEN, KEEPALIVE, UPDATEs out and in; no timers of its own
    (its hold time is long, and it answers every KEEPALIVE with one)."""

    def __init__(
        self,
        board: Scoreboard,
        i: int,
        address: str,
        target4: int,
        target6: int,
        listen: bool = True,
        helper: bool = False,
    ) -> None:
        self.board = board
        self.listen = listen  # False: UPDATEs received are not looked at (a full-table injector)
        self.absent = False  # deliberately disconnected: not waited for
        self.i = i
        self.address = address
        self.helper = helper  # a graceful-restart helper (announces GR, keeps routes stale)
        self.open_bytes = open_message(address, helper)
        # graceful restart, helper side
        self.peer_gr: wopen.GracefulRestart | None = None  # the reflector's GR capability, last OPEN
        self.stale4: bytearray | None = None  # per origin: 1 while the route held is stale
        self.stale6: bytearray | None = None
        self.eor4 = False  # End-of-RIB received in the current session
        self.eor6 = False
        self.lost = 0  # routes that disappeared while the scoreboard was watching
        self.restart_timer: asyncio.TimerHandle | None = None
        self.notification: tuple[int, int] | None = None  # (code, subcode) received on this session
        self.target4 = target4
        self.target6 = target6
        self.transport: asyncio.Transport | None = None
        self.state = IDLE
        self.buf = b""
        self.have4 = bytearray(board.origins)
        self.have6 = bytearray(board.origins)
        self.good4 = 0
        self.good6 = 0
        self.complete = False
        self.up: asyncio.Future[bool] | None = None  # resolved on Established or on close
        self.accepted: asyncio.Future[bool] | None = None  # resolved on the reflector's OPEN or on close
        self.closed: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.expect_close = False
        self.sessions = 0
        self.on_up: Callable[[Client], None] | None = None  # what to send once Established
        board.reset_client(self)
        board.clients.append(self)

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.state = OPENSENT
        self.buf = b""
        self.expect_close = False
        self.notification = None
        self.eor4 = self.eor6 = False
        self.closed = asyncio.get_running_loop().create_future()
        self.transport.write(self.open_bytes)

    def connection_lost(self, exc: Exception | None) -> None:
        board = self.board
        was = self.state
        self.state = IDLE
        self.transport = None
        if was == ESTABLISHED:
            board.count_established(-1)
            if self.helper:
                self._session_lost()
        board.check(self)
        if self.up is not None and not self.up.done():
            self.up.set_result(False)
        if self.accepted is not None and not self.accepted.done():
            self.accepted.set_result(False)
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)
        if not self.expect_close:
            if was == ESTABLISHED:
                board.stats["dropped"] += 1
                board.error(f"client {self.address}: session closed by the reflector ({exc or 'EOF'})")
            else:
                board.stats["refused"] += 1  # closed before Established: the client tries again

    def data_received(self, data: bytes) -> None:
        try:
            self._receive(data)
        except (ProtocolError, WireError, NotificationError) as exc:
            self.board.error(f"client {self.address}: {exc}")
            self.drop()

    def _receive(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        board = self.board
        size = len(buf)
        off = 0
        updates = prefixes = unknown = 0
        cache = board.cache
        me = self.i
        have4, have6, want4, want6 = self.have4, self.have6, board.want4, board.want6
        good4 = good6 = 0  # deltas
        helper = self.helper  # the slower path: stale routes, End-of-RIB, losses
        # the compiled form of the UPDATE branch below (native.py): a run of cached UPDATEs
        scan = board.scan if self.listen and not helper else None
        while size - off >= 19:
            if scan is not None and self.state == ESTABLISHED:
                off, n, p, u, d4, d6 = scan(buf, off, cache, me, have4, have6, want4, want6)
                updates += n
                prefixes += p
                unknown += u
                good4 += d4
                good6 += d6
                if size - off < 19:
                    break
            length = (buf[off + 16] << 8) | buf[off + 17]
            end = off + length
            if end > size:
                break
            if length < 19 or not buf.startswith(MARKER, off):
                raise ProtocolError(f"bad message header {buf[off : off + 19].hex()}")
            kind = buf[off + 18]
            if kind == 2 and self.state == ESTABLISHED and self.listen:
                updates += 1
                msg = buf[off:end]
                effects = cache.get(msg)
                if effects is None:
                    effects = board.miss(msg)
                prefixes += len(effects)
                if helper:
                    unknown += self._helper_update(msg, effects)
                    off = end
                    continue
                for v6, j, v in effects:
                    if j == me:
                        continue
                    if j < 0:
                        unknown += 1
                    elif v6:
                        old = have6[j]
                        if old != v:
                            have6[j] = v
                            w = want6[j]
                            if old == w:
                                good6 -= 1
                            elif v == w:
                                good6 += 1
                    else:
                        old = have4[j]
                        if old != v:
                            have4[j] = v
                            w = want4[j]
                            if old == w:
                                good4 -= 1
                            elif v == w:
                                good4 += 1
            elif kind == 4:
                self._keepalive()
            elif kind == 1:
                self._open(buf[off:end])
            elif kind == 3:
                self._notification(buf[off:end])
                return
            elif kind != 5 and kind != 2:  # ROUTE-REFRESH is ignored; anything else is an error
                raise ProtocolError(f"message type {kind} in state {self.state}")
            off = end
        self.buf = buf[off:] if off < size else b""
        if updates:
            stats = board.stats
            stats["updates"] += updates
            stats["prefixes"] += prefixes
            stats["bytes"] += len(data)
            if unknown:
                stats["unknown_prefixes"] += unknown
                board.error(f"client {self.address}: {unknown} prefixes that no client announced")
            if good4 or good6:
                self.good4 += good4
                self.good6 += good6
                board.check(self)
            if helper:
                board.check(self)

    # -- graceful restart, helper side (RFC 4724 4.2) ----------------------------------------
    def _helper_update(self, msg: bytes, effects: Effects) -> int:
        """An UPDATE to a helper: refresh stale routes, count what disappears (while the
        scoreboard is watching), act on End-of-RIB. Returns the number of prefixes of no client."""
        board = self.board
        if not effects:
            fam = board.end_of_rib(msg) if len(msg) <= 31 else 0
            if fam:
                self._end_of_rib(fam)
            return 0
        unknown = withdrawn = late = 0
        me = self.i
        for v6, j, v in effects:
            if j == me:
                continue
            if j < 0:
                unknown += 1
                continue
            if v6:
                have, want, stale = self.have6, board.want6, self.stale6
            else:
                have, want, stale = self.have4, board.want4, self.stale4
            if stale is not None:
                stale[j] = 0
            if not v:
                withdrawn += 1
            elif self.eor6 if v6 else self.eor4:
                late += 1
            old = have[j]
            if old == v:
                continue
            have[j] = v
            w = want[j]
            delta = -1 if old == w else 1 if v == w else 0
            if v6:
                self.good6 += delta
            else:
                self.good4 += delta
        board.lost(self, "withdrawn", withdrawn)
        if board.watch:
            board.gr["late_routes"] += late
        return unknown

    def _end_of_rib(self, fam: int) -> None:
        if fam == 4:
            self.eor4 = True
        else:
            self.eor6 = True
        if self.eor4 and self.eor6 and self.board.watch:
            self.board.eor_times.append(time.perf_counter())
        self._flush(fam, "flushed_eor")

    def _flush(self, fam: int, kind: str) -> None:
        """Remove the stale routes of a family (4 or 6), counting them as ``kind``."""
        stale = self.stale4 if fam == 4 else self.stale6
        if stale is None:
            return
        if fam == 4:
            self.stale4 = None
            have, want = self.have4, self.board.want4
        else:
            self.stale6 = None
            have, want = self.have6, self.board.want6
        count = 0
        delta = 0
        j = stale.find(1)
        while j >= 0:
            old = have[j]
            if old:
                count += 1
                have[j] = 0
                w = want[j]
                delta += -1 if old == w else 1 if w == 0 else 0
            j = stale.find(1, j + 1)
        if fam == 4:
            self.good4 += delta
        else:
            self.good6 += delta
        self.board.lost(self, kind, count)

    def _session_lost(self) -> None:
        """The session ended: keep the routes of the families the reflector announced
        graceful restart for, stale, for the reflector's restart time; remove the others. A
        NOTIFICATION ends it gracefully only with N on both sides and if it is not Cease/Hard
        Reset (RFC 8538); the clients always announce N."""
        gr = self.peer_gr
        note = self.notification
        graceful = gr is not None and gr.restart_time > 0
        if note is not None:  # RFC 8538: with N on both sides, a NOTIFICATION other than Hard Reset
            graceful = graceful and gr is not None and gr.notification and note != (CEASE, HARD_RESET)
        kept = {f for f, _ in gr.families} if graceful and gr is not None else set()
        for fam, family, have in ((4, wire.IPV4_UNICAST, self.have4), (6, wire.IPV6_UNICAST, self.have6)):
            stale = have.translate(NONZERO)  # every route held (lost again before End-of-RIB: all of them)
            if fam == 4:
                self.stale4 = stale
            else:
                self.stale6 = stale
            if family not in kept:
                self._flush(fam, "flushed_down")
        if kept and gr is not None:
            if self.restart_timer is not None:
                self.restart_timer.cancel()
            loop = asyncio.get_running_loop()
            self.restart_timer = loop.call_later(gr.restart_time, self._restart_expired)

    def _restart_expired(self) -> None:
        self.restart_timer = None
        if self.state != ESTABLISHED:
            self._flush(4, "flushed_timer")
            self._flush(6, "flushed_timer")
            self.board.check(self)

    def _open(self, msg: bytes) -> None:
        if self.state != OPENSENT:
            raise ProtocolError(f"OPEN in state {self.state}")
        peer = wopen.decode_open(msg)
        if peer.asn != plan.ASN:
            raise ProtocolError(f"reflector AS {peer.asn}")
        fams = set(peer.families())
        if not {wire.IPV4_UNICAST, wire.IPV6_UNICAST} <= fams:
            raise ProtocolError(f"reflector offers only {sorted(f.name for f in fams)}")
        if self.helper:
            self._gr_open(peer)
        assert self.transport is not None
        self.transport.write(KEEPALIVE)
        self.state = OPENCONFIRM
        if self.accepted is not None and not self.accepted.done():
            self.accepted.set_result(True)

    def _gr_open(self, peer: wopen.Open) -> None:
        """The reflector's OPEN: its GR capability decides per family whether the stale
        routes wait for its End-of-RIB (F set) or go now (RFC 4724 4.2)."""
        gr = self.peer_gr = peer.graceful_restart()
        board = self.board
        if board.watch:
            key = gr.raw.hex() if gr is not None else "none"
            board.gr["caps"][key] = board.gr["caps"].get(key, 0) + 1
        if self.restart_timer is not None:
            self.restart_timer.cancel()
            self.restart_timer = None
        for fam, family in ((4, wire.IPV4_UNICAST), (6, wire.IPV6_UNICAST)):
            if (self.stale4 if fam == 4 else self.stale6) is not None and not (gr and gr.forwarding(family)):
                self._flush(fam, "flushed_no_f")

    def _keepalive(self) -> None:
        if self.state == ESTABLISHED:
            assert self.transport is not None
            self.transport.write(KEEPALIVE)
        elif self.state == OPENCONFIRM:
            self.state = ESTABLISHED
            self.sessions += 1
            board = self.board
            if not self.helper:  # a helper keeps what it holds: stale routes, or nothing
                board.reset_client(self)
            board.count_established(1)
            if self.on_up is not None:
                self.on_up(self)
            board.check(self)
            if self.up is not None and not self.up.done():
                self.up.set_result(True)
        else:
            raise ProtocolError(f"KEEPALIVE in state {self.state}")

    def _notification(self, msg: bytes) -> None:
        try:
            text = str(decode_notification(msg))
        except (WireError, NotificationError):
            text = msg.hex()
        notes = self.board.stats["notifications"]
        if len(notes) < 20:
            notes.append(f"{self.address}: {text}")
        if len(msg) >= 21:
            self.notification = (msg[19], msg[20])
        self.drop(expected=False)

    # -- what the simulator does with a client ------------------------------------------
    def send(self, messages: list[bytes]) -> None:
        if self.transport is not None and self.state == ESTABLISHED:
            self.transport.write(b"".join(messages))

    def send_all(self, data: bytes) -> asyncio.Future[None]:
        """Write ``data``; the future is resolved once all of it has left our buffer for the
        kernel's (the reflector is reading it)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.set_write_buffer_limits(high=1, low=0)  # resume_writing() once drained
        self.drained = fut
        self.transport.write(data)
        if not self.transport.get_write_buffer_size():
            fut.set_result(None)
        return fut

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def drop(self, expected: bool = False) -> None:
        """Close the TCP connection at once, without a NOTIFICATION."""
        self.expect_close = expected
        if self.transport is not None:
            self.transport.abort()
