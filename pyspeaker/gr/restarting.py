"""The restarting side of graceful restart (RFC 4724 4.1): what pyspeaker remembers across
its own restart, in a small msgpack state file written at a graceful stop and read (then
removed) at start, and the capability it announces.

A start with no state file, an unreadable one, one from another router id, or one older than
the restart time it announced is a cold start: R=0, nothing deferred.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import msgpack

from ..wire import open as wopen
from ..wire.family import Family

VERSION = 1
F_BIT = 0x80


@dataclass(frozen=True, slots=True)
class RestartState:
    """What a graceful stop leaves for the next start."""

    stopped_at: float  # wall-clock seconds (time.time()) of the stop
    restart_time: int  # the longest restart time announced to any peer
    router_id: str
    # peer address -> the families of its session (with forwarding state kept)
    peers: dict[str, list[str]] = field(default_factory=dict)

    def age(self, now: float) -> float:
        return now - self.stopped_at


def save(path: str | Path, state: RestartState) -> None:
    """Write atomically: a crash while writing leaves the old file or none, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = msgpack.packb(
        {
            "version": VERSION,
            "stopped_at": state.stopped_at,
            "restart_time": state.restart_time,
            "router_id": state.router_id,
            "peers": state.peers,
        }
    )
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path, now: float, router_id: str) -> tuple[RestartState | None, str]:
    """The state of a graceful stop to restart from, or None and why this is a cold start.
    The file is removed either way: it describes one stop only."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "no state file: a cold start"
    except OSError as exc:
        return None, f"state file {path} unreadable ({exc.strerror}): a cold start"
    path.unlink(missing_ok=True)
    try:
        doc = msgpack.unpackb(raw)
        if doc.get("version") != VERSION:
            return None, f"state file {path} has version {doc.get('version')!r}: a cold start"
        state = RestartState(
            stopped_at=float(doc["stopped_at"]),
            restart_time=int(doc["restart_time"]),
            router_id=str(doc["router_id"]),
            peers={str(k): [str(f) for f in v] for k, v in doc["peers"].items()},
        )
    except (ValueError, TypeError, KeyError, AttributeError, msgpack.UnpackException) as exc:
        return None, f"state file {path} is not valid ({exc}): a cold start"
    if state.router_id != router_id:
        return None, f"state file {path} is for router id {state.router_id}: a cold start"
    age = state.age(now)
    if age < 0 or age > state.restart_time:
        return None, f"state file {path} is {age:.0f} s old, more than the restart time {state.restart_time} s"
    return state, f"restarting: stopped gracefully {age:.1f} s ago"


def capability(
    restart_time: int,
    families: tuple[Family, ...],
    restarting: bool,
    flags: dict[Family, int] | None = None,
) -> wopen.Capability:
    """The GR capability (N always set, RFC 8538): on a normal start every family with flags
    0x00; after a graceful restart R set and, per family, the configured flags (default F,
    0x80: the routes were kept, so peers need not flush them). Any flags octet is sent as
    given, wrong ones included: that is what a test peer needs."""
    chosen = flags or {}
    entries = [(f, chosen.get(f, F_BIT) if restarting else 0x00) for f in families]
    return wopen.graceful_restart(restart_time, entries, restarting=restarting, notification=True)
