"""`pyspeaker check gr` against pyspeaker's own Speaker on loopback: the whole battery runs
and the Speaker, a conforming helper, passes every route check."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from pyspeaker.cli import main
from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer import grcheck as g
from pyspeaker.testpeer.grrun import GrCheckConfig, run_check
from pyspeaker.testpeer.record import Recorder
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from rfc_tests.loopback import reflector_toml

RR = reflector_toml("127.0.6.0/24")


async def test_battery_against_the_speaker() -> None:
    sp = Speaker(parse(RR, "rr.toml"))
    await sp.start()
    try:
        cfg = GrCheckConfig(
            dut="127.0.0.1",
            port=sp.port,
            asn=65000,
            dut_asn=65000,
            source="127.0.6.1",
            families=(IPV4_UNICAST, IPV6_UNICAST),
            next_hop6="fd00::1",
            restart_time=2,
            observe=1.0,
        )
        report = await run_check(cfg)
    finally:
        await sp.stop()
    assert not report.aborted, report.recorder.timeline()
    v = {x.key: x for x in report.verdicts}
    for key in (
        "retain-on-crash",
        "sweep-at-eor",
        "reannounced-kept",
        "flush-on-f0",
        "second-restart",
        "notification-n-bit",
        "hard-reset",
        "restart-time",
        "dut-eor",
    ):
        assert v[key].status == g.PASS, (key, v[key].detail, report.recorder.timeline())
    assert v["open-gr"].status == g.INFO  # a helper: GR with no families of its own
    assert report.status == g.PASS
    assert report.config["observer"] == "127.0.6.2"  # the next address after the source
    assert report.to_json()["dut_open"] == report.recorder.first("open-received", "peer").data["raw"].hex()  # type: ignore[union-attr]


def test_command_line_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens on the port: the report says why, exit status 1, still valid JSON."""
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status = main(
        [
            "check",
            "gr",
            "--dut",
            "127.0.0.1",
            "--port",
            str(port),
            "--asn",
            "65000",
            "--source",
            "127.0.6.5",
            "--json",
            "--connect-timeout",
            "2",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert status == 1 and out["status"] == "fail"
    assert "could not establish a session" in out["aborted"]


def test_command_line_against_a_speaker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pyspeaker check gr` as an operator runs it (the Speaker on a loop of its own in a
    thread): two steps, the table, the timeline and the recording saved."""
    loop = asyncio.new_event_loop()
    sp = Speaker(parse(RR, "rr.toml"))
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sp.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    saved = str(tmp_path / "run.msgpack")
    try:
        status = main(
            ["check", "gr", "--dut", "127.0.0.1", "--port", str(sp.port), "--asn", "65000", "--source", "127.0.6.11",
             "--steps", "hard-reset,crash", "--restart-time", "2", "--observe", "0.5", "--save", saved, "--timeline"]
        )  # fmt: skip
    finally:
        asyncio.run_coroutine_threadsafe(sp.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PASS    RFC 4724 4.2  routes kept (stale) when the peer's TCP session dies" in out
    assert "PASS    RFC 8538 3    Hard Reset (Cease/9) removes the routes at once" in out
    assert "sweep" not in out.split("STATUS", 1)[1].split("\n\n", 1)[0]  # steps not asked for: no verdict
    assert "notification-sent      6/9 Cease / Hard Reset data 0604" in out  # the timeline
    rec = Recorder.load(saved)
    steps = [e.data["step"] for e in rec.of("mark") if e.data["at"] in ("crash", "sent")]
    assert steps == ["crash", "hard-reset"]  # in the battery's order, whatever the option's


def test_unknown_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "gr", "--dut", "127.0.0.1", "--asn", "1", "--steps", "crash,bogus"]) == 2
    assert "--steps: bogus (known: crash, sweep" in capsys.readouterr().err
