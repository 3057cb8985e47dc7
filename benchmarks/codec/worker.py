"""One codec in an interpreter of its own: the codec benchmark's measuring process.

The benchmark starts one worker per codec (``multiprocessing``, *spawn*: a fresh interpreter
that imports only this module, the corpus reader and the one library it measures) and then
asks them for timed runs in turn, round robin, so only one of them runs at a time. A program
that uses one of these libraries does not carry the others' modules, objects and garbage
collector load either; measured in one shared process, every codec's figures depended on
which others had been imported before it (ExaBGP alone and all five gave pyspeaker's full
decode 9.6x and 7.0x ExaBGP on the same corpus, the same day).

Protocol on the pipe: the worker sends ``("ready", None)`` (or ``("skip", reason)`` when its
library is not installed, or ``("error", text)``); then for every ``"run"`` it receives it
sends ``(result, seconds)``; ``None`` ends it.
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path


def _job(op: str, name: str, data: bytes) -> Callable[[], int]:
    """The timed work of codec ``name`` for ``op`` ("decode" or "encode"), prepared (untimed)."""
    if name.startswith("pyspeaker"):
        from benchmarks.codec import pyspeaker_adapter as ours

        if op == "decode":
            fn = ours.decode_lazy if name == "pyspeaker-lazy" else ours.decode_full
            return lambda: fn(data)
        from benchmarks.codec.floor import prepare_encode_input

        groups = prepare_encode_input(data)
        return lambda: ours.encode(groups)
    from benchmarks.codec.competitors import DECODERS, ENCODERS

    if op == "decode":
        decode = DECODERS[name]
        decode(data[:0])  # imports the library (ImportError when it is not installed)
        return lambda: decode(data)
    from benchmarks.codec.floor import prepare_encode_input

    prepare, encode = ENCODERS[name]
    prepared = prepare(prepare_encode_input(data))
    return lambda: encode(prepared)


def serve(conn: Connection, op: str, name: str, corpus: str) -> None:
    """The worker's main loop (the target of the spawned process)."""
    try:
        job = _job(op, name, Path(corpus).read_bytes())
    except ImportError as exc:
        conn.send(("skip", f"not installed ({exc.name})"))
        return
    except Exception:  # a broken library: reported by the parent, the other codecs go on
        conn.send(("error", traceback.format_exc()))
        return
    # Everything imported and prepared so far lives as long as the process: out of the way
    # of the collector for every codec alike.
    gc.collect()
    gc.freeze()
    conn.send(("ready", None))
    while conn.recv() is not None:
        gc.collect()
        started = time.perf_counter()
        result = job()
        conn.send((result, time.perf_counter() - started))
