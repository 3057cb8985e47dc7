"""Prometheus metrics: a collector that reads the speaker's state when scraped, and a small
HTTP endpoint on the speaker's own asyncio loop.

Nothing is counted on the hot path for metrics' sake: sessions, prefixes, graceful-restart
state and message counters are read from what the speaker already keeps, at scrape time.
The only additions are :class:`Timings`: the flush and the UPDATE processing of each batch
are timed (the speaker measured the flush already) and filed in fixed buckets.

The endpoint runs on the asyncio loop, not in prometheus-client's thread: a scrape then reads
the routing state between two callbacks, never while a callback changes it (the speaker's
dictionaries are not safe to iterate from another thread), and no lock is taken on the hot
path. A scrape costs the loop O(peers x families), not O(prefixes).

``prometheus-client`` is optional (``pip install pyspeaker[metrics]``): it is imported only
when ``[metrics]`` is configured.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime.speaker import Speaker

log = logging.getLogger("pyspeaker.metrics")

# flushes and batches take from microseconds (one UPDATE, few peers) to a second (a full
# table to hundreds of peers)
TIMING_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")


class Timings:
    """A histogram without a lock: observed on the asyncio loop, read on the same loop."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = TIMING_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (upper bound, observations at or below it), ending with +Inf."""
        out = []
        total = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            total += n
            out.append((repr(bound), total))
        out.append(("+Inf", self.count))
        return out


class SpeakerCollector:
    """Reads a :class:`Speaker` at scrape time (a prometheus-client custom collector)."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker

    def describe(self) -> Iterable[Any]:
        return []  # not known before the first scrape: the registry does not ask again

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        sp = self.speaker
        neighbors = sp.neighbors()
        by_state = dict.fromkeys(STATES, 0)
        up = GaugeMetricFamily(
            "pyspeaker_session_established", "1 while the session with the peer is Established", labels=["peer"]
        )
        for n in neighbors:
            by_state[n["state"]] = by_state.get(n["state"], 0) + 1
            up.add_metric([n["address"]], 1.0 if n["state"] == "Established" else 0.0)
        sessions = GaugeMetricFamily("pyspeaker_sessions", "Neighbors by session state", labels=["state"])
        for state, count in by_state.items():
            sessions.add_metric([state], count)
        yield sessions
        yield up

        prefixes = GaugeMetricFamily(
            "pyspeaker_prefixes",
            "Prefixes per peer and family: received (accepted plus refused), accepted (in the "
            "Adj-RIB-In), advertised (in its Adj-RIB-Out), stale (kept through a graceful restart)",
            labels=["peer", "family", "status"],
        )
        rejected = CounterMetricFamily(
            "pyspeaker_prefixes_rejected",
            "Announcements refused by import policy or loop checks in the current session",
            labels=["peer", "family"],
        )
        restarting = GaugeMetricFamily(
            "pyspeaker_graceful_restart_in_progress",
            "1 while the peer's routes are kept stale for it (RFC 4724 helper), per peer",
            labels=["peer"],
        )
        for n in neighbors:
            address = n["address"]
            for fam, c in n["prefixes"].items():
                received = c.get("received", c["accepted"] + c["rejected"])
                prefixes.add_metric([address, fam, "received"], received)
                prefixes.add_metric([address, fam, "accepted"], c["accepted"])
                prefixes.add_metric([address, fam, "advertised"], c["advertised"])
                prefixes.add_metric([address, fam, "stale"], c["stale"])
                rejected.add_metric([address, fam], c["rejected"])
            in_progress = address in sp.router.retained or any(c["stale"] for c in n["prefixes"].values())
            restarting.add_metric([address], 1.0 if in_progress else 0.0)
        yield prefixes
        yield rejected
        yield restarting
        yield GaugeMetricFamily(
            "pyspeaker_graceful_restarts_in_progress",
            "Peers whose routes are kept stale while they restart",
            value=len(sp.router.retained),
        )
        yield GaugeMetricFamily(
            "pyspeaker_route_selection_deferred",
            "1 while our own graceful restart defers route selection until the peers' End-of-RIB (RFC 4724 4.1)",
            value=1.0 if sp.router.deferring else 0.0,
        )

        messages = CounterMetricFamily(
            "pyspeaker_messages", "BGP messages by peer, direction and type", labels=["peer", "direction", "type"]
        )
        notifications = CounterMetricFamily(
            "pyspeaker_notifications",
            "NOTIFICATION messages by peer, direction, error code and subcode",
            labels=["peer", "direction", "code", "subcode"],
        )
        for address, runner in sorted(sp.peers.items()):
            stats = getattr(runner, "stats", None)
            if stats is None:
                continue
            for direction in ("in", "out"):
                for kind, count in sorted(getattr(stats, f"messages_{direction}", {}).items()):
                    messages.add_metric([address, direction, str(kind)], count)
                for (code, subcode), count in sorted(getattr(stats, f"notifications_{direction}", {}).items()):
                    notifications.add_metric([address, direction, str(code), str(subcode)], count)
        yield messages
        yield notifications

        for name, doc, t in (
            (
                "pyspeaker_flush_seconds",
                "Time of each flush: best-path changes encoded and written to peers",
                sp.flush_timings,
            ),
            (
                "pyspeaker_update_batch_seconds",
                "Time spent filing the UPDATEs received between two flushes (per batch)",
                sp.batch_timings,
            ),
        ):
            yield HistogramMetricFamily(name, doc, buckets=t.cumulative(), sum_value=t.sum)


class MetricsServer:
    """``GET /metrics`` (or the configured path) on the asyncio loop; anything else is 404."""

    def __init__(self, speaker: Speaker, host: str, port: int, path: str = "/metrics") -> None:
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SpeakerCollector(speaker))
        self.host = host
        self.port = port
        self.path = path
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics: http://%s:%d%s", f"[{self.host}]" if ":" in self.host else self.host, self.port, self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            words = head.split(b"\r\n", 1)[0].split()
            method, target = (words[0], words[1].decode("latin-1")) if len(words) >= 2 else (b"", "")
            if method not in (b"GET", b"HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif target.split("?", 1)[0] != self.path:
                status, body, ctype = "404 Not Found", f"metrics are at {self.path}\n".encode(), "text/plain"
            else:
                from prometheus_client import CONTENT_TYPE_LATEST

                status, body, ctype = "200 OK", self.render(), CONTENT_TYPE_LATEST
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            if method != b"HEAD":
                writer.write(body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


def available() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True
