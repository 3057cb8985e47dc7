"""`pyspeaker check gr` against pyspeaker's own Speaker on loopback: the whole battery runs
and the Speaker, a conforming helper, passes every route check."""

from __future__ import annotations

import json

import pytest

from pyspeaker.cli import main
from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer import grcheck as g
from pyspeaker.testpeer.grrun import GrCheckConfig, run_check
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST

RR = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[[listen_range]]
prefix = "127.0.6.0/24"
remote_as = 65000
families = ["ipv4-unicast", "ipv6-unicast"]
rr_client = true
"""


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
