"""Scenarios, Python and TOML, against pyspeaker's own Speaker (a route reflector) on
loopback: a speaker peer restarts gracefully while an observer peer watches what the
reflector does with its routes. With F set, nothing is withdrawn until End-of-RIB and the
route not announced again is swept; with F=0 the reflector flushes at once, and the same
expectations fail with the timeline. The command line runs the same files (exit 0/1/2)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer import GrSpec, Recorder
from pyspeaker.testpeer.expect import ExpectationFailed
from pyspeaker.testpeer.scenario import Lab, run, run_file, run_scenario
from pyspeaker.testpeer.scenario_file import parse as parse_scenario
from pyspeaker.wire.family import IPV4_UNICAST
from rfc_tests.loopback import reflector_toml

TIMEOUT = 20.0
KEPT, SWEPT = "10.6.1.0/24", "10.6.2.0/24"

RR = reflector_toml("127.0.6.0/24", router_id="10.255.6.1")


@pytest.fixture
async def dut() -> AsyncIterator[Speaker]:
    speaker = Speaker(parse(RR, "rr.toml"))
    await speaker.start()
    try:
        yield speaker
    finally:
        await speaker.stop()


def scenario_toml(port: int, flags: str = "0x80", after_restart: str = "") -> str:
    """The speaker announces KEPT and SWEPT, restarts gracefully with these per-family flags,
    announces KEPT again and sends End-of-RIB; the observer must see nothing withdrawn in
    between and SWEPT withdrawn after."""
    return f"""
[scenario]
name = "reflector keeps routes"
timeout = {TIMEOUT}

[defaults]
dut = "127.0.0.1"
port = {port}
asn = 65000
dut_asn = 65000
families = ["ipv4-unicast"]

[[peer]]
name = "speaker"
source = "127.0.6.1"
graceful_restart = {{ restart_time = 60, flags = {{ "ipv4-unicast" = {flags} }} }}

[[peer]]
name = "observer"
source = "127.0.6.2"

[[step]]
peer = "speaker"
action = "connect"

[[step]]
peer = "observer"
action = "connect"

[[step]]
peer = "speaker"
action = "announce"
prefixes = ["{KEPT}", "{SWEPT}"]

[[step]]
peer = "speaker"
action = "end-of-rib"

[[step]]
peer = "observer"
action = "expect-route"
prefixes = ["{KEPT}", "{SWEPT}"]

[[step]]
peer = "speaker"
action = "restart"
name = "restart"
{after_restart}
[[step]]
peer = "speaker"
action = "announce"
prefixes = ["{KEPT}"]

[[step]]
peer = "speaker"
action = "end-of-rib"
name = "eor"

[[step]]
peer = "observer"
action = "expect-withdrawn"
prefixes = ["{SWEPT}"]

[[expect]]
kind = "no-withdrawals"
peer = "observer"
after = "restart"
until = "eor"

[[expect]]
kind = "routes"
peer = "observer"
prefixes = ["{KEPT}"]

