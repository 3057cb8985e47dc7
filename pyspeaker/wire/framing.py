"""Message framing: the 19-octet header, and splitting a byte stream into messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from .constants import (
    HEADER_LEN,
    KEEPALIVE,
    MARKER,
    MAX_MESSAGE_LEN,
    MESSAGE_NAMES,
    MIN_LENGTH,
    ROUTE_REFRESH,
    UPDATE,
)
from .errors import NotificationError

# RFC 4271 6.1 subcodes
_NOT_SYNCHRONIZED = 1
_BAD_LENGTH = 2
_BAD_TYPE = 3

# The header of every well-formed UPDATE of up to 4096 octets (marker, length, type), with
# its length: one slice and one look-up check the marker, type and length of the usual
# message at once, cheaper than any of the three alone. (A header not in it, an UPDATE
# over 4096 octets included, goes to parse_header.)
UPDATE_HEADERS: Final = {
    MARKER + n.to_bytes(2, "big") + bytes((UPDATE,)): n for n in range(MIN_LENGTH[UPDATE], MAX_MESSAGE_LEN + 1)
}


def header(msg_type: int, body_len: int) -> bytes:
    return MARKER + (HEADER_LEN + body_len).to_bytes(2, "big") + bytes((msg_type,))


def frame(msg_type: int, body: bytes) -> bytes:
    return MARKER + (HEADER_LEN + len(body)).to_bytes(2, "big") + bytes((msg_type,)) + body


def check_header(data: bytes | bytearray, offset: int, max_len: int = MAX_MESSAGE_LEN) -> tuple[int, int]:
    """Validate the header at ``offset``; return (length, type). Raises NotificationError 1/x.
    The usual UPDATE's header is one look-up in :data:`UPDATE_HEADERS`; any other takes
    :func:`parse_header`."""
    length = UPDATE_HEADERS.get(bytes(data[offset : offset + HEADER_LEN]))
    if length is not None:
        return length, UPDATE
    return parse_header(data, offset, max_len)


def parse_header(data: bytes | bytearray, offset: int, max_len: int = MAX_MESSAGE_LEN) -> tuple[int, int]:
    """:func:`check_header` field by field, naming what is wrong."""
    if data[offset : offset + 16] != MARKER:
        raise NotificationError(1, _NOT_SYNCHRONIZED, b"", "marker is not all ones")
    length = (data[offset + 16] << 8) | data[offset + 17]
    msg_type = data[offset + 18]
    if msg_type not in MIN_LENGTH:
        raise NotificationError(1, _BAD_TYPE, bytes((msg_type,)), f"unknown message type {msg_type}")
    if length < MIN_LENGTH[msg_type] or length > max_len or (msg_type == KEEPALIVE and length != HEADER_LEN):
        raise NotificationError(
            1,
            _BAD_LENGTH,
            length.to_bytes(2, "big"),
            f"bad length {length} for {MESSAGE_NAMES[msg_type]}",
        )
    if msg_type == ROUTE_REFRESH and length != 23 and len(data) - offset >= length:
        # RFC 7313 section 5: a ROUTE-REFRESH of the wrong length is its own error, and the
        # NOTIFICATION carries the complete message (so wait until it has all arrived)
        raise NotificationError(7, 1, bytes(data[offset : offset + length]), f"ROUTE-REFRESH of length {length}")
    return length, msg_type


def iter_frames(data: bytes, max_len: int = MAX_MESSAGE_LEN) -> Iterator[tuple[int, int, int]]:
    """Yield (type, start, end) of each whole message in ``data``; raise on a bad header or
    on trailing bytes that do not form a whole message."""
    offset = 0
    size = len(data)
    while offset < size:
        if size - offset < HEADER_LEN:
            raise NotificationError(1, _BAD_LENGTH, b"", f"{size - offset} trailing octets, not a whole header")
        length, msg_type = check_header(data, offset, max_len)
        end = offset + length
        if end > size:
            raise NotificationError(1, _BAD_LENGTH, length.to_bytes(2, "big"), "message truncated")
        yield msg_type, offset, end
        offset = end


class Framer:
    """Accumulates bytes from a stream and yields whole messages (for the session's pump)."""

    __slots__ = ("_buf", "max_len")

    def __init__(self, max_len: int = MAX_MESSAGE_LEN) -> None:
        self._buf = bytearray()
        self.max_len = max_len

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add received bytes; return the (type, whole message) pairs now complete."""
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        offset = 0
        size = len(buf)
        while size - offset >= HEADER_LEN:
            length, msg_type = check_header(buf, offset, self.max_len)
            end = offset + length
            if end > size:
                break
            out.append((msg_type, bytes(buf[offset:end])))
            offset = end
        if offset:
            del buf[:offset]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)
