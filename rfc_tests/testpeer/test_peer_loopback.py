"""The test peer against pyspeaker's own Speaker on loopback: the DUT's OPEN recorded byte
for byte, routes arriving and going in ``routes`` and in the recording, a crash seen by the
Speaker as a graceful restart (routes kept stale), silence ended by the Speaker's hold
timer, NOTIFICATIONs both ways, Hard Reset, a return with F=0, back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pyspeaker.config.load import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer import GrSpec, Recorder, SessionFailed, TestPeer
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from pyspeaker.wire.open import decode_open
from rfc_tests.loopback import reflector_toml

RR = reflector_toml("127.0.5.0/24")


class Dut:
    def __init__(self) -> None:
        self.events: list[tuple[str, ft.Event]] = []
        self.speaker = Speaker(parse(RR, "rr.toml"), self._on_event)
        self.down = asyncio.Event()

    def _on_event(self, address: str, event: ft.Event) -> None:
        self.events.append((address, event))
        if isinstance(event, ft.SessionDown):
            self.down.set()


@pytest.fixture
async def dut() -> AsyncIterator[Dut]:
    d = Dut()
    await d.speaker.start()
    try:
        yield d
    finally:
        await d.speaker.stop()


def peer(d: Dut, i: int, rec: Recorder, **kw: object) -> TestPeer:
    return TestPeer(
        "127.0.0.1",
        port=d.speaker.port,
        asn=65000,
        dut_asn=65000,
        router_id=f"10.0.5.{i}",
        local_address=f"127.0.5.{i}",
        next_hop6="fd00::5",
        recorder=rec,
        name=f"p{i}",
        **kw,  # type: ignore[arg-type]
    )


async def test_dut_open_recorded_byte_for_byte(dut: Dut) -> None:
    rec = Recorder()
    a = peer(dut, 1, rec)
    try:
        await a.connect()
        assert a.established and a.dut_open is not None
        (ev,) = rec.of("open-received", "p1")
        assert ev.data["raw"] == a.dut_open_raw
        assert decode_open(a.dut_open_raw).encode() == a.dut_open_raw
        assert ev.data["asn"] == 65000 and ev.data["bgp_id"] == "10.255.0.1"
        codes = [cap["code"] for cap in ev.data["capabilities"]]
        assert codes == [cap.code for cap in a.dut_open.capabilities]
        gr = [cap for cap in ev.data["capabilities"] if cap["code"] == 64]
        assert gr and gr[0]["raw"] == a.dut_open.graceful_restart().raw.hex()  # type: ignore[union-attr]
        (sent,) = rec.of("open-sent", "p1")
        assert sent.data["raw"] == a.open_sent_raw and decode_open(sent.data["raw"]).asn == 65000
        states = [e.data["state"] for e in rec.of("state", "p1")]
        assert states == ["connecting", "open-sent", "open-confirm", "established"]
        await a.wait(lambda: IPV4_UNICAST in a.eor_received, 5, "End-of-RIB from the speaker")
    finally:
        await a.close()


async def test_routes_arrive_and_go(dut: Dut) -> None:
    rec = Recorder()
    a, b = peer(dut, 1, rec), peer(dut, 2, rec)
    try:
        await a.connect()
        await b.connect()
        await a.announce(["10.1.0.0/24", "10.2.0.0/24"], med=7)
        await a.announce(["2001:db8:1::/48"])
        await b.wait(lambda: len(b.routes[IPV4_UNICAST]) == 2, 5, "two IPv4 routes at b")
        await b.wait(lambda: "2001:db8:1::/48" in b.routes[IPV6_UNICAST], 5, "the IPv6 route at b")
        r = b.routes[IPV4_UNICAST]["10.1.0.0/24"]
        assert r.attrs is not None and r.attrs.med == 7 and r.next_hop == "127.0.5.1"
        assert b.routes[IPV6_UNICAST]["2001:db8:1::/48"].next_hop.startswith("fd00::5")
        arrived = rec.first("announce", "p2", prefix="10.1.0.0/24")
        assert arrived is not None and arrived.data["family"] == "ipv4-unicast"
        await a.announce(["10.1.0.0/24"], med=8)
        await b.wait(lambda: b.routes[IPV4_UNICAST]["10.1.0.0/24"].attrs.med == 8, 5, "the change")  # type: ignore[union-attr]
        assert rec.first("change", "p2", prefix="10.1.0.0/24") is not None
        await a.withdraw(["10.2.0.0/24"])
        await b.wait(lambda: "10.2.0.0/24" not in b.routes[IPV4_UNICAST], 5, "the withdrawal at b")
        kinds = [e.kind for e in rec.route_history("10.2.0.0/24", "p2")]
        assert kinds == ["announce", "withdraw"]
        assert [e.kind for e in rec.route_history("10.1.0.0/24", "p2")] == ["announce", "change"]
    finally:
        await a.close()
        await b.close()


async def test_crash_is_a_graceful_restart_for_the_speaker(dut: Dut) -> None:
    rec = Recorder()
    a = peer(dut, 1, rec, graceful_restart=GrSpec(restart_time=60, families={IPV4_UNICAST: 0x80}))
    b = peer(dut, 2, rec)
    try:
        await a.connect()
        await b.connect()
        await a.announce(["10.1.0.0/24", "10.2.0.0/24"])
        await a.end_of_rib(IPV4_UNICAST)
        await b.wait(lambda: len(b.routes[IPV4_UNICAST]) == 2, 5, "a's routes at b")
        a.crash()
        assert a.closed and not a.established
        await asyncio.wait_for(dut.down.wait(), 10)
        assert dut.speaker.router.retained["127.0.5.1"].stale_count(IPV4_UNICAST) == 2
        assert rec.select("withdraw", "p2") == []
        (crash,) = rec.faults("p1")
        assert crash.data["fault"] == "crash"
        spec = await a.restart_gracefully()
        assert spec.restarting and spec.families == {IPV4_UNICAST: 0x80}
        seen = dut.speaker.neighbor("127.0.5.1")["graceful_restart"]["received"]
        assert seen["raw"] == spec.capability().raw.hex()
        await a.announce(["10.1.0.0/24"])
        await a.end_of_rib(IPV4_UNICAST)
        await b.wait(lambda: set(b.routes[IPV4_UNICAST]) == {"10.1.0.0/24"}, 5, "the stale route swept")
        assert [e.kind for e in rec.route_history("10.1.0.0/24", "p2")] == ["announce"]
    finally:
        await a.close()
        await b.close()


async def test_return_with_f_0_flushes(dut: Dut) -> None:
    rec = Recorder()
    a = peer(dut, 1, rec, graceful_restart=GrSpec(restart_time=60, families={IPV4_UNICAST: 0x80}))
    b = peer(dut, 2, rec)
    try:
        await a.connect()
        await b.connect()
        await a.announce(["10.1.0.0/24"])
        await b.wait(lambda: "10.1.0.0/24" in b.routes[IPV4_UNICAST], 5, "a's route at b")
        await a.restart_gracefully(families={IPV4_UNICAST: 0x00})
        await b.wait(lambda: "10.1.0.0/24" not in b.routes[IPV4_UNICAST], 5, "the flush")
        gr = a.open_message().capabilities[-1]
        assert gr.code == 64 and gr.raw[-1] == 0x00 and gr.raw[0] & 0x80
    finally:
        await a.close()
        await b.close()


async def test_silence_ends_in_the_speakers_hold_timer(dut: Dut) -> None:
    rec = Recorder()
    a = peer(dut, 1, rec, hold_time=3)
    try:
        await a.connect()
        assert a.negotiated_hold == 3
        a.go_silent()
        await a.wait(lambda: a.closed, 10, "the DUT's hold timer")
        n = a.notification_received
        assert n is not None and (n.code, n.subcode) == (4, 0)
        ev = rec.last("notification-received", "p1")
        assert ev is not None and ev.data["name"] == "Hold Timer Expired / Unspecific"
        assert ev.t - rec.first("fault", "p1", fault="go-silent").t > 0  # type: ignore[union-attr]
    finally:
        await a.close()


async def test_notifications_both_ways(dut: Dut) -> None:
    rec = Recorder()
    wrong = TestPeer(
        "127.0.0.1",
        port=dut.speaker.port,
        asn=65009,
        router_id="10.0.5.3",
        local_address="127.0.5.3",
        recorder=rec,
        name="wrong",
    )
    with pytest.raises(SessionFailed) as failed:
        await wrong.connect()
    assert failed.value.notification is not None and failed.value.notification.code == 2
    assert rec.last("notification-received", "wrong").data["code"] == 2  # type: ignore[union-attr]

    a = peer(dut, 1, rec)
    await a.connect()
    dut.down.clear()
    await a.notify(6, 4, b"")
    await asyncio.wait_for(dut.down.wait(), 5)
    ev = rec.last("notification-sent", "p1")
    assert ev is not None and (ev.data["code"], ev.data["subcode"]) == (6, 4)
    assert ev.data["name"] == "Cease / Administrative Reset"
    assert a.closed
    downs = [e for addr, e in dut.events if addr == "127.0.5.1" and isinstance(e, ft.SessionDown)]
    assert downs


async def test_hard_reset_removes_routes_at_once(dut: Dut) -> None:
    rec = Recorder()
    a = peer(dut, 1, rec, graceful_restart=GrSpec(restart_time=60, families={IPV4_UNICAST: 0x80}))
    b = peer(dut, 2, rec)
    try:
        await a.connect()
        await b.connect()
        await a.announce(["10.1.0.0/24"])
        await b.wait(lambda: "10.1.0.0/24" in b.routes[IPV4_UNICAST], 5, "a's route at b")
        await a.hard_reset()
        sent = rec.last("notification-sent", "p1")
        assert sent is not None and (sent.data["code"], sent.data["subcode"]) == (6, 9)
        assert sent.data["data"] == b"\x06\x02"
        await b.wait(lambda: "10.1.0.0/24" not in b.routes[IPV4_UNICAST], 5, "Hard Reset: routes withdrawn")
    finally:
        await a.close()
        await b.close()


async def test_stop_reading_then_resume(dut: Dut) -> None:
    rec = Recorder()
    a, b = peer(dut, 1, rec), peer(dut, 2, rec, record_routes=False)
    try:
        await a.connect()
        await b.connect()
        b.stop_reading()
        table = [f"10.{i >> 8}.{i & 255}.0/24" for i in range(2000)]
        await a.announce_table(table, eor="none")
        assert len(b.routes[IPV4_UNICAST]) < len(table)  # nothing read while paused (the buffers hold the rest)
        b.resume_reading()
        await b.wait(lambda: len(b.routes[IPV4_UNICAST]) == len(table), 10, "the whole table at b")
        assert [e.data["fault"] for e in rec.faults("p2")] == ["stop-reading", "resume-reading"]
        assert rec.select("announce", "p2") == []  # record_routes=False
    finally:
        await a.close()
        await b.close()


async def test_withheld_and_released_end_of_rib(dut: Dut) -> None:
    rec = Recorder()
    a = peer(dut, 1, rec)
    try:
        await a.connect()
        a.withhold_end_of_rib(IPV4_UNICAST)
        await a.end_of_rib(IPV4_UNICAST)
        assert rec.select("sent", "p1", what="eor") == []
        assert rec.last("fault", "p1").data["fault"] == "eor-held-back"  # type: ignore[union-attr]
        await a.release_end_of_rib(IPV4_UNICAST)
        (eor,) = rec.select("sent", "p1", what="eor")
        assert eor.data["family"] == "ipv4-unicast"
        await a.flap("10.9.0.0/24", count=2, rate=50)
        flaps = rec.select("sent", "p1", what="withdraw")
        assert len(flaps) == 2 and a.sent_routes[IPV4_UNICAST].keys() == {"10.9.0.0/24"}
    finally:
        await a.close()


async def test_refused_connection_is_a_session_failure() -> None:
    rec = Recorder()
    a = TestPeer("127.0.0.1", port=1, asn=65000, router_id="10.0.5.9", recorder=rec)
    with pytest.raises(SessionFailed, match="TCP connect"):
        await a.connect(timeout=2)
    assert a.closed and rec.last("state").data["state"] == "closed"  # type: ignore[union-attr]


async def test_encoded_messages_at_a_rate_and_consecutive_restarts(dut: Dut) -> None:
    """A table given as encoded UPDATEs (what the corpus generator or an MRT reader yields),
    then two restarts in a row inside the restart window: the Speaker keeps the routes."""
    from pyspeaker.wire import pack
    from pyspeaker.wire.attrs import build
    from pyspeaker.wire.prefix import parse as wire
    from pyspeaker.wire.values import AsPath

    rec = Recorder()
    a = peer(dut, 1, rec, graceful_restart=GrSpec(restart_time=60, families={IPV4_UNICAST: 0x80}))
    b = peer(dut, 2, rec, record_routes=False)
    try:
        await a.connect()
        await b.connect()
        attrs = build(origin=0, as_path=AsPath(), next_hop="127.0.5.1", local_pref=100).raw
        messages = [m for i in range(10) for m in pack.announce_ipv4(attrs, [wire(f"10.40.{i}.0/24")])]
        assert await a.send_messages(iter(messages), rate=1000) == 10
        sent = rec.last("sent", "p1")
        assert sent is not None and sent.data["what"] == "messages" and sent.data["count"] == 10
        await b.wait(lambda: len(b.routes[IPV4_UNICAST]) == 10, 5, "the ten routes at b")
        specs = await a.restarts(2, interval=0.05)
        assert [s.restarting for s in specs] == [True, True] and a.established and a.sessions == 3
        assert [e.data["fault"] for e in rec.faults("p1")].count("graceful-restart") == 2
        state = dut.speaker.router.peer("127.0.5.1")
        assert state is not None and state.stale_count(IPV4_UNICAST) == 10
        assert len(b.routes[IPV4_UNICAST]) == 10  # nothing withdrawn at b through both restarts
        await a.end_of_rib(IPV4_UNICAST, delay=0.05)
        await b.wait(lambda: not b.routes[IPV4_UNICAST], 5, "the stale routes swept at End-of-RIB")
        assert rec.first("fault", "p1", fault="delay-eor") is not None
    finally:
        await a.close()
        await b.close()


async def test_crash_with_rst_and_a_broken_open(dut: Dut) -> None:
    from pyspeaker.testpeer import mutate

    rec = Recorder()
    a = peer(dut, 1, rec)
    await a.connect()
    dut.down.clear()
    a.crash(rst=True)
    await asyncio.wait_for(dut.down.wait(), 5)
    assert rec.last("fault", "p1").data == {"fault": "crash", "rst": True}  # type: ignore[union-attr]
    bad = mutate.set_byte(a.open_message().encode(), 19, 3)  # BGP version 3
    with pytest.raises(SessionFailed) as failed:
        await a.connect(open_message=bad)
    n = failed.value.notification
    assert n is not None and (n.code, n.subcode) == (2, 1)  # Unsupported Version Number
    assert rec.last("open-sent", "p1").data["raw"] == bad  # type: ignore[union-attr]


async def test_a_local_address_not_on_this_host() -> None:
    a = TestPeer("127.0.0.1", port=179, asn=65000, router_id="10.0.5.9", local_address="192.0.2.77")
    with pytest.raises(SessionFailed) as failed:
        await a.connect(timeout=2)
    assert failed.value.local and "cannot use local address 192.0.2.77" in failed.value.reason


def test_default_attributes_follow_the_dut_as_from_its_open() -> None:
    """Without dut_asn the session's kind comes from the DUT's OPEN: eBGP gets our AS in the
    AS_PATH and no LOCAL_PREF; iBGP an empty AS_PATH and LOCAL_PREF 100."""
    from pyspeaker.wire.attrs import AttrSet
    from pyspeaker.wire.open import Open

    p = TestPeer("192.0.2.1", asn=65001, router_id="192.0.2.2")
    p.dut_open = Open.build(65002, 90, "192.0.2.1", [])
    raw, mp_nh = p._attrs_for(IPV4_UNICAST, "192.0.2.2", {})
    ebgp = AttrSet(raw)
    assert ebgp.as_path.asns() == [65001] and ebgp.local_pref is None and mp_nh == b""
    p.dut_open = Open.build(65001, 90, "192.0.2.1", [])
    ibgp = AttrSet(p._attrs_for(IPV4_UNICAST, "192.0.2.2", {})[0])
    assert ibgp.as_path.asns() == [] and ibgp.local_pref == 100


def test_connect_under_uvloop_when_the_dut_sends_its_open_at_once() -> None:
    """A DUT that sends its OPEN as soon as it accepts (pyspeaker, BIRD, FRR): under uvloop
    that OPEN can arrive before connect() has sent ours; it must be taken after ours, not
    answered with an FSM error."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> list[str]:
        d = Dut()
        await d.speaker.start()
        states = []
        try:
            for i in range(1, 6):
                rec = Recorder()
                p = peer(d, 10 + i, rec)
                try:
                    await p.connect()
                    states.append(p.state)
                finally:
                    await p.close()
        finally:
            await d.speaker.stop()
        return states

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == ["established"] * 5
