"""The test peer examples run against real daemons, so they cannot rot:

* ``examples/test_bird_keeps_routes.py`` is run with pytest (the pyspeaker plugin, a peers
  file) against BIRD 2 with two eBGP neighbors on our side of the link: the speaker peer
  restarts gracefully, the observer peer must see nothing withdrawn until End-of-RIB and
  the routes not announced again swept after it.
* ``examples/metallb_gr_check.py``: FRR (as MetalLB's FRR mode runs it) announces two
  service routes, /32 and /128, and restarts gracefully; the test peer, as the router
  MetalLB peers with, must see them kept and refreshed, with no withdrawal; then the same
  check as a scenario file (``examples/scenarios/metallb-gr.toml``), its ``run`` step
  killing bgpd.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from pyspeaker.testpeer import Recorder
from pyspeaker.testpeer.scenario import run_scenario
from pyspeaker.testpeer.scenario_file import parse as parse_scenario

from .conftest import DaemonFactory
from .daemons import DAEMONS, Bird2, Frr
from .netns import poll, sh

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
SPEAKER_AS, DUT_AS, OBSERVER_AS = 65001, 65002, 65003


class Bird2TwoPeers(Bird2):
    """BIRD 2 with two passive eBGP neighbors on our side of the link (10.77.n.1, the
    speaker; 10.77.n.3, the observer), graceful restart on, BGP routes exported to both."""

    kind = "bird2"

    @property
    def observer4(self) -> str:
        return f"10.77.{self.link.n}.3"

    def config(self) -> str:
        link = self.link

        def neighbor(name: str, address: str, asn: int) -> str:
            return f"""
            protocol bgp {name} {{
              debug {{ states, events }};
              local {link.their4} port 179 as {DUT_AS};
              neighbor {address} port 179 as {asn};
              passive on;
              hold time 9; keepalive time 3;
              connect retry time 1; connect delay time 1; error wait time 1, 10;
              graceful restart on; graceful restart time 120;
              ipv4 {{ import all; export where source = RTS_BGP; }};
              ipv6 {{ import all; export where source = RTS_BGP; next hop address {link.their6}; }};
            }}
            """

        return textwrap.dedent(
            f"""\
            log stderr all;
            router id {link.their4};
            protocol device {{ scan time 5; }}
            """
        ) + textwrap.dedent(
            neighbor("speaker", link.our4, SPEAKER_AS) + neighbor("observer", self.observer4, OBSERVER_AS)
        )


async def test_bird_keeps_routes_example(lab: DaemonFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(DAEMONS, "bird2peers", Bird2TwoPeers)
    d = lab("bird2peers", start=False)
    assert isinstance(d, Bird2TwoPeers)
    sh("ip", "addr", "add", f"{d.observer4}/24", "dev", d.link.ours_if)  # the observer's address, our side
    d.start()
    peers = tmp_path / "bird-lab.toml"
    peers.write_text(
        f"""
[defaults]
dut = "{d.link.their4}"
dut_asn = {DUT_AS}
families = ["ipv4-unicast", "ipv6-unicast"]

[[peer]]
name = "speaker"
asn = {SPEAKER_AS}
source = "{d.link.our4}"
next_hop6 = "{d.link.our6}"

