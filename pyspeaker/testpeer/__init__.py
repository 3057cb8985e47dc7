"""The fault-injecting test peer: a BGP peer that does what it is told (crash, come back
with chosen graceful restart flags, go silent, send any bytes...) and records everything the
device under test does. See ``docs/test-peer.md``."""

from .peer import GrSpec, Route, SessionFailed, TestPeer
from .record import Event, Recorder

__all__ = ["Event", "GrSpec", "Recorder", "Route", "SessionFailed", "TestPeer"]
