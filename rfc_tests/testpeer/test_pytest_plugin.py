"""The pytest plugin, as another project uses it: a fresh test folder run by pytest in a
subprocess (the plugin comes from the installed pytest11 entry point), its tests using
``bgp_peer`` against pyspeaker's own Speaker on loopback. Passing and failing tests, options
from the command line, the ini file and a peers file, a missing DUT (skip), bad options
(only the tests using the fixtures fail), strict pytest-asyncio mode, the timeline in the
report and the recording saved for a failed test."""

from __future__ import annotations

import asyncio
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.testpeer import Recorder, pytest_plugin
from rfc_tests.loopback import reflector_toml

RR = reflector_toml("127.0.7.0/24", router_id="10.255.7.1")

TESTS = """
import pytest
from pyspeaker.wire.family import IPV4_UNICAST


async def test_route_is_reflected(bgp_peer, bgp_lab):
    a = await bgp_peer("a", local_address="127.0.7.1")
    b = await bgp_peer("b", local_address="127.0.7.2")
    await a.announce(["10.7.0.0/24"])
    await b.wait(lambda: "10.7.0.0/24" in b.routes[IPV4_UNICAST], 20, "the reflected route")
    bgp_lab.expect.routes("b", ["10.7.0.0/24"])
    bgp_lab.expect.open_gr("a", notification=True)


async def test_expects_what_never_comes(bgp_peer, bgp_lab):
    a = await bgp_peer("a", local_address="127.0.7.3")
    await a.announce(["10.7.1.0/24"])
    await a.wait(lambda: IPV4_UNICAST in a.eor_received, 20, "End-of-RIB from the reflector")
    bgp_lab.expect.eor("a", [IPV4_UNICAST], after=0)
    bgp_lab.expect.routes("a", ["10.7.1.0/24"])  # a's own route is not sent back to it


def test_without_the_fixtures():
    assert True


def test_failing_without_the_fixtures():
    assert 1 + 1 == 3
"""


@pytest.fixture
async def dut() -> AsyncIterator[Speaker]:
    speaker = Speaker(parse(RR, "rr.toml"))
    await speaker.start()
    try:
        yield speaker
    finally:
        await speaker.stop()


