"""The control API's framing, sans-IO: each message is a 4-octet big-endian length and a
msgpack body. A request is ``{"op": NAME, "args": {...}}``; a response is ``{"ok": true,
"result": ...}`` or ``{"ok": false, "error": "one line"}``; the ``subscribe`` op answers
once and then sends ``{"ok": true, "event": {...}}`` until either side closes."""

from __future__ import annotations

import enum
import gc
import ipaddress
import os
import struct
from collections.abc import Iterator
from typing import Any

import msgpack

HEADER = struct.Struct("!I")
MAX_REQUEST = 1 << 20  # a request is small: anything larger is not a client of ours
MAX_RESPONSE = 1 << 30  # a whole RIB may be large
SOCKET_ENV = "PYSPEAKER_SOCKET"


class ProtocolError(Exception):
    """Bytes that are not this protocol (a length over the limit, a body that is not msgpack)."""


def default_socket() -> str:
    """``/run/pyspeaker/pyspeaker.sock`` for root, else ``$XDG_RUNTIME_DIR/pyspeaker.sock``,
    else ``/tmp/pyspeaker-UID.sock``."""
    if os.geteuid() == 0:
        return "/run/pyspeaker/pyspeaker.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "pyspeaker.sock")
    return f"/tmp/pyspeaker-{os.geteuid()}.sock"


def client_socket(explicit: str | None = None) -> str:
    """Where a client connects: ``explicit``, else ``$PYSPEAKER_SOCKET``, else the default."""
    return explicit or os.environ.get(SOCKET_ENV) or default_socket()


def _default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(obj)
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"cannot send a {type(obj).__name__} over the control API")


def encode(obj: Any) -> bytes:
    """One framed message."""
    body: bytes = msgpack.packb(obj, use_bin_type=True, default=_default)
    return HEADER.pack(len(body)) + body


def body_parts(response: dict[str, Any], step: int = 2000) -> Iterator[bytes]:
    """The msgpack body of a response in pieces, ``step`` items of a long result list at a
    time (the server gives the event loop a turn between pieces); joined they are the body
    :func:`encode` makes."""
    result = response.get("result")
    if set(response) != {"ok", "result"} or not isinstance(result, list) or len(result) <= step:
        yield msgpack.packb(response, use_bin_type=True, default=_default)
        return
    packer = msgpack.Packer(use_bin_type=True, default=_default)
    yield (
        packer.pack_map_header(2)
        + packer.pack("ok")
        + packer.pack(response["ok"])
        + packer.pack("result")
        + packer.pack_array_header(len(result))
    )
    for i in range(0, len(result), step):
        yield b"".join([packer.pack(x) for x in result[i : i + step]])


def decode_body(body: bytes) -> Any:
    # a large answer (a whole RIB) is many small maps: the cyclic collector, run again and
    # again while they are made, would take longer than the decoding itself
    pause = len(body) > (1 << 20) and gc.isenabled()
    if pause:
        gc.disable()
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ProtocolError(f"not a msgpack message: {exc}") from None
    finally:
        if pause:
            gc.enable()


def body_length(header: bytes, limit: int) -> int:
    (n,) = HEADER.unpack(header)
    if n > limit:
        raise ProtocolError(f"message of {n} octets is over the limit of {limit}")
    return int(n)


class FrameReader:
    """Bytes in, whole decoded messages out (however the stream is cut)."""

    def __init__(self, limit: int = MAX_RESPONSE) -> None:
        self.limit = limit
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            n = body_length(bytes(self._buf[: HEADER.size]), self.limit)
            end = HEADER.size + n
            if len(self._buf) < end:
                break
            out.append(decode_body(bytes(self._buf[HEADER.size : end])))
            del self._buf[:end]
        return out

    @property
    def pending(self) -> int:
        """Octets of a message not yet complete."""
        return len(self._buf)


def request(op: str, **args: Any) -> dict[str, Any]:
    return {"op": op, "args": {k: v for k, v in args.items() if v is not None}}


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}
