"""The fault-injecting test peer: a BGP peer that does what it is told (crash, come back
with chosen graceful restart flags, go silent, send any bytes...) and records everything the
device under test does. See ``docs/test-peer.md``.

The names below are imported on first use, so that the command line can register
``pyspeaker check`` and ``pyspeaker scenario`` without loading the test peer itself."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .peer import GrSpec, Route, SessionFailed, TestPeer
    from .record import Event, Recorder

__all__ = ["Event", "GrSpec", "Recorder", "Route", "SessionFailed", "TestPeer"]

_WHERE = {
    "GrSpec": ".peer",
    "Route": ".peer",
    "SessionFailed": ".peer",
    "TestPeer": ".peer",
    "Event": ".record",
    "Recorder": ".record",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where, __name__), name)
