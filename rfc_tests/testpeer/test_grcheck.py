"""Verdicts of `pyspeaker check gr` from hand-made recordings: each one passes for a DUT that
behaves and fails (or warns) for one that does not; the DUT's OPEN analysed from the bytes
BIRD, GoBGP and FRR send (docs/interop.md)."""

from __future__ import annotations

from typing import Any

import pytest

from pyspeaker.cli import main
from pyspeaker.testpeer import grcheck as g
from pyspeaker.testpeer.record import Recorder
from pyspeaker.wire import open as wopen
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST

A = ["198.18.10.0/24", "198.18.11.0/24"]
B = ["198.18.20.0/24"]
ALL = A + B


class Script:
    """A recording written at chosen times."""

    def __init__(self) -> None:
        self.now = 0.0
        self.rec = Recorder(lambda: self.now)

    def at(self, t: float, peer: str, kind: str, **data: Any) -> Script:
        self.now = t
        self.rec.add(peer, kind, **data)
        return self

    def mark(self, t: float, step: str, at: str, **data: Any) -> Script:
        return self.at(t, g.CHECK, "mark", step=step, at=at, **data)

    def withdraw(self, t: float, *prefixes: str) -> Script:
        for p in prefixes:
            self.at(t, g.OBSERVER, "withdraw", family="ipv4-unicast", prefix=p)
        return self


def test_retained_on_crash() -> None:
    ok = Script().mark(1, "crash", "crash").mark(4, "crash", "end")
    v = g.retained_on_crash(ok.rec, ALL)
    assert v.status == g.PASS and "kept" in v.detail and v.evidence["watched_s"] == 3
    bad = Script().mark(1, "crash", "crash").withdraw(1.2, *ALL).mark(4, "crash", "end")
    v = g.retained_on_crash(bad.rec, ALL)
    assert v.status == g.FAIL and "0.20 s after" in v.detail and len(v.evidence["withdrawn"]) == 3
    lost = Script().mark(1, "crash", "crash").at(2, g.OBSERVER, "state", state="closed", reason="x")
    lost.mark(4, "crash", "end")
    assert g.retained_on_crash(lost.rec, ALL).status == g.SKIP
    assert g.retained_on_crash(Recorder(), ALL).status == g.SKIP


def sweep(*withdrawals: tuple[float, str]) -> list[g.Verdict]:
    s = Script().mark(0, "sweep", "crash").mark(1, "sweep", "up").mark(2, "sweep", "eor")
    for t, p in withdrawals:
        s.withdraw(t, p)
    s.mark(5, "sweep", "end")
    return g.swept_at_end_of_rib(s.rec, A, B)


def test_sweep_at_end_of_rib() -> None:
    swept, kept = sweep((2.1, B[0]))
    assert (swept.status, kept.status) == (g.PASS, g.PASS)
    assert "0.10 s after our End-of-RIB" in swept.detail
    early, _ = sweep((1.5, B[0]))
    assert early.status == g.FAIL and "before our End-of-RIB" in early.detail
    never, _ = sweep()
    assert never.status == g.FAIL and never.evidence["still_there"] == B
    assert "did not negotiate" not in never.detail
    _, churned = sweep((2.1, B[0]), (2.1, A[0]))
    assert churned.status == g.FAIL and churned.evidence["withdrawn"][0]["prefix"] == A[0]


def test_flush_on_f0() -> None:
    def run(*withdrawals: tuple[float, str]) -> g.Verdict:
        s = Script().mark(0, "f0", "crash").mark(1, "f0", "up")
        for t, p in withdrawals:
            s.withdraw(t, p)
        s.mark(4, "f0", "end")
        return g.flushed_on_f0(s.rec, ALL, ["ipv4-unicast"])

    assert run(*[(1.1, p) for p in ALL]).status == g.PASS
    kept = run()
    assert kept.status == g.FAIL and "F=0" in kept.detail and kept.evidence["still_there"] == sorted(ALL)
    assert run((0.5, A[0])).status == g.SKIP  # not retained at all: F=0 untestable


def test_restart_time() -> None:
    def run(*withdrawals: tuple[float, str]) -> g.Verdict:
        s = Script().mark(10, "expiry", "crash")
        for t, p in withdrawals:
            s.withdraw(t, p)
        s.mark(20, "expiry", "end")
        return g.restart_time_honoured(s.rec, ALL, 5)

    ok = run(*[(15.1, p) for p in ALL])
    assert ok.status == g.PASS and "5.10 s after the crash" in ok.detail
    early = run(*[(11, p) for p in ALL])
    assert early.status == g.FAIL and "before our restart time" in early.detail
    never = run()
    assert never.status == g.FAIL and "past our restart time" in never.detail