[[expect]]
kind = "open-gr"
peer = "speaker"
notification = true
restarting = false
"""


# with F=0 the reflector flushes both routes when the speaker's new OPEN arrives: waiting for
# that makes the failure certain (not a race with the End-of-RIB step)
FLUSHED = f"""
[[step]]
peer = "observer"
action = "expect-withdrawn"
prefixes = ["{KEPT}", "{SWEPT}"]
"""


async def test_toml_scenario_passes_when_the_reflector_keeps_routes(dut: Speaker) -> None:
    result = await run_scenario(parse_scenario(scenario_toml(dut.port), "keep.toml"))
    assert result.passed, result.report()
    assert [s.ok for s in result.steps] == [True] * 9 and len(result.expectations) == 3
    rec = result.recorder
    restart, eor = result.steps[5].t, result.steps[7].t
    assert restart is not None and eor is not None
    swept = rec.first("withdraw", "observer", prefix=SWEPT)
    assert swept is not None and swept.t >= eor  # swept only after End-of-RIB
    assert rec.first("withdraw", "observer", prefix=KEPT) is None
    assert rec.first("fault", "speaker", fault="graceful-restart") is not None
    assert "PASS" in result.report().splitlines()[0]


async def test_toml_scenario_fails_with_a_timeline_when_routes_are_flushed(dut: Speaker) -> None:
    result = await run_scenario(parse_scenario(scenario_toml(dut.port, "0", FLUSHED), "flush.toml"))
    assert not result.passed and not result.error  # the steps ran; expectations failed
    verdicts = [e.ok for e in result.expectations]
    assert verdicts == [False, True, True] or verdicts == [False, False, True], result.report()
    failure = result.failures[0]
    assert "the DUT withdrew nothing between step 'restart'" in failure.what
    assert f"{KEPT} at t=" in failure.why and f"{SWEPT} at t=" in failure.why
    report = result.report()
    assert "FAIL expect[0]" in report and "--- timeline ---" in report
    assert f"observer   withdraw               ipv4-unicast {KEPT}" in report
    assert "graceful-restart" in report  # the speaker's fault is in the observer's timeline


async def test_failed_step_stops_the_run_and_is_reported(dut: Speaker) -> None:
    text = scenario_toml(dut.port).replace(
        f'action = "expect-route"\nprefixes = ["{KEPT}", "{SWEPT}"]',
        'action = "expect-route"\nprefixes = ["198.51.100.0/24"]\ntimeout = 0.3',
    )
    result = await run_scenario(parse_scenario(text, "missing.toml"))
    assert not result.passed and len(result.steps) == 5
    assert not result.steps[-1].ok and "198.51.100.0/24" in result.steps[-1].message
    assert result.error.startswith("step[4] observer expect-route failed")
    assert "stopped: step[4]" in result.report()


async def test_python_scenario_with_lab_marks_and_expectations(dut: Speaker) -> None:
    async def scenario(lab: Lab) -> None:
        gr = GrSpec(restart_time=60, families={IPV4_UNICAST: 0x80})
        speaker = lab.peer("speaker", local_address="127.0.6.3", graceful_restart=gr)
        observer = lab.peer("observer", local_address="127.0.6.4")
        await lab.connect(speaker, observer)
        await speaker.announce([KEPT, SWEPT])
        await speaker.end_of_rib(IPV4_UNICAST)
        await observer.wait(lambda: len(observer.routes[IPV4_UNICAST]) == 2, TIMEOUT, "both routes")
        await lab.step("restart", speaker.restart_gracefully(), peer="speaker")
        await speaker.announce([KEPT])
        await lab.step("eor", speaker.end_of_rib(IPV4_UNICAST), peer="speaker")
        await observer.wait(lambda: SWEPT not in observer.routes[IPV4_UNICAST], TIMEOUT, "the sweep")
        lab.expect.no_withdrawals("observer", after="restart", until="eor")
        lab.expect.routes("observer", [KEPT])
        lab.expect.routes("observer", [SWEPT], present=False)
        lab.expect.open_gr("speaker", restarting=False, notification=True)

    lab = Lab(dut="127.0.0.1", port=dut.port, asn=65000, dut_asn=65000, families=(IPV4_UNICAST,))
    result = await run(scenario, lab=lab, timeout=TIMEOUT)
    assert result.passed, result.report()
    assert set(lab.marks) == {"restart", "eor"} and lab.marks["restart"] < lab.marks["eor"]
    assert all(p.closed for p in lab.peers.values())  # closed at the end


async def test_python_scenario_failure_carries_the_timeline(dut: Speaker) -> None:
    async def scenario(lab: Lab) -> None:
        speaker = lab.peer("speaker", local_address="127.0.6.5")
        observer = lab.peer("observer", local_address="127.0.6.6")
        await lab.connect(speaker, observer)
        await speaker.announce([KEPT])
        await observer.wait(lambda: KEPT in observer.routes[IPV4_UNICAST], TIMEOUT, "the route")
        lab.mark("withdraw")
        await speaker.withdraw([KEPT])
        await observer.wait(lambda: KEPT not in observer.routes[IPV4_UNICAST], TIMEOUT, "the withdrawal")
        lab.expect.no_withdrawals("observer", after="withdraw")  # fails: it was withdrawn

    lab = Lab(dut="127.0.0.1", port=dut.port, asn=65000, dut_asn=65000, families=(IPV4_UNICAST,))
    result = await run(scenario, lab=lab, timeout=TIMEOUT)
    assert not result.passed and len(result.failures) == 1
    failure = result.failures[0]
    assert isinstance(failure, ExpectationFailed)
    assert f"1 withdrawn: {KEPT}" in failure.why
    assert "observer   withdraw" in failure.timeline and "step=withdraw" in failure.timeline


def test_lab_peer_needs_a_dut_and_a_router_id() -> None:
    lab = Lab(asn=65000)
    with pytest.raises(ValueError, match="no DUT address"):
        lab.peer("a", local_address="127.0.6.7")
    with pytest.raises(ValueError, match="router_id is needed"):
        lab.peer("a", "127.0.0.1")
    made = lab.peer("a", "127.0.0.1", local_address="127.0.6.7")
    assert made.router_id == "127.0.6.7" and made.recorder is lab.recorder and made.name == "a"
    with pytest.raises(ValueError, match="already a peer named 'a'"):
        lab.peer("a", "127.0.0.1", router_id="10.0.0.1")


PY_SCENARIO = f"""
from pyspeaker.wire.family import IPV4_UNICAST

