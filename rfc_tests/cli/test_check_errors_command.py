"""`pyspeaker check errors`, run as a user runs it: the case list, argument errors named, and
a run against pyspeaker's own Speaker on loopback (in this test's event loop) with --json and
as a table."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer.malformed import CASES
from pyspeaker.testpeer.record import Recorder
from rfc_tests.rfc7606.test_check_errors_loopback import CONFIG

CMD = [sys.executable, "-m", "pyspeaker.cli", "check", "errors"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=120, check=False)


def test_list_names_every_case_and_sends_nothing() -> None:
    proc = _run("--list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == [c.id for c in CASES]
    assert any("session reset 3/9" in ln and "RFC 7606 7.13" in ln for ln in lines)
    assert any("ibgp only" in ln for ln in lines) and any("2-octet AS session" in ln for ln in lines)


def test_bad_arguments_are_named() -> None:
    proc = _run("--dut", "10.0.0", "--asn", "0", "--dut-asn", "65000", "--source", "127.0.0.1")
    assert proc.returncode == 2
    assert "--dut: '10.0.0' is not an IP address" in proc.stderr
    assert "--asn: 0 is not an AS number" in proc.stderr
    assert "--observer: needed" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _run("--case", "no-such-case", "--list")
    assert proc.returncode == 2 and "unknown case id(s): no-such-case" in proc.stderr
    proc = _run("--dut", "127.0.0.1", "--asn", "65001", "--dut-asn", "65000", "--source", "127.0.6.1",
                "--observer", "127.0.6.1")  # fmt: skip
    assert proc.returncode == 2 and "--observer: must differ from --source" in proc.stderr


@pytest.fixture
async def dut() -> AsyncIterator[Speaker]:
    speaker = Speaker(parse(CONFIG, "dut.toml"))
    await speaker.start()
    try:
        yield speaker
    finally:
        await speaker.stop()


async def _check(dut: Speaker, *extra: str) -> tuple[int, str, str]:
    args = ["--dut", "127.0.0.1", "--port", str(dut.port), "--asn", "65001", "--dut-asn", "65000",
            "--source", "127.0.6.1", "--observer", "127.0.6.2", "--observer-asn", "65002",
            "--next-hop6", "fd00::6:1", "--timeout", "5", *extra]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *CMD, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_json_report_against_pyspeaker(dut: Speaker) -> None:
    ids = ["origin-bad-length", "duplicate-communities", "unrecognized-well-known", "local-pref-bad-length-ibgp",
           "mp-reach-next-hop-length-4-for-ipv6"]  # fmt: skip
    rc, out, err = await _check(dut, *(a for i in ids for a in ("--case", i)), "--json", "--name", "pyspeaker")
    assert rc == 0, err
    report = json.loads(out)
    assert report["dut"] == "pyspeaker"
    assert report["summary"] == {"run": 4, "as_expected": 4, "skipped": 1}
    got = {c["case"]: c["behaviour"] for c in report["cases"]}
    assert got == {
        "origin-bad-length": "treat-as-withdraw",
        "duplicate-communities": "attribute discard",
        "unrecognized-well-known": "session reset 3/2",
        "local-pref-bad-length-ibgp": "skipped (needs an iBGP session)",
        "mp-reach-next-hop-length-4-for-ipv6": "session reset 3/9",
    }
    assert all(c["evidence"] for c in report["cases"])


async def test_table_report_against_pyspeaker(dut: Speaker, tmp_path: Path) -> None:
    saved = tmp_path / "errors.msgpack"
    rc, out, err = await _check(dut, "--case", "atomic-aggregate-non-zero-length", "--save", str(saved))
    assert rc == 0, err
    assert "ok atomic-aggregate-non-zero-length: attribute discard" in err  # progress, one line per case
    assert "atomic-aggregate-non-zero-length" in out
    assert out.strip().endswith("127.0.0.1: 1 of 1 as the RFCs expect")
    # the recording: the runner's steps, what the sender sent, what the observer saw
    rec = Recorder.load(str(saved))
    steps = [e.data["step"] for e in rec.of("note", "runner")]
    assert steps == ["announce", "malformed"]
    notes = [e.data.get("note", "") for e in rec.of("sent", "sender")]
    assert [n.split(": ")[1] for n in notes if n] == ["valid", "malformed", "marker", "marker withdrawn"]
    assert {e.data["prefix"] for e in rec.of("announce", "observer")} >= {"10.0.0.0/24", "198.18.0.1/32"}
    show = _run_show(str(saved))
    assert show.returncode == 0 and "atomic-aggregate-non-zero-length" in show.stdout


def _run_show(path: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pyspeaker.cli", "scenario", "show", path]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_a_local_address_not_on_this_host_stops_the_check_at_once() -> None:
    """Nothing is sent: binding the observer's socket to 192.0.2.78 fails before a connect."""
    proc = _run("--dut", "127.0.0.1", "--port", "9", "--asn", "65001", "--dut-asn", "65000",
                "--source", "192.0.2.77", "--observer", "192.0.2.78")  # fmt: skip
    assert proc.returncode == 2
    assert "cannot use local address 192.0.2.78" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_a_device_that_passes_nothing_on_stops_the_check() -> None:
    """The observer's export policy rejects everything: the first valid announcement never
    arrives, and the check says so (exit 2) instead of classifying anything."""
    observer = 'address = "127.0.6.2"'
    head, tail = CONFIG.split(observer)
    text = head + observer + tail.replace('export = "accept"', 'export = "reject"', 1)
    assert text != CONFIG
    speaker = Speaker(parse(text, "dut.toml"))
    await speaker.start()
    try:
        rc, out, err = await _check(speaker, "--case", "origin-bad-length", "--timeout", "1")
    finally:
        await speaker.stop()
    assert rc == 2, err
    assert "origin-bad-length: the device passes on the valid announcement: not within 1 s" in err
    assert out == ""
