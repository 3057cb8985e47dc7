"""Helpers to build broken copies of valid BGP messages, for :meth:`TestPeer.send_raw`.

Pure functions on bytes: each returns a new message and leaves its input alone.
"""

from __future__ import annotations

from pyspeaker.wire import constants as c


def truncate(msg: bytes, length: int, fix_length: bool = True) -> bytes:
    """The first ``length`` octets of ``msg``; with ``fix_length`` the header's length field
    says the new length (a consistent but short message), else it keeps the old one (the
    receiver then waits for octets that never come, or reads the next message as the rest)."""
    if not 0 <= length <= len(msg):
        raise ValueError(f"truncate: length {length} outside 0..{len(msg)}")
    out = bytearray(msg[:length])
    if fix_length and length >= 18:
        out[16:18] = length.to_bytes(2, "big")
    return bytes(out)


def flip(msg: bytes, offset: int, mask: int = 0xFF) -> bytes:
    """``msg`` with the octet at ``offset`` XORed with ``mask`` (every bit by default)."""
    if not 0 <= offset < len(msg):
        raise ValueError(f"flip: offset {offset} outside 0..{len(msg) - 1}")
    out = bytearray(msg)
    out[offset] ^= mask & 0xFF
    return bytes(out)


def set_byte(msg: bytes, offset: int, value: int) -> bytes:
    if not 0 <= offset < len(msg):
        raise ValueError(f"set_byte: offset {offset} outside 0..{len(msg) - 1}")
    out = bytearray(msg)
    out[offset] = value & 0xFF
    return bytes(out)


def set_length(msg: bytes, length: int) -> bytes:
    """``msg`` with the header's length field set to ``length`` (the octets unchanged)."""
    if not 0 <= length <= 0xFFFF:
        raise ValueError(f"set_length: {length} does not fit 16 bits")
    if len(msg) < 18:
        raise ValueError("set_length: not a whole BGP header")
    return msg[:16] + length.to_bytes(2, "big") + msg[18:]


def set_type(msg: bytes, msg_type: int) -> bytes:
    return set_byte(msg, 18, msg_type)


def set_marker(msg: bytes, marker: bytes = b"\x00" * 16) -> bytes:
    if len(marker) != 16:
        raise ValueError("set_marker: the marker is 16 octets")
    return marker + msg[16:]


def append(msg: bytes, extra: bytes, fix_length: bool = True) -> bytes:
    """``msg`` with ``extra`` octets after it (counted in the length field if ``fix_length``)."""
    out = msg + extra
    return set_length(out, len(out)) if fix_length else out


def message(msg_type: int, body: bytes, length: int | None = None) -> bytes:
    """A message of any type with any body, its length field as given (or correct)."""
    n = c.HEADER_LEN + len(body) if length is None else length
    return c.MARKER + n.to_bytes(2, "big") + bytes((msg_type,)) + body
