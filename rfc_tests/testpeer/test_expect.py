"""The scenario assertions over hand-made recordings (fake time): each passes on the
recording that satisfies it and fails, with a readable reason and the timeline of the peers
concerned, on the one that does not."""

from __future__ import annotations

import pytest

from pyspeaker.testpeer.expect import Expect, ExpectationFailed, timeline_of
from pyspeaker.testpeer.record import Recorder
from pyspeaker.wire import open as wopen
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from pyspeaker.wire.open import Open

V4, V6 = "192.0.2.10/32", "2001:db8::10/128"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Script:
    """Events at chosen times on a recorder with a fake clock."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.rec = Recorder(self.clock)
        self.marks: dict[str, float] = {}
        self.expect = Expect(self.rec, self.marks)

    def at(self, t: float, peer: str, kind: str, **data: object) -> None:
        self.clock.now = t
        self.rec.add(peer, kind, **data)

    def mark(self, t: float, name: str) -> None:
        self.at(t, "lab", "step", step=name)
        self.marks[name] = t

    def up(self, t: float, peer: str = "router") -> None:
        self.at(t, peer, "state", state="established")

    def down(self, t: float, peer: str = "router") -> None:
        self.at(t, peer, "state", state="closed", reason="the DUT closed the connection")

    def route(self, t: float, prefix: str, kind: str = "announce", peer: str = "router") -> None:
        fam = "ipv6-unicast" if ":" in prefix else "ipv4-unicast"
        self.at(t, peer, kind, family=fam, prefix=prefix)

    def eor(self, t: float, fam: str, peer: str = "router") -> None:
        self.at(t, peer, "eor", family=fam)


def dut_restarts(withdraw: str | None = None, refresh: tuple[str, ...] = (V4, V6), eor: bool = True) -> Script:
    """A DUT announcing two service routes, restarting (session lost at t=10, back at t=15),
    re-announcing ``refresh`` and sending End-of-RIB at t=16."""
    s = Script()
    s.up(1)
    s.route(2, V4)
    s.route(2, V6)
    s.eor(2.5, "ipv4-unicast")
    s.eor(2.5, "ipv6-unicast")
    s.down(10)
    s.up(15)
    if withdraw:
        s.route(15.2, withdraw, "withdraw")
    for p in refresh:
        s.route(15.5, p)
    if eor:
        s.eor(16, "ipv4-unicast")
        s.eor(16, "ipv6-unicast")
    return s


def test_kept_and_refreshed_through_the_dut_restart() -> None:
    s = dut_restarts()
    s.expect.kept("router", [V4, V6], refreshed=True)
    s.expect.kept("router", [V4, V6], after=9.0)


def test_kept_fails_on_a_withdrawal_before_end_of_rib() -> None:
    s = dut_restarts(withdraw=V4)
    with pytest.raises(ExpectationFailed) as info:
        s.expect.kept("router", [V4, V6])
    msg = str(info.value)
    assert "192.0.2.10/32 was withdrawn at t=15.200" in msg
    assert "--- timeline ---" in msg and "withdraw               ipv4-unicast 192.0.2.10/32" in msg
    assert isinstance(info.value, AssertionError)


def test_kept_refreshed_fails_when_a_route_is_not_announced_again() -> None:
    s = dut_restarts(refresh=(V6,))
    s.expect.kept("router", [V4, V6])  # nothing withdrawn...
    with pytest.raises(ExpectationFailed, match=r"192\.0\.2\.10/32 was not announced again between t=15\.000"):
        s.expect.kept("router", [V4, V6], refreshed=True)  # ...but V4 was not refreshed


def test_kept_fails_without_end_of_rib_or_without_a_restart() -> None:
    with pytest.raises(ExpectationFailed, match=r"no End-of-RIB for ipv4-unicast after t=10\.000"):
        dut_restarts(eor=False).expect.kept("router", [V4])
    s = Script()
    s.up(1)
    s.route(2, V4)
    with pytest.raises(ExpectationFailed, match="session was never lost"):
        s.expect.kept("router", [V4])
    with pytest.raises(ExpectationFailed, match="was not held by the DUT"):
        dut_restarts().expect.kept("router", ["198.51.100.0/24"])


def test_no_withdrawals_in_a_window_between_marks() -> None:
    s = Script()
    s.up(1, "observer")
    s.route(2, "10.1.0.0/24", peer="observer")
    s.route(2, "10.2.0.0/24", peer="observer")
    s.mark(5, "restart")
    s.mark(8, "eor")
    s.route(8.5, "10.2.0.0/24", "withdraw", peer="observer")
    s.expect.no_withdrawals("observer", after="restart", until="eor")
    s.expect.no_withdrawals("observer", after="restart", prefixes=["10.1.0.0/24"])
    with pytest.raises(ExpectationFailed) as info:
        s.expect.no_withdrawals("observer", after="restart")
    assert "between step 'restart' (t=5.000) and the end: 1 withdrawn: 10.2.0.0/24 at t=8.500" in str(info.value)
    with pytest.raises(ExpectationFailed, match="no step named 'later' was run"):
        s.expect.no_withdrawals("observer", after="later")


def test_withdrawn_within_seconds_after_a_mark() -> None:
    s = Script()
    s.route(1, "10.1.0.0/24", peer="observer")
    s.route(1, "10.2.0.0/24", peer="observer")
    s.route(1, "10.3.0.0/24", peer="observer")
    s.mark(10, "eor")
    s.route(11, "10.1.0.0/24", "withdraw", peer="observer")
    s.route(40, "10.2.0.0/24", "withdraw", peer="observer")
    s.expect.withdrawn_within("observer", ["10.1.0.0/24"], 2, after="eor")
    with pytest.raises(ExpectationFailed) as info:
        s.expect.withdrawn_within("observer", ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"], 5, after="eor")
    msg = str(info.value)
    assert "10.2.0.0/24 was withdrawn 30.000 s after, at t=40.000" in msg
    assert "10.3.0.0/24 was not withdrawn" in msg
    assert "10.1.0.0/24" not in msg.split("\n")[0].split(":", 2)[2]  # the one in time is not blamed
    s.mark(50, "late")
    with pytest.raises(ExpectationFailed, match=r"not there to withdraw \(already withdrawn at t=11.000\)"):
        s.expect.withdrawn_within("observer", ["10.1.0.0/24"], 5, after="late")


def _open_with(cap: wopen.Capability | None) -> bytes:
    caps = [wopen.multiprotocol(IPV4_UNICAST), wopen.multiprotocol(IPV6_UNICAST)]
    if cap is not None:
        caps.append(cap)
    return Open.build(65002, 9, "10.77.1.2", caps).encode()


def test_open_gr_reads_the_capability_from_the_raw_open() -> None:
    s = Script()
    frr = wopen.graceful_restart(120, [(IPV4_UNICAST, 0x80), (IPV6_UNICAST, 0x00)], restarting=True, notification=True)
    s.at(1, "router", "open-received", raw=_open_with(None))
    s.mark(5, "restart")
    s.at(6, "router", "open-received", raw=_open_with(frr))
    s.expect.open_gr("router", after="restart", restarting=True, notification=True, restart_time=120)
    s.expect.open_gr("router", after="restart", forwarding={IPV4_UNICAST: True, "ipv6-unicast": False})
    with pytest.raises(ExpectationFailed) as info:
        s.expect.open_gr("router", after="restart", restarting=False, forwarding={IPV6_UNICAST: True})
    msg = str(info.value)
    assert "R=1, F=0 for ipv6-unicast" in msg and "c078000101800002010" in msg
    with pytest.raises(ExpectationFailed, match="has no graceful restart capability"):
        s.expect.open_gr("router", restarting=True)  # the first OPEN had none
    with pytest.raises(ExpectationFailed, match=r"no OPEN from the DUT after t=7\.000"):
        s.expect.open_gr("router", after=7.0)


def test_routes_eor_notification_established() -> None:
    s = dut_restarts(withdraw=V4, refresh=(V6,))
    s.expect.routes("router", [V6])
    s.expect.routes("router", [V4], present=False)
    with pytest.raises(ExpectationFailed, match=r"missing: 192\.0\.2\.10/32"):
        s.expect.routes("router", [V4, V6])
    s.expect.eor("router", [IPV4_UNICAST, "ipv6-unicast"], after=12)
    with pytest.raises(ExpectationFailed, match="none for ipv4-unicast"):
        s.expect.eor("router", [IPV4_UNICAST], after=17)
    s.expect.established("router", after=12)
    with pytest.raises(ExpectationFailed, match="it was not"):
        s.expect.established("router", after=20)
    with pytest.raises(ExpectationFailed, match="received: none"):
        s.expect.notification("router", 6)
    s.at(30, "router", "notification-received", code=6, subcode=4, name="Cease / Peer De-configured", data=b"")
    s.expect.notification("router", 6, 4)
    with pytest.raises(ExpectationFailed, match="received: 6/4"):
        s.expect.notification("router", 6, 2)


def test_failure_timeline_keeps_other_peers_steps_but_not_their_routes() -> None:
    s = Script()
    s.route(1, "10.9.0.0/24", peer="speaker-view")
    s.at(2, "speaker", "fault", fault="crash")
    s.route(3, "10.1.0.0/24", peer="observer")
    s.mark(4, "restart")
    text = timeline_of(s.rec, ["observer"])
    assert "10.1.0.0/24" in text and "crash" in text and "restart" in text
    assert "10.9.0.0/24" not in text
    for i in range(500):
        s.route(5 + i, f"10.{i // 250}.{i % 250}.0/24", peer="observer")
    lines = timeline_of(s.rec, ["observer"], limit=40).splitlines()
    assert len(lines) == 41 and "events not shown" in lines[10]
    assert lines[-1].endswith("10.1.249.0/24 via None")