PORT = {{port}}


async def scenario(lab):
    a = lab.peer("a", "127.0.0.1", port=PORT, asn=65000, local_address="127.0.6.8", families=(IPV4_UNICAST,))
    b = lab.peer("b", "127.0.0.1", port=PORT, asn=65000, local_address="127.0.6.9", families=(IPV4_UNICAST,))
    await lab.connect(a, b)
    await a.announce(["{KEPT}"])
    await b.wait(lambda: "{KEPT}" in b.routes[IPV4_UNICAST], 20, "the route")
    lab.expect.routes("b", ["{KEPT}"], present={{present}})
"""


async def test_run_file_loads_a_python_scenario(dut: Speaker, tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(PY_SCENARIO.format(port=dut.port, present=True))
    result = await run_file(good, recorder=Recorder())
    assert result.passed, result.report()
    bad = tmp_path / "bad.py"
    bad.write_text(PY_SCENARIO.format(port=dut.port, present=False))
    result = await run_file(bad)
    assert not result.passed and "still there: " + KEPT in result.failures[0].why
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError, match="no `async def scenario"):
        await run_file(empty)


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyspeaker", "scenario", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_run_exit_status_json_save_and_show(dut: Speaker, tmp_path: Path) -> None:
    good = tmp_path / "keep.toml"
    good.write_text(scenario_toml(dut.port))
    saved = tmp_path / "keep.msgpack"
    rc, out, err = await _cli("run", str(good), "--json", "--save", str(saved))
    assert rc == 0, out + err
    doc = json.loads(out)
    assert doc["passed"] is True and doc["scenario"] == "reflector keeps routes"
    assert [e["ok"] for e in doc["expectations"]] == [True, True, True] and len(doc["steps"]) == 9
    rc, out, err = await _cli("show", str(saved), "--peer", "observer")
    assert rc == 0 and f"withdraw               ipv4-unicast {SWEPT}" in out
    assert all("  observer " in line for line in out.splitlines())
    assert len(Recorder.load(str(saved)).events) == doc["events"]
    rc, out, err = await _cli("show", str(saved), "--json", "--kind", "open-received")
    lines = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(lines) == 3  # the speaker's two sessions, the observer's one
    assert {x["peer"] for x in lines} == {"speaker", "observer"} and lines[0]["data"]["raw"].startswith("ff" * 16)

    flushed = tmp_path / "flush.toml"
    flushed.write_text(scenario_toml(dut.port, "0", FLUSHED))
    rc, out, err = await _cli("run", str(flushed))
    assert rc == 1, out + err
    assert "FAIL expect[0]" in out and "--- timeline ---" in out

    broken = tmp_path / "broken.toml"
    broken.write_text(scenario_toml(dut.port).replace("asn = 65000", "asn = -1"))
    rc, out, err = await _cli("run", str(broken))
    assert rc == 2 and out == ""
    assert f"{broken}: peer[0].asn:" in err and f"{broken}: peer[1].asn:" in err
    rc, out, err = await _cli("show", str(good))
    assert rc == 2 and ("not msgpack" in err or "not a pyspeaker test peer recording" in err), err


def actions_toml(port: int, command: list[str]) -> str:
    words = ", ".join(f'"{w}"' for w in command)
    return f"""
