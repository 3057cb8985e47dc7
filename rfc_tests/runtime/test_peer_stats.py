"""Per-neighbor counters (PeerRunner.stats): messages by type each way, however the byte
stream is cut; NOTIFICATIONs by code and the last one each way, decoded; Established time."""

from __future__ import annotations

import asyncio
import time

from pyspeaker.config.load import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.runtime.stats import OutCounter, PeerStats, notification_text
from pyspeaker.wire.notification import Notification
from rfc_tests.conftest import KEEPALIVE, T_NOTIFICATION, T_OPEN, T_ROUTE_REFRESH, message, update
from rfc_tests.loopback import reflector_toml
from rfc_tests.rawpeer import RawPeer

STREAM = [
    message(T_OPEN, bytes(10)),
    update(),
    KEEPALIVE,
    update(nlri=b"\x18\xc0\x00\x02" * 300),
    message(T_ROUTE_REFRESH, b"\x00\x01\x00\x01"),
    message(T_NOTIFICATION, b"\x06\x02"),
]
EXPECTED = {"open": 1, "update": 2, "notification": 1, "keepalive": 1, "route-refresh": 1}


def test_out_counter_counts_every_message_wherever_the_writes_cut() -> None:
    data = b"".join(STREAM)
    for cut in range(1, len(data)):
        for second in (cut, min(cut + 7, len(data)), min(cut + 30, len(data))):
            stats = PeerStats()
            counter = OutCounter(stats.sent)
            for piece in (data[:cut], data[cut:second], data[second:]):
                if piece:
                    counter.feed(piece)
            assert stats.messages_out == EXPECTED, (cut, second)


def test_out_counter_one_byte_at_a_time() -> None:
    stats = PeerStats()
    counter = OutCounter(stats.sent)
    data = b"".join(STREAM * 3)
    for i in range(len(data)):
        counter.feed(data[i : i + 1])
    assert stats.messages_out == {k: 3 * v for k, v in EXPECTED.items()}


def test_notification_text() -> None:
    assert notification_text(Notification.shutdown("maintenance")) == "Cease/Administrative Shutdown: maintenance"
    assert notification_text(Notification(4, 0)) == "Hold Timer Expired/Unspecific"
    reset = Notification.hard_reset(Notification(4, 0))
    assert notification_text(reset).endswith("(Hold Timer Expired/Unspecific)")


def test_down_records_notifications_and_error() -> None:
    stats = PeerStats()
    stats.up(100.0)
    assert stats.established_at == 100.0 and stats.established_count == 1
    stats.down("peer sent Cease", None, Notification.shutdown("bye"), True, 200.0)
    assert stats.established_at is None
    assert stats.notifications_in == {(6, 2): 1} and stats.notifications_out == {}
    last = stats.last_notification_in
    assert last is not None and last.data == b"\x03bye" and last.text == "Cease/Administrative Shutdown: bye"
    assert last.time == 200.0 and stats.last_error == "peer sent Cease" and stats.last_error_time == 200.0
    # a connection that was never Established (a collision loser) leaves the up time alone
    stats.up(300.0)
    stats.down("collision", Notification(6, 7), None, False, 301.0)
    assert stats.established_at == 300.0 and stats.notifications_out == {(6, 7): 1}


CONFIG = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[[neighbor]]
address = "127.0.3.1"
remote_as = 65000
families = ["ipv4-unicast"]
passive = true
"""


async def test_runner_counts_a_real_session() -> None:
    got_update = asyncio.Event()

    def on_event(address: str, event: ft.Event) -> None:
        if isinstance(event, ft.UpdateReceived):
            got_update.set()

    speaker = Speaker(parse(CONFIG, "stats.toml"), on_event)
    await speaker.start()
    peer = RawPeer("127.0.3.1", "10.0.3.1")
    try:
        before = time.time()
        await peer.connect(speaker.port, [])
        runner = speaker.peers["127.0.3.1"]
        origin = b"\x40\x01\x01\x00"
        path = b"\x40\x02\x00"
        nh = b"\x40\x03\x04\x7f\x00\x03\x01"
        lp = b"\x40\x05\x04\x00\x00\x00\x64"
        await peer.send(KEEPALIVE + update(attrs=origin + path + nh + lp, nlri=b"\x18\xc6\x33\x64"))
        await asyncio.wait_for(got_update.wait(), 10)
        await peer.until(lambda: peer.eor)
        stats = runner.stats
        assert stats.established_count == 1
        assert stats.established_at is not None and before <= stats.established_at <= time.time()
        assert stats.messages_in["open"] == 1 and stats.messages_in["update"] == 1
        assert stats.messages_in["keepalive"] >= 2  # the one answering our OPEN, and ours
        assert stats.messages_out["open"] == 1 and stats.messages_out["keepalive"] >= 1
        assert stats.messages_out["update"] >= 1  # End-of-RIB at least
        await speaker.stop("maintenance")
        await peer.until(lambda: peer.notifications)
        assert stats.messages_out["notification"] == 1
        assert stats.notifications_out == {(6, 2): 1}
        last = stats.last_notification_out
        assert last is not None and last.text == "Cease/Administrative Shutdown: maintenance"
        assert stats.established_at is None and stats.last_error is not None
    finally:
        peer.crash()
        await speaker.stop()


RR = reflector_toml("127.0.3.0/24")


async def test_routing_core_updates_counted_as_the_peer_receives_them() -> None:
    """The routing core's writes (UPDATEs of a flush, a joining peer's table written in
    chunks of whole messages, End-of-RIB) are counted one per UPDATE: what the peer
    received, message for message."""
    speaker = Speaker(parse(RR, "rr.toml"))
    await speaker.start()
    a, b, c = RawPeer("127.0.3.11", "10.0.3.11"), RawPeer("127.0.3.12", "10.0.3.12"), RawPeer("127.0.3.13", "10.0.3.13")
    try:
        await a.connect(speaker.port, [])
        await b.connect(speaker.port, [])
        origin, path, lp = b"\x40\x01\x01\x00", b"\x40\x02\x00", b"\x40\x05\x04\x00\x00\x00\x64"
        # a distinct next hop per prefix: one UPDATE each, more than one 64 KiB chunk in all
        n = 3000
        msgs = [
            update(
                attrs=origin + path + b"\x40\x03\x04" + bytes((10, 3, i >> 8, i & 255)) + lp,
                nlri=bytes((24, 10, i >> 8, i & 255)),
            )
            for i in range(n)
        ]
        await a.send(b"".join(msgs))
        await b.until(lambda: len(b.routes) == n, 20)
        await c.connect(speaker.port, [])  # joins now: the whole table, then End-of-RIB
        await c.until(lambda: len(c.routes) == n and c.eor, 20)
        for peer in (b, c):
            received = len(peer.log)  # one entry per UPDATE: routes or End-of-RIB
            sent = speaker.peers[peer.source].stats.messages_out["update"]
            assert received >= n + 2  # the routes, End-of-RIB of both families
            assert sent == received, peer.source
    finally:
        for p in (a, b, c):
            p.crash()
        await speaker.stop()