async def pytest_run(folder: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--rootdir", str(folder),
        "-c", str(folder / "pytest.ini"), *args, str(folder),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=folder,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


def project(tmp: Path, ini: str = "", tests: str = TESTS) -> Path:
    folder = tmp / "project"
    folder.mkdir()
    (folder / "pytest.ini").write_text(f"[pytest]\nasyncio_mode = auto\n{ini}")
    (folder / "test_dut.py").write_text(tests)
    return folder


def test_the_entry_point_is_declared_and_loaded(pytestconfig: pytest.Config) -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"] == {"pyspeaker": "pyspeaker.testpeer.pytest_plugin"}
    # this suite runs with the plugin loaded (installed), and the fixtures are there
    assert pytestconfig.pluginmanager.get_plugin("pyspeaker") is pytest_plugin
    assert pytestconfig.getoption("bgp_dut") is None


async def test_options_on_the_command_line(dut: Speaker, tmp_path: Path) -> None:
    folder = project(tmp_path)
    saved = tmp_path / "recordings"
    rc, out = await pytest_run(
        folder,
        "--bgp-dut=127.0.0.1", f"--bgp-port={dut.port}", "--bgp-asn=65000", "--bgp-dut-asn=65000",
        "--bgp-families=ipv4-unicast", "--bgp-connect-timeout=20", f"--bgp-save-recordings={saved}",
    )  # fmt: skip
    assert rc == 1, out
    assert "PASSED test_dut.py::test_route_is_reflected" in out
    assert "PASSED test_dut.py::test_without_the_fixtures" in out
    assert "FAILED test_dut.py::test_expects_what_never_comes" in out
    # the failure says why, then the peers' timeline is a section of the report
    assert "a: the DUT has 10.7.1.0/24: missing: 10.7.1.0/24" in out
    assert out.count("BGP test peer timeline (call)") == 1  # not for the test without the fixtures
    assert "FAILED test_dut.py::test_failing_without_the_fixtures" in out
    assert "a          open-received" in out and "sent                   announce ipv4-unicast" in out
    (rec_file,) = saved.iterdir()
    assert rec_file.name.endswith("test_expects_what_never_comes.call.msgpack")
    rec = Recorder.load(str(rec_file))
    assert rec.first("sent", "a", what="announce") is not None and rec.first("open-received", "a") is not None


async def test_options_in_the_ini_file_and_a_peers_file(dut: Speaker, tmp_path: Path) -> None:
    peers = tmp_path / "lab.toml"
    peers.write_text(
        f"""
[defaults]
dut = "127.0.0.1"
port = {dut.port}
asn = 65000
families = ["ipv4-unicast"]

[[peer]]
name = "a"
source = "127.0.7.4"

[[peer]]
name = "b"
source = "127.0.7.5"
hold_time = 30
graceful_restart = false
"""
    )
    tests = """
from pyspeaker.wire.family import IPV4_UNICAST


async def test_peers_from_the_file(bgp_peer):
    a = await bgp_peer("a")
    b = await bgp_peer("b")
    assert a.local_address == "127.0.7.4" and b.local_address == "127.0.7.5"
    assert b.hold_time == 30 and b.graceful_restart is None and a.graceful_restart is not None
    assert a.dut_open is not None and a.dut_open.asn == 65000
    await a.announce(["10.7.2.0/24"])
    await b.wait(lambda: "10.7.2.0/24" in b.routes[IPV4_UNICAST], 20, "the route")


async def test_override_and_not_connected(bgp_peer):
    c = await bgp_peer("c", local_address="127.0.7.6", connect=False)
    assert not c.established and c.port != 179
"""
    folder = project(
        tmp_path, f"bgp_peers = {peers}\nbgp_dut = 127.0.0.1\nbgp_port = {dut.port}\nbgp_asn = 65000\n", tests
    )
    rc, out = await pytest_run(folder)
    assert rc == 0, out
    assert out.count("PASSED") == 2


async def test_no_dut_skips_and_bad_options_fail_only_the_tests_using_them(tmp_path: Path) -> None:
    folder = project(tmp_path)
    rc, out = await pytest_run(folder)
    assert rc == 1, out  # the plain failing test
    assert "SKIPPED [2]" in out and "no BGP device under test configured: give --bgp-dut and --bgp-asn" in out
    assert "PASSED test_dut.py::test_without_the_fixtures" in out
    assert "FAILED test_dut.py::test_failing_without_the_fixtures" in out and "BGP test peer" not in out
    rc, out = await pytest_run(folder, "--bgp-dut=127.0.0.1", "--bgp-asn=lots", "--bgp-families=ipv4-unicast,ipx")
    assert rc == 1, out
    assert "FAILED test_dut.py::test_route_is_reflected - Failed: bad --bgp-* options" in out
    assert "FAILED test_dut.py::test_expects_what_never_comes - Failed: bad --bgp-* options" in out
    assert "--bgp-asn: 'lots' is not a whole number" in out and "unknown address family 'ipx'" in out
    assert "PASSED test_dut.py::test_without_the_fixtures" in out


async def test_strict_asyncio_mode(dut: Speaker, tmp_path: Path) -> None:
    tests = """
import pytest


@pytest.mark.asyncio
async def test_connects(bgp_peer):
    a = await bgp_peer("a", local_address="127.0.7.7")
    assert a.established
"""
    folder = project(tmp_path, "", tests)
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    rc, out = await pytest_run(folder, "--bgp-dut=127.0.0.1", f"--bgp-port={dut.port}", "--bgp-asn=65000")
    assert rc == 0 and "PASSED test_dut.py::test_connects" in out, out