[defaults]
dut = "127.0.0.1"
port = {port}
asn = 65000
families = ["ipv4-unicast"]

[[peer]]
name = "a"
source = "127.0.6.10"

[[peer]]
name = "b"
source = "127.0.6.11"

[[step]]
peer = "a"
action = "connect"

[[step]]
peer = "b"
action = "connect"

[[step]]
peer = "b"
action = "expect-eor"

[[step]]
peer = "a"
action = "pause-reading"

[[step]]
peer = "a"
action = "withhold-end-of-rib"

[[step]]
peer = "a"
action = "flap"
prefix = "{KEPT}"
count = 2
rate = 100
med = 5

[[step]]
peer = "a"
action = "end-of-rib"

[[step]]
peer = "a"
action = "resume-reading"

[[step]]
peer = "b"
action = "expect-route"
prefixes = ["{KEPT}"]

[[step]]
peer = "a"
action = "withdraw"
prefixes = ["{KEPT}"]
name = "withdraw"

[[step]]
peer = "b"
action = "expect-withdrawn"
prefixes = ["{KEPT}"]

[[step]]
action = "run"
command = [{words}]

[[step]]
peer = "a"
action = "raw"
hex = "ffffffffffffffffffffffffffffffff 0013 09"

[[step]]
peer = "a"
action = "expect-notification"
code = 1

[[step]]
peer = "a"
action = "expect-down"

[[expect]]
kind = "notification"
peer = "a"
code = 1
subcode = 3

[[expect]]
kind = "withdrawn-within"
peer = "b"
prefixes = ["{KEPT}"]
seconds = 3600
after = "withdraw"

[[expect]]
kind = "eor"
peer = "b"
families = ["ipv4-unicast"]
"""


async def test_toml_actions_against_the_reflector(dut: Speaker) -> None:
    ok = [sys.executable, "-c", "print('restarted')"]
    result = await run_scenario(parse_scenario(actions_toml(dut.port, ok), "actions.toml"))
    assert result.passed, result.report()
    rec = result.recorder
    faults = [e.get("fault") for e in rec.faults("a")]
    assert faults[:3] == ["stop-reading", "withhold-eor", "flap"] and "resume-reading" in faults
    assert rec.first("fault", "a", fault="eor-held-back") is not None
    assert rec.first("sent", "a", what="eor") is None  # withheld: never sent
    assert rec.first("note", "lab", output="restarted") is not None
    assert rec.first("sent", "a", what="raw") is not None

    failing = [sys.executable, "-c", "import sys; print('no such pod'); sys.exit(3)"]
    result = await run_scenario(parse_scenario(actions_toml(dut.port, failing), "actions.toml"))
    assert not result.passed and result.error.startswith("step[11] run failed")
    assert "exited with 3: no such pod" in result.error


async def test_python_scenario_that_raises_is_a_failed_run_saying_where() -> None:
    async def scenario(lab: Lab) -> None:
        lab.mark("start")
        raise ValueError("no next hop for 2001:db8::/32")

    result = await run(scenario)
    assert not result.passed and not result.failures
    assert result.error.startswith("the scenario raised ValueError: no next hop for 2001:db8::/32")
    assert "in scenario" in result.error  # the frame it came from
    report = result.report()
    assert "stopped: the scenario raised ValueError" in report and "step=start" in report
