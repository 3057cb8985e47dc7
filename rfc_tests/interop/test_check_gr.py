"""`pyspeaker check gr` against BIRD 2, BIRD 1.6, FRR and GoBGP, each configured with two
neighbors (the test peer and the observer, 10.77.n.1 and 10.77.n.3), with restart times of a
few seconds. The verdicts asserted are the daemons' documented behaviour (docs/interop.md):
BIRD and GoBGP send per-family flags 0x00 on a normal start, FRR sets R on every start (and F
only with preserve-fw-state); all keep our routes stale when we crash, sweep them at our
End-of-RIB, let them expire with our restart time, and drop them on Hard Reset."""

from __future__ import annotations

import pytest

from pyspeaker.testpeer import grcheck as g
from pyspeaker.testpeer.grrun import GrCheckConfig, GrReport, run_check
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST

from .conftest import DaemonFactory
from .daemons import observer_address
from .netns import sh

# GoBGP resets a returning peer's connections for about 7 s after its session ended: a restart
# time shorter than that cannot be honoured by anyone (the return-accepted verdict says so)
RESTART_TIME = {"bird2": 4, "bird16": 4, "frr": 4, "gobgp": 12}

COMMON = {
    "open-gr": g.PASS,
    "dut-eor": g.PASS,
    "retain-on-crash": g.PASS,
    "sweep-at-eor": g.PASS,
    "reannounced-kept": g.PASS,
    "hard-reset": g.PASS,
    "restart-time": g.PASS,
    "notification-n-bit": g.PASS,  # kept with N (FRR, GoBGP), flushed without (BIRD)
}
EXPECTED = {
    # R=0, F=0x00 on a normal start, no N bit: a Cease flushes
    "bird2": {**COMMON, "open-r-bit": g.PASS, "open-f-bits": g.PASS, "flush-on-f0": g.PASS},
    "bird16": {**COMMON, "open-r-bit": g.PASS, "open-f-bits": g.PASS, "flush-on-f0": g.PASS},
    # R=1 on every start, F=0 without preserve-fw-state: helpers flush FRR's routes after its restart.
    # At our End-of-RIB FRR 8.4.4 removes the stale IPv6 route from its RIB but never withdraws it
    # from the observer (the IPv4 one is withdrawn): see STILL_THERE
    "frr": {**COMMON, "open-r-bit": g.WARN, "open-f-bits": g.WARN, "flush-on-f0": g.PASS, "sweep-at-eor": g.FAIL},
    # GoBGP 3.10 keeps stale routes when the peer returns with F=0, and sweeps them only after
    # End-of-RIB for every family configured for the neighbor (ipv6-unicast too, which this
    # IPv4-only peer never negotiates): they stay past our End-of-RIB
    "gobgp": {
        **COMMON,
        "open-r-bit": g.PASS,
        "open-f-bits": g.PASS,
        "sweep-at-eor": g.FAIL,
        "flush-on-f0": g.FAIL,
    },
}
N_BIT = {"bird2": False, "bird16": False, "frr": True, "gobgp": True}
# what sweep-at-eor finds still announced to the observer after our End-of-RIB
STILL_THERE = {"frr": ["2001:db8:ff20::/48"], "gobgp": ["198.18.20.0/24"]}
# IPv6 over the IPv4 session too where the daemon's neighbor carries it and passes it on;
# BIRD 1.6's `bird` is IPv4 only, and GoBGP stays IPv4 only on purpose (see "gobgp" above)
FAMILIES = {
    "bird2": (IPV4_UNICAST, IPV6_UNICAST),
    "bird16": (IPV4_UNICAST,),
    "frr": (IPV4_UNICAST, IPV6_UNICAST),
    "gobgp": (IPV4_UNICAST,),
}


async def battery(lab: DaemonFactory, kind: str) -> GrReport:
    opts: dict[str, object] = {"gr_notification": True} if kind == "gobgp" else {}
    d = lab(kind, graceful_restart=True, observer_host=3, **opts)
    link = d.link
    observer = observer_address(link, d.opts)
    sh("ip", "addr", "add", f"{observer}/24", "dev", link.ours_if)
    cfg = GrCheckConfig(
        dut=link.their4,
        asn=d.opts.peer_as,
        dut_asn=d.opts.local_as,
        observer_asn=d.opts.observer_as,
        source=link.our4,
        observer=observer,
        families=FAMILIES[kind],
        next_hop6=link.our6,
        restart_time=RESTART_TIME[kind],
        observe=2.0,
        settle=10.0,
        expiry_slack=6.0,
        connect_timeout=20.0,
    )
    report = await run_check(cfg)
    print(f"=== {kind}\n{report.table()}")
    assert not report.aborted, report.aborted + "\n" + report.recorder.timeline()
    return report


@pytest.mark.parametrize("kind", ["bird2", "bird16", "frr", "gobgp"])
async def test_check_gr(lab: DaemonFactory, kind: str) -> None:
    report = await battery(lab, kind)
    got = {v.key: v for v in report.verdicts}
    wrong = {k: (want, got[k].status, got[k].detail) for k, want in EXPECTED[kind].items() if got[k].status != want}
    assert not wrong, f"{wrong}\n{report.recorder.timeline()}"
    assert got["notification-n-bit"].evidence["n_negotiated"] is N_BIT[kind]
    if kind in STILL_THERE:
        assert got["sweep-at-eor"].evidence["still_there"] == STILL_THERE[kind]
    if kind == "gobgp":  # the hint at the cause: GoBGP offers IPv6, the session is IPv4 only
        assert got["sweep-at-eor"].evidence["unnegotiated_families"] == ["ipv6-unicast"]
    # every verdict was reached: nothing skipped for want of a step
    assert [v.key for v in report.verdicts if v.status == g.SKIP] == []
    gr = report.recorder.first("open-received", g.PEER)
    assert gr is not None and gr.data["raw"] == report.dut_open_raw
