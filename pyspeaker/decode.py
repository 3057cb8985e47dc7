"""``pyspeaker decode``: a raw BGP message stream as JSON lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO

from .wire import Context, Decoder, WireError
from .wire.family import IPV4_UNICAST, IPV6_UNICAST


def decode_stream(data: bytes, ctx: Context) -> Iterator[dict[str, Any]]:
    """One readable dict per message; a framing error ends the stream with an error record."""
    dec = Decoder(ctx)
    offset = 0
    try:
        for msg in dec.iter_decode(data):
            out = msg.to_json()
            yield out
            offset += 1
    except WireError as exc:
        yield {"type": "ERROR", "message_index": offset, "error": str(exc)}


def run(source: BinaryIO, out: TextIO, asn2: bool = False, addpath: bool = False) -> int:
    data = source.read()
    fams = frozenset({IPV4_UNICAST, IPV6_UNICAST}) if addpath else frozenset()
    ctx = Context(asn4=not asn2, addpath_rx=fams, extended_message=True)
    status = 0
    for record in decode_stream(data, ctx):
        if record["type"] == "ERROR":
            status = 1
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return status


def main_decode(path: str, asn2: bool, addpath: bool) -> int:
    if path == "-":
        return run(sys.stdin.buffer, sys.stdout, asn2, addpath)
    try:
        with open(path, "rb") as fh:
            return run(fh, sys.stdout, asn2, addpath)
    except OSError as exc:
        print(f"pyspeaker decode: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
