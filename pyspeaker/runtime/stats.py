"""Per-neighbor counters: messages by type, NOTIFICATIONs by (code, subcode), the last
NOTIFICATION each way, the last error, when the session was last Established.

Plain values, no I/O: :class:`~pyspeaker.runtime.peer.PeerRunner` feeds them where messages
are already framed (the Session counts what it receives into :attr:`PeerStats.received`)
or written (:class:`OutCounter` reads the type and length of each message header in the
bytes as they go to the socket, nothing more)."""

from __future__ import annotations

from dataclasses import dataclass

from ..wire import constants as c
from ..wire.notification import Notification, describe

# message type code -> the name used in the counters
TYPE_NAMES: dict[int, str] = {code: name.lower() for code, name in c.MESSAGE_NAMES.items()}


def _by_type() -> dict[int, int]:
    return dict.fromkeys(TYPE_NAMES, 0)


@dataclass(frozen=True, slots=True)
class LastNotification:
    """A NOTIFICATION sent or received: its numbers, data, decoded text and time.time()."""

    code: int
    subcode: int
    data: bytes
    text: str  # e.g. "Cease/Administrative Shutdown: maintenance"
    time: float

    @classmethod
    def of(cls, n: Notification, when: float) -> LastNotification:
        return cls(n.code, n.subcode, n.data, notification_text(n), when)


def notification_text(n: Notification) -> str:
    """``Cease/Administrative Shutdown: maintenance`` (RFC 9003 text after the colon;
    a Hard Reset names its reason)."""
    text = describe(n.code, n.subcode).replace(" / ", "/")
    msg = n.shutdown_message
    if msg:
        text += f": {msg}"
    inner = n.hard_reset_reason
    if inner is not None:
        text += f" ({notification_text(inner)})"
    return text


class PeerStats:
    """What happened on one neighbor's sessions since the speaker started (across
    reconnections). Mutable; read it, do not write it."""

    __slots__ = (
        "established_at",
        "established_count",
        "last_error",
        "last_error_time",
        "last_notification_in",
        "last_notification_out",
        "notifications_in",
        "notifications_out",
        "received",
        "sent",
    )

    def __init__(self) -> None:
        self.established_at: float | None = None  # time.time() of the last Established
        self.established_count = 0
        self.received: dict[int, int] = _by_type()  # by message type code (the Session counts here)
        self.sent: dict[int, int] = _by_type()
        self.notifications_in: dict[tuple[int, int], int] = {}
        self.notifications_out: dict[tuple[int, int], int] = {}
        self.last_notification_in: LastNotification | None = None
        self.last_notification_out: LastNotification | None = None
        self.last_error: str | None = None
        self.last_error_time: float | None = None

    @property
    def messages_in(self) -> dict[str, int]:
        """Messages received by type name ("open", "update", "notification", "keepalive",
        "route-refresh")."""
        return {TYPE_NAMES[t]: n for t, n in self.received.items()}

    @property
    def messages_out(self) -> dict[str, int]:
        """Messages sent by type name."""
        return {TYPE_NAMES[t]: n for t, n in self.sent.items()}

    # -- fed by the runner (session events: not per message) ------------------------------------
    def up(self, when: float) -> None:
        self.established_at = when
        self.established_count += 1

    def down(
        self, reason: str, sent: Notification | None, received: Notification | None, established: bool, when: float
    ) -> None:
        if established:
            self.established_at = None
        if sent is not None:
            key = (sent.code, sent.subcode)
            self.notifications_out[key] = self.notifications_out.get(key, 0) + 1
            self.last_notification_out = LastNotification.of(sent, when)
        if received is not None:
            key = (received.code, received.subcode)
            self.notifications_in[key] = self.notifications_in.get(key, 0) + 1
            self.last_notification_in = LastNotification.of(received, when)
        self.error(reason, when)

    def error(self, text: str, when: float) -> None:
        self.last_error = text
        self.last_error_time = when


class OutCounter:
    """Counts the messages in one connection's outgoing byte stream by type, however the
    stream is cut into writes: it reads two length bytes and one type byte per message. (The
    routing core's UPDATEs, most of the bytes, are counted apart: see _Link.write_updates.)"""

    __slots__ = ("_counts", "_head", "_skip")

    def __init__(self, counts: dict[int, int]) -> None:
        self._counts = counts
        self._skip = 0  # bytes of a message begun in an earlier write still to come
        self._head = b""  # the start of a header cut by the end of the previous write

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        counts = self._counts
        n = len(data)
        pos = self._skip
        if self._head:
            head = self._head + bytes(data[: 19 - len(self._head)])
            if len(head) < 19:
                self._head = head
                return
            k = len(self._head)
            self._head = b""
            length = (head[16] << 8) | head[17]
            if length < 19:
                self._skip = 0
                return  # not BGP framing (raw test bytes): stop counting this write
            if head[18] in counts:
                counts[head[18]] += 1
            pos = length - k
        elif pos >= n:
            self._skip = pos - n
            return
        while pos + 19 <= n:
            length = (data[pos + 16] << 8) | data[pos + 17]
            t = data[pos + 18]
            if t in counts:
                counts[t] += 1
            if length < 19:
                self._skip = 0
                return
            pos += length
        if pos < n:
            self._head = bytes(data[pos:])
            self._skip = 0
        else:
            self._skip = pos - n
