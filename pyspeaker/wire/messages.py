"""Decoding any message of a session's stream, with the session's negotiated context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from . import constants as c
from .attrs import Interner
from .context import DEFAULT, Context
from .framing import UPDATE_HEADERS, iter_frames
from .full import FullUpdate, decode_full, decode_usual
from .notification import (
    Keepalive,
    Notification,
    RouteRefresh,
    decode_notification,
    decode_route_refresh,
)
from .open import Open, decode_open
from .update import Update, UpdateDecoder

Message = Open | Update | Notification | Keepalive | RouteRefresh

_KEEPALIVE = Keepalive()
U = TypeVar("U")


class Decoder:
    """Decodes the messages of one session. Keeps the UPDATE block cache between calls.

    >>> dec = Decoder(Context(asn4=True))
    >>> for msg in dec.decode(stream): ...
    """

    __slots__ = ("ctx", "updates")

    def __init__(self, ctx: Context = DEFAULT, interner: Interner | None = None) -> None:
        self.ctx = ctx
        self.updates = UpdateDecoder(ctx, interner)

    def decode_one(self, msg_type: int, data: bytes, start: int = 0, end: int = -1) -> Message:
        """Decode one framed message (its header already checked by the framer)."""
        if msg_type == c.UPDATE:
            return self.updates.decode(data, start, end)
        if end < 0:
            end = len(data)
        body = data[start:end] if start or end != len(data) else data
        if msg_type == c.KEEPALIVE:
            return _KEEPALIVE
        if msg_type == c.OPEN:
            return decode_open(body)
        if msg_type == c.NOTIFICATION:
            return decode_notification(body)
        return decode_route_refresh(body)

    def iter_decode(self, data: bytes) -> Iterator[Message]:
        """Decode a byte string of concatenated messages, one message at a time."""
        return self._messages(data, UpdateDecoder.decode)

    def iter_full(self, data: bytes) -> Iterator[Message | FullUpdate]:
        """Like :meth:`iter_decode`, but every UPDATE decoded in full: a
        :class:`~pyspeaker.wire.full.FullUpdate`, its prefixes as text and its attributes as
        typed values, RFC 7606 applied."""
        return self._messages(data, decode_usual if self.updates._v4_inline else decode_full)

    def _messages(self, data: bytes, update: Callable[[UpdateDecoder, bytes, int, int], U]) -> Iterator[Message | U]:
        """The messages of ``data``, every UPDATE made by ``update(decoder, data, start, end)``
        (``decoder``: the session's UpdateDecoder; a plain function, not a bound method or a
        partial, which would cost a little more on every message)."""
        updates = self.updates
        pos = 0
        size = len(data)
        max_len = self.ctx.max_message_len
        update_type = c.UPDATE
        usual = UPDATE_HEADERS.get
        while pos < size:
            length = usual(data[pos : pos + 19])  # check_header's first step, without the call
            if length is not None and (end := pos + length) <= size:
                yield update(updates, data, pos, end)
                pos = end
                continue
            # anything else, including every malformed header, takes the careful path
            for msg_type, start, stop in iter_frames(data[pos : pos + max_len + 19], max_len):
                if msg_type == update_type:
                    yield update(updates, data, pos + start, pos + stop)
                else:
                    yield self.decode_one(msg_type, data, pos + start, pos + stop)
                pos += stop - start
                break

    def decode(self, data: bytes) -> list[Message]:
        """Every message of ``data``, a byte string of concatenated messages."""
        return list(self.iter_decode(data))


def decode(data: bytes, ctx: Context = DEFAULT) -> list[Message]:
    """Decode a byte string of concatenated BGP messages."""
    return Decoder(ctx).decode(data)