def test_second_restart() -> None:
    def run(*withdrawals: tuple[float, str]) -> g.Verdict:
        s = Script().mark(0, "double", "crash1").mark(0.1, "double", "up1").mark(0.2, "double", "crash2")
        for t, p in withdrawals:
            s.withdraw(t, p)
        s.mark(2, "double", "eor").mark(3, "double", "end")
        return g.second_restart(s.rec, ALL)

    assert run().status == g.PASS
    flushed = run((0.3, A[0]))
    assert flushed.status == g.WARN and "after the second crash" in flushed.detail


def test_notification_and_n_bit() -> None:
    def run(n: bool, *withdrawals: tuple[float, str]) -> g.Verdict:
        s = Script().mark(0, "cease", "sent", code=6, subcode=4)
        for t, p in withdrawals:
            s.withdraw(t, p)
        s.mark(3, "cease", "end")
        return g.notification_keeps(s.rec, ALL, n)

    assert run(True).status == g.PASS
    assert run(True, (0.2, A[0])).status == g.FAIL
    assert run(False, (0.2, A[0])).status == g.PASS
    assert run(False).status == g.WARN


def test_hard_reset() -> None:
    def run(*withdrawals: tuple[float, str]) -> g.Verdict:
        s = Script().mark(0, "hard-reset", "sent")
        for t, p in withdrawals:
            s.withdraw(t, p)
        s.mark(3, "hard-reset", "end")
        return g.hard_reset_removes(s.rec, ALL)

    assert run(*[(0.1, p) for p in ALL]).status == g.PASS
    kept = run((0.1, A[0]))
    assert kept.status == g.FAIL and set(kept.evidence["still_there"]) == {A[1], B[0]}


def test_dut_end_of_rib() -> None:
    s = Script().at(0, g.PEER, "state", state="established").at(0.5, g.PEER, "eor", family="ipv4-unicast")
    assert g.dut_end_of_rib(s.rec, ["ipv4-unicast"]).status == g.PASS
    v = g.dut_end_of_rib(s.rec, ["ipv4-unicast", "ipv6-unicast"])
    assert v.status == g.WARN and v.evidence["missing"] == ["ipv6-unicast"]


def dut_open(
    gr_hex: str | None,
    families: tuple[Any, ...] = (IPV4_UNICAST, IPV6_UNICAST),
    hold: int = 9,
    extra: tuple[wopen.Capability, ...] = (),
) -> wopen.Open:
    caps = [wopen.multiprotocol(f) for f in families] + [wopen.four_octet_as(65002)]
    if gr_hex is not None:
        raw = bytes.fromhex(gr_hex)
        caps.append(wopen.Capability(raw[0], raw[2:]))
    return wopen.Open.build(65002, hold, "10.77.1.2", caps + list(extra))


def by_key(verdicts: list[g.Verdict]) -> dict[str, g.Verdict]:
    return {v.key: v for v in verdicts}


def test_open_of_bird_on_a_normal_start() -> None:
    v = by_key(g.analyse_open(dut_open("400a00780001010000020100", extra=(wopen.long_lived_gr([]),))))
    assert v["open-r-bit"].status == g.PASS
    assert v["open-f-bits"].status == g.PASS and "normal start: correct" in v["open-f-bits"].detail
    assert v["open-restart-time"].status == g.INFO and "above the hold time 9" in v["open-restart-time"].detail
    assert v["open-n-bit"].detail.startswith("N=0")
    assert "LLGR-aware" in v["open-llgr"].detail
    assert v["open-gr"].evidence["raw"] == "400a00780001010000020100"


def test_open_after_a_restart_with_f_0_warns() -> None:
    v = by_key(g.analyse_open(dut_open("4006c0780001010" + "0", families=(IPV4_UNICAST,))))  # FRR
    assert v["open-r-bit"].status == g.WARN
    assert v["open-f-bits"].status == g.WARN and "flush its routes" in v["open-f-bits"].detail
    assert v["open-n-bit"].detail.startswith("N=1")
    after = by_key(g.analyse_open(dut_open("400a80780001018000020180")))  # BIRD after `birdc graceful restart`
    assert after["open-f-bits"].status == g.PASS and after["open-r-bit"].status == g.WARN


