"""`pyspeaker check errors` end to end on loopback, with pyspeaker's own Speaker as the device
under test: two eBGP neighbors with accept-all policies, the sender and the observer. Every
case pyspeaker can be sent over eBGP must come out as the RFCs expect; a case whose bytes are
made valid must come out as a deviation (the runner can fail)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer.errors import Outcome
from pyspeaker.testpeer.errors_run import Runner, Target
from pyspeaker.testpeer.malformed import BY_ID, CASES, Session
from pyspeaker.testpeer.record import Recorder

CONFIG = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[[neighbor]]
address = "127.0.6.1"
remote_as = 65001
passive = true
families = ["ipv4-unicast", "ipv6-unicast"]
next_hop_v6 = "fd00::1"
connect_retry = 1
connect_retry_max = 1          # after each reset, accept the sender again within a second
import = "accept"
export = "accept"

[[neighbor]]
address = "127.0.6.2"
remote_as = 65002
passive = true
families = ["ipv4-unicast", "ipv6-unicast"]
next_hop_v6 = "fd00::1"
import = "accept"
export = "accept"

[[neighbor]]
address = "127.0.6.3"
remote_as = 65000
passive = true
families = ["ipv4-unicast", "ipv6-unicast"]
import = "accept"
export = "accept"
"""


@pytest.fixture
async def dut() -> AsyncIterator[Speaker]:
    speaker = Speaker(parse(CONFIG, "dut.toml"))
    await speaker.start()
    try:
        yield speaker
    finally:
        await speaker.stop()


def target(speaker: Speaker) -> Target:
    return Target(
        dut="127.0.0.1",
        port=speaker.port,
        asn=65001,
        dut_asn=65000,
        source="127.0.6.1",
        observer="127.0.6.2",
        observer_asn=65002,
        ibgp_source="127.0.6.3",
        next_hop6="fd00::6:1",
        timeout=5.0,
        name="pyspeaker",
    )


async def test_pyspeaker_handles_every_case_as_the_rfcs_expect(dut: Speaker) -> None:
    rec = Recorder()
    report = await Runner(target(dut), rec).run(CASES)
    assert [v.case for v in report.verdicts] == [c.id for c in CASES]
    wrong = [f"{v.case}: {v.behaviour} ({v.evidence})" for v in report.verdicts if not v.matches]
    assert wrong == [], "\n".join(wrong)
    assert report.summary() == f"pyspeaker: {len(CASES)} of {len(CASES)} as the RFCs expect"
    # every reset was followed by a new sending session; the observer's stayed up throughout
    resets = sum(1 for v in report.verdicts if v.outcome is Outcome.SESSION_RESET)
    assert resets == sum(1 for c in CASES if c.expect.name == "SESSION_RESET")

    def ups(name: str) -> int:
        return sum(1 for e in rec.of("state", name) if e.data["state"] == "established")

    # the first session and one after each reset but the last, which the iBGP session follows
    assert ups("sender") == resets
    assert ups("sender-ibgp") == ups("sender-2-octet") == ups("observer") == 1
    ibgp = [v.case for v in report.verdicts if v.case in {c.id for c in CASES if c.session is Session.IBGP}]
    assert len(ibgp) == 4


def test_without_an_ibgp_source_the_ibgp_rules_are_skipped() -> None:
    runner = Runner(Target(dut="127.0.0.1", asn=65001, dut_asn=65000, observer="127.0.6.2", source="127.0.6.1"))
    for case in CASES:
        reason = runner.skip_reason(case, None)
        assert (reason == "needs an iBGP session") is (case.session is Session.IBGP)


async def test_a_valid_update_is_reported_as_a_deviation(dut: Speaker) -> None:
    """The same runner, told that a valid UPDATE is malformed, must say the device accepted
    it (kept the route, replaced) and that this is not what the RFC expects."""
    fake_withdraw = dataclasses.replace(BY_ID["origin-bad-length"], attrs=lambda b: b.base())
    fake_discard = dataclasses.replace(
        BY_ID["atomic-aggregate-non-zero-length"], attrs=lambda b: b.block(extra=b.attr(0x40, 6, b""))
    )
    ibgp = BY_ID["cluster-list-zero-length"]
    fake_ibgp = dataclasses.replace(ibgp, attrs=lambda b: b.block(extra=b.local_pref(100)))
    report = await Runner(target(dut)).run([fake_withdraw, fake_discard, BY_ID["unrecognized-well-known"], fake_ibgp])
    a, b, c, d = report.verdicts
    assert (a.outcome, a.matches) == (Outcome.UPDATED, False)
    assert (b.outcome, b.matches) == (Outcome.ACCEPTED, False)
    assert (c.outcome, c.detail, c.matches) == (Outcome.SESSION_RESET, "3/2", True)
    assert (d.outcome, d.matches) == (Outcome.UPDATED, False)  # from the iBGP session
    assert report.summary() == "pyspeaker: 1 of 4 as the RFCs expect"


async def test_a_session_the_device_refuses_skips_its_cases(dut: Speaker) -> None:
    """127.0.6.9 is not a neighbor of the device: the iBGP-only cases are skipped, saying why,
    and the run goes on."""
    t = dataclasses.replace(target(dut), ibgp_source="127.0.6.9", reconnect_timeout=2.0)
    ibgp = [c for c in CASES if c.session is Session.IBGP]
    report = await Runner(t).run([BY_ID["origin-bad-length"], *ibgp, BY_ID["duplicate-origin"]])
    first, *skipped, last = report.verdicts
    assert first.matches and last.matches
    assert {v.outcome for v in skipped} == {Outcome.SKIPPED}
    assert all(v.detail.startswith("no ibgp session: ") for v in skipped), skipped[0].detail
    assert report.summary() == "pyspeaker: 2 of 2 as the RFCs expect (4 skipped)"
