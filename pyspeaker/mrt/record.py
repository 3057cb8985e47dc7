"""Recording live sessions as MRT: a :class:`~pyspeaker.runtime.peer.Tap` on a neighbor's
PeerRunner that cuts the byte streams of each connection into BGP messages and writes each
as a BGP4MP_MESSAGE_AS4 record (``_LOCAL`` for those we sent), and each state change as
BGP4MP_STATE_CHANGE_AS4, timestamped with the wall clock when they passed.

A session that did not negotiate 4-octet AS numbers carries 2-octet AS_PATHs: its messages
are written as BGP4MP_MESSAGE (subtype 1, AS_TRANS in the header for a larger AS), as RFC
6396 asks, so readers decode them right.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..fsm import types as ft
from ..wire.constants import AS_TRANS
from .codec import STATE_NUMBERS, Bgp4mpMessage, Bgp4mpStateChange, encode
from .writer import RecordWriter

if TYPE_CHECKING:
    from ..runtime.peer import PeerRunner

_MARKER = b"\xff" * 16


class _Stream:
    """One direction of one connection, cut into messages. Started in the middle of a
    connection (recording switched on while it was up) it skips to the first marker."""

    __slots__ = ("buf", "synced")

    def __init__(self, synced: bool) -> None:
        self.buf = bytearray()
        self.synced = synced

    def feed(self, data: bytes) -> list[bytes]:
        buf = self.buf
        buf += data
        out = []
        pos = 0
        while True:
            if not self.synced:
                at = buf.find(_MARKER, pos)
                if at < 0:
                    pos = max(pos, len(buf) - 15)
                    break
                pos = at
                self.synced = True
            if len(buf) - pos < 19:
                break
            length = (buf[pos + 16] << 8) | buf[pos + 17]
            if buf[pos : pos + 16] != _MARKER or length < 19:
                self.synced = False  # not a message boundary after all: look for the next
                pos += 1
                continue
            if len(buf) - pos < length:
                break
            out.append(bytes(buf[pos : pos + length]))
            pos += length
        del buf[:pos]
        return out


class SessionRecorder:
    """Writes one neighbor's messages and state changes to an MRT :class:`RecordWriter`.
    ``extended``: BGP4MP_ET records (microsecond timestamps)."""

    def __init__(self, writer: RecordWriter, extended: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.writer = writer
        self.extended = extended
        self.clock = clock
        self._streams: dict[tuple[int, bool], _Stream] = {}
        self._links: dict[int, object] = {}  # keeps the links of _streams alive (ids stay unique)

    def _stream(self, runner: PeerRunner, link: object, sent: bool) -> _Stream:
        key = (id(link), sent)
        stream = self._streams.get(key)
        if stream is None:
            if len(self._links) >= 4:  # forget connections that ended
                for old in list(self._links)[:-2]:
                    del self._links[old]
                    self._streams.pop((old, False), None)
                    self._streams.pop((old, True), None)
            # a connection already past OpenSent when recording began may be mid-message
            synced = runner.state in (ft.State.IDLE, ft.State.CONNECT, ft.State.ACTIVE)
            stream = self._streams[key] = _Stream(synced or sent)
            self._links[id(link)] = link
        return stream

    def _header(self, runner: PeerRunner) -> tuple[int, int, str, str, bool]:
        neg = runner.session.negotiated
        asn4 = neg.asn4 if neg is not None else True
        peer_as = neg.peer_as if neg is not None else (runner.settings.peer_as or 0)
        local_as = runner.settings.local_as
        if not asn4:
            peer_as = peer_as if peer_as <= 0xFFFF else AS_TRANS
            local_as = local_as if local_as <= 0xFFFF else AS_TRANS
        peer = runner.address
        local = runner.local_address()
        if local is None or ipaddress.ip_address(local).version != ipaddress.ip_address(peer).version:
            local = "::" if ":" in peer else "0.0.0.0"
        return peer_as, local_as, peer, local, asn4

    def _messages(self, runner: PeerRunner, link: object, data: bytes, sent: bool) -> None:
        messages = self._stream(runner, link, sent).feed(data)
        if not messages:
            return
        now = self.clock()
        peer_as, local_as, peer, local, asn4 = self._header(runner)
        neg = runner.session.negotiated
        # RFC 8050: the ADDPATH subtypes when path identifiers were negotiated that way
        addpath = neg is not None and bool(neg.addpath_tx if sent else neg.addpath_rx)
        for msg in messages:
            rec = Bgp4mpMessage(now, peer_as, local_as, peer, local, msg, asn4, sent, addpath, 0, self.extended)
            self.writer.write(encode(rec))

    # -- the Tap ----------------------------------------------------------------------------
    def received(self, runner: PeerRunner, link: object, data: bytes) -> None:
        self._messages(runner, link, data, False)

    def sent(self, runner: PeerRunner, link: object, data: bytes) -> None:
        self._messages(runner, link, data, True)

    def state(self, runner: PeerRunner, event: ft.StateChanged) -> None:
        peer_as, local_as, peer, local, _ = self._header(runner)
        old, new = STATE_NUMBERS[event.old.value], STATE_NUMBERS[event.new.value]
        rec = Bgp4mpStateChange(self.clock(), peer_as, local_as, peer, local, old, new, True, 0, self.extended)
        self.writer.write(encode(rec))


class Recording:
    """A recording in progress: :meth:`stop` ends it (awaiting what it returns waits until
    the file is written and closed)."""

    def __init__(self, runners: list[PeerRunner], tap: SessionRecorder) -> None:
        self.runners: dict[str, PeerRunner] = {}  # by address: a neighbor made again replaces its old runner
        self.tap = tap
        for runner in runners:
            self.add(runner)

    @property
    def writer(self) -> RecordWriter:
        return self.tap.writer

    def add(self, runner: PeerRunner) -> None:
        """Record one more neighbor into the same file (a speaker-wide recording)."""
        old = self.runners.get(runner.address)
        if old is runner:
            return
        if old is not None and self.tap in old.taps:
            old.taps.remove(self.tap)
        self.runners[runner.address] = runner
        runner.taps.append(self.tap)

    def stop(self) -> asyncio.Future[None]:
        for runner in self.runners.values():
            if self.tap in runner.taps:
                runner.taps.remove(self.tap)
        self.runners = {}
        return asyncio.ensure_future(self.writer.close())


def record(runner: PeerRunner, pattern: str, extended: bool = False) -> Recording:
    """Record ``runner``'s session to the file(s) named by ``pattern`` (strftime, ``{peer}``,
    see :mod:`pyspeaker.mrt.writer`) until :meth:`Recording.stop`."""
    return Recording([runner], SessionRecorder(RecordWriter(pattern, runner.address), extended))