def test_open_gr_families_and_missing_gr() -> None:
    v = by_key(g.analyse_open(dut_open("400a00780001010000020100", families=(IPV4_UNICAST,))))
    assert v["open-gr-families"].status == g.WARN and "ipv6-unicast" in v["open-gr-families"].detail
    (none,) = g.analyse_open(dut_open(None))
    assert none.key == "open-gr" and none.status == g.FAIL
    zero = by_key(g.analyse_open(dut_open("40020000")))
    assert zero["open-restart-time"].status == g.WARN and zero["open-gr"].status == g.INFO


def test_table_and_overall() -> None:
    ok = g.Verdict("a", "RFC 4724 4.2", "one", g.PASS, "fine", {"raw": b"\x01"})
    bad = g.Verdict("b", "RFC 8538 3", "two", g.FAIL, "broken")
    assert g.overall([ok]) == g.PASS and g.overall([ok, bad]) == g.FAIL
    text = g.render_table([ok, bad])
    assert "PASS    RFC 4724 4.2  one" in text and "evidence: raw=01" in text
    assert text.splitlines()[-1] == "FAIL: 1 pass, 1 fail"
    assert ok.to_json()["evidence"] == {"raw": "01"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dut", "nonsense", "--asn", "1"], "--dut: 'nonsense' is not an IP address"),
        (["--dut", "127.0.0.1", "--asn", "0"], "--asn: 0 is not an AS number"),
        (["--dut", "127.0.0.1", "--asn", "1", "--family", "ipv9"], "--family: unknown address family"),
        (["--dut", "127.0.0.1", "--asn", "1", "--restart-time", "5000"], "--restart-time: 5000 outside"),
    ],
)
def test_cli_refuses_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "gr", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_f0_flush_counted_from_the_open_that_came_up() -> None:
    s = Script().mark(0, "f0", "crash").at(0.5, g.PEER, "open-sent").at(0.9, g.PEER, "open-sent")
    s.withdraw(0.95, *ALL).mark(1, "f0", "up").mark(3, "f0", "end")
    v = g.flushed_on_f0(s.rec, ALL, ["ipv4-unicast"])
    assert v.status == g.PASS and v.evidence["open_sent_after_s"] == 0.9


def test_a_return_after_the_restart_time_proves_nothing() -> None:
    s = Script().mark(0, "sweep", "crash").withdraw(4, B[0]).mark(7, "sweep", "up").mark(8, "sweep", "eor")
    s.mark(9, "sweep", "end")
    for v in g.swept_at_end_of_rib(s.rec, A, B, restart_time=4):
        assert v.status == g.SKIP and "past our restart time of 4 s" in v.detail
    assert g.swept_at_end_of_rib(s.rec, A, B)[0].status == g.FAIL  # without the restart time: early sweep


def returns_script(*downs: tuple[float, int, float]) -> Recorder:
    """(down at, attempts, up at) after a first session."""
    s = Script().at(0, g.PEER, "state", state="connecting").at(0.1, g.PEER, "state", state="established")
    for down, attempts, up in downs:
        s.at(down, g.PEER, "state", state="closed")
        for i in range(attempts):
            s.at(down + 0.01 * (i + 1), g.PEER, "state", state="connecting")
            if i + 1 < attempts:
                s.at(down + 0.01 * (i + 1), g.PEER, "state", state="closed")
        s.at(up, g.PEER, "state", state="established")
    return s.rec


def test_return_accepted() -> None:
    back = g.returns(returns_script((1, 1, 1.1), (2, 3, 4)))
    assert [(r["down_at"], r["attempts"], r["since_down_s"]) for r in back] == [(1, 1, 0.1), (2, 3, 2.0)]
    assert back[1]["after_s"] == 1.99  # from the first attempt, 0.01 s after the end
    assert g.return_accepted(returns_script((1, 1, 1.1)), 5).status == g.PASS
    assert g.return_accepted(returns_script((1, 1, 9)), 5).status == g.PASS  # away on purpose, accepted at once
    assert g.return_accepted(returns_script((1, 3, 3)), 5).status == g.INFO
    slow = g.return_accepted(returns_script((1, 8, 8)), 5)
    assert slow.status == g.WARN and "(8 attempts) until 7.0 s after our session ended" in slow.detail
    assert g.return_accepted(Recorder(), 5).status == g.SKIP


def test_sweep_failure_names_families_not_negotiated() -> None:
    s = Script().mark(0, "sweep", "crash").mark(1, "sweep", "up").mark(2, "sweep", "eor").mark(5, "sweep", "end")
    v, _ = g.swept_at_end_of_rib(s.rec, A, B, unnegotiated=["ipv6-unicast"])
    assert v.status == g.FAIL and "its OPEN offers ipv6-unicast, which this session did not negotiate" in v.detail