[[peer]]
name = "observer"
asn = {OBSERVER_AS}
source = "{d.observer4}"
"""
    )
    saved = tmp_path / "recordings"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
        str(EXAMPLES / "test_bird_keeps_routes.py"), f"--bgp-peers={peers}", "--bgp-connect-timeout=20",
        f"--bgp-save-recordings={saved}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "PASSED examples/test_bird_keeps_routes.py::test_bird_keeps_routes_while_we_restart" in text
    assert not saved.exists()  # nothing failed, nothing saved
    # BIRD itself says it helped: the speaker's restart was seen as a graceful one
    log = d.log_text()
    assert "speaker: Neighbor graceful restart detected" in log, d.log_tail(40)
    assert "speaker: Neighbor graceful restart done" in log, d.log_tail(40)
    assert "observer" in log and "observer: Error" not in log

    # the same scenario as a TOML file, run by `pyspeaker scenario run` against the same BIRD
    n = d.link.n
    scenario = tmp_path / "bird-keeps-routes.toml"
    text = (EXAMPLES / "scenarios" / "bird-keeps-routes.toml").read_text()
    scenario.write_text(text.replace("10.77.1.", f"10.77.{n}.").replace("fd00:77:1::", f"fd00:77:{n}::"))
    recording = tmp_path / "run.msgpack"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyspeaker", "scenario", "run", str(scenario), "--json", "--save", str(recording),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode(errors="replace")
    result = json.loads(out)
    assert result["passed"] and [e["ok"] for e in result["expectations"]] == [True] * 4
    assert len(result["steps"]) == 11 and all(s["ok"] for s in result["steps"])
    rec = Recorder.load(str(recording))
    assert rec.first("fault", "speaker", fault="graceful-restart") is not None
    assert log.count("speaker: Neighbor graceful restart done") == 1  # the log so far had one...
    assert d.log_text().count("speaker: Neighbor graceful restart done") == 2  # ...the scenario made the second


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SERVICE4, SERVICE6 = "10.2.0.10/32", "2001:db8:2::10/128"


async def test_metallb_gr_check_example_against_frr(lab: DaemonFactory) -> None:
    example = _example("metallb_gr_check")
    d = lab(
        "frr",
        local_as=DUT_AS,
        peer_as=SPEAKER_AS,
        passive=True,
        graceful_restart=True,
        preserve_fw_state=True,  # F for both families, as MetalLB's FRR configuration has
        prefix4=SERVICE4,
        prefix6=SERVICE6,
    )
    assert isinstance(d, Frr)
    restarts = []

    async def restart() -> None:
        """bgpd killed (no NOTIFICATION: a restarting speaker) and started again."""
        await d.stop_for_restart()
        await asyncio.to_thread(d.restart)
        restarts.append(True)

    lab_ = example.Lab()
    try:
        await example.check_gr(
            lab_,
            [SERVICE4, SERVICE6],
            restart,
            timeout=30,
            dut=d.link.their4,
            asn=SPEAKER_AS,
            dut_asn=DUT_AS,
            local_address=d.link.our4,
        )
    finally:
        await lab_.close()
    rec = lab_.recorder
    assert restarts == [True]
    # what the check saw, in order: the services, the session lost, back, refreshed, End-of-RIB
    assert [e.get("prefix") for e in rec.of("withdraw", "router")] == []
    for service in (SERVICE4, SERVICE6):
        kinds = [e.kind for e in rec.route_history(service, "router")]
        assert kinds == ["announce", "announce"], rec.timeline()
    opens = rec.of("open-received", "router")
    assert len(opens) == 2
    gr = [c for c in opens[1].get("capabilities") if c.get("code") == 64]
    # R, N, 120 s, F for IPv4 and IPv6 unicast
    assert [c["raw"] for c in gr] == ["c0780001018000020180"], gr

    # the same check as a scenario file, against the same FRR: its `run` step kills bgpd
    # (here instead of deleting MetalLB's speaker pods), and bgpd is started again
    assert d.main is not None
    bgpd = d.main
    text = (EXAMPLES / "scenarios" / "metallb-gr.toml").read_text().replace("10.77.1.", f"10.77.{d.link.n}.")
    command = 'command = ["kubectl", "-n", "metallb-system", "delete", "pod", "-l", "component=speaker"]'
    assert command in text
    scenario = parse_scenario(text.replace(command, f'command = ["kill", "-9", "{bgpd.pid}"]'), "metallb-gr.toml")

    async def start_again() -> None:
        async def killed() -> tuple[bool, str]:
            return bgpd.poll() is not None, "bgpd still running"

        await poll(killed, "bgpd killed by the scenario's run step", 60, 0.05)
        d.kill_process(bgpd)  # reaped, and no longer counted as a failure
        d.main = None
        await asyncio.to_thread(d.restart)

    restarting = asyncio.ensure_future(start_again())
    try:
        result = await run_scenario(scenario)
    finally:
        await asyncio.wait_for(restarting, 60)
    assert result.passed, result.report()
    assert [s.ok for s in result.steps] == [True] * 8 and [e.ok for e in result.expectations] == [True] * 4
