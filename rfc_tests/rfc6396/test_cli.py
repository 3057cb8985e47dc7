"""``pyspeaker mrt print`` and ``pyspeaker mrt replay``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from pyspeaker.cli import main
from pyspeaker.config.load import parse
from pyspeaker.mrt.files import read_file
from pyspeaker.mrt.routes import Route, routes
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire.attrs import AttrSet

from .mrtref import bgpdump_lines, needs_bgpdump

DATA = Path(__file__).parent / "data"


@needs_bgpdump
@pytest.mark.parametrize("name", ["quagga_bgp", "openbgpd_bgp", "openbgpd_rib_table-v2", "bird-mrtdump_bgp"])
def test_print_is_bgpdump_m(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrt", "print", str(DATA / name)]) == 0
    assert capsys.readouterr().out.splitlines() == bgpdump_lines(str(DATA / name))


def test_print_json_has_every_route_and_record(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "openbgpd_bgp"
    assert main(["mrt", "print", "--json", str(path)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    items = list(routes(read_file(path)))
    assert len(lines) == len(items)
    announced = [x for x in lines if x.get("kind") == "announce"]
    assert len(announced) == sum(1 for r in items if isinstance(r, Route) and r.kind == "A")
    assert all("attributes" in x and "prefix" in x for x in announced)
    kinds = {x["kind"] for x in lines}
    assert {"open", "keepalive", "state", "announce"} <= kinds


def test_print_peer_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrt", "print", "--peer", "192.168.1.10", str(DATA / "openbgpd_bgp")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.split("|")[3] == "192.168.1.10" for line in lines)


def test_print_a_truncated_file_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = (DATA / "quagga_bgp").read_bytes()
    cut = tmp_path / "cut.mrt"
    cut.write_bytes(data[:-5])
    assert main(["mrt", "print", str(cut)]) == 1
    captured = capsys.readouterr()
    assert "ends" in captured.err and "offset" in captured.err and "Traceback" not in captured.err
    assert captured.out  # what came before is printed


def test_replay_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrt", "replay", "/nonexistent.mrt", "--dut", "127.0.0.x", "--asn", "0"]) == 2
    err = capsys.readouterr().err
    assert "--dut" in err and "--asn" in err and "/nonexistent.mrt" in err


SINK = """
[global]
asn = 65000
router_id = "10.0.9.9"
listen = ["127.0.0.1"]
port = 0

[[neighbor]]
address = "127.0.3.1"
remote_as = 65001
passive = true
families = ["ipv4-unicast", "ipv6-unicast"]
import = "accept"
"""


async def test_replay_command_into_a_speaker() -> None:
    """The Quagga recording replayed over eBGP with --fast --exit-after-eor: every prefix it
    announced arrives, with our AS first and our address as next hop."""
    path = DATA / "quagga_bgp"
    want = {r.prefix_text for r in routes(read_file(path)) if isinstance(r, Route) and r.kind == "A"}
    got: dict[str, AttrSet | None] = {}
    eor = asyncio.Event()

    def on_event(_peer: str, event: object) -> None:
        from pyspeaker.fsm import types as ft

        if isinstance(event, ft.UpdateReceived):
            u = event.update
            if u.end_of_rib is not None:
                eor.set()
            for fam, ps in u.announced().items():
                for p in ps:
                    got[Route("A", "", 0, "", 0, fam, p).prefix_text] = u.attrs

    sink = Speaker(parse(SINK, "sink.toml"), on_event)
    await sink.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pyspeaker", "mrt", "replay", str(path), "--dut", "127.0.0.1",
            "--port", str(sink.port), "--asn", "65001", "--dut-asn", "65000", "--source", "127.0.3.1",
            "--fast", "--exit-after-eor", "--peer", "192.168.0.10",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        try:
            await asyncio.wait_for(eor.wait(), 10)
        except TimeoutError:
            raise AssertionError(f"no End-of-RIB at the speaker; replay said:\n{out.decode()}{err.decode()}") from None
    finally:
        await sink.stop()
    assert "Established" in out.decode() and "End-of-RIB" in out.decode()
    assert set(got) == want
    for prefix, attrs in got.items():
        assert attrs is not None
        asns = attrs.as_path.asns()
        assert asns[0] == 65001 and 4200000000 in asns
        if ":" not in prefix:
            assert str(attrs.next_hop) == "127.0.3.1"


@needs_bgpdump
def test_record_kinds_named_as_bgpdump_names_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """BGP4MP[_ET][_LOCAL][_AP], for every combination of subtype and timestamp; except that
    for the LOCAL_ADDPATH subtypes bgpdump prints the local side as the peer and no _LOCAL
    (inconsistent with its LOCAL subtypes): pyspeaker keeps the peer and says _LOCAL."""
    from pyspeaker.mrt import codec
    from pyspeaker.mrt.files import write_file
    from pyspeaker.wire import build_attrs, pack
    from pyspeaker.wire.prefix import parse as parse_prefix
    from pyspeaker.wire.values import AsPath

    attrs = build_attrs(origin=0, as_path=AsPath.sequence(65001), next_hop="192.0.2.1").raw
    plain = pack.announce_ipv4(attrs, [parse_prefix("10.1.0.0/16")])[0]
    with_id = pack.announce_ipv4(attrs, [parse_prefix("10.1.0.0/16", 7)])[0]
    recs = []
    kinds = [(e, lo, ap) for e in (False, True) for lo in (False, True) for ap in (False, True)]
    for ext, local, ap in kinds:
        msg = with_id if ap else plain
        ts = 1700000000.5 if ext else 1700000000.0
        rec = codec.Bgp4mpMessage(
            ts, 65001, 65000, "192.0.2.1", "192.0.2.2", msg, local=local, addpath=ap, extended=ext
        )
        recs.append(codec.encode(rec))
    path = tmp_path / "kinds.mrt"
    write_file(path, recs)
    assert main(["mrt", "print", str(path)]) == 0
    ours = capsys.readouterr().out.splitlines()
    theirs = bgpdump_lines(str(path))
    assert len(ours) == len(theirs) == len(kinds)
    for (ext, local, ap), mine, line in zip(kinds, ours, theirs, strict=True):
        name = "BGP4MP" + ("_ET" if ext else "") + ("_LOCAL" if local else "") + ("_AP" if ap else "")
        assert mine.split("|")[0] == name
        if local and ap:
            f = line.split("|")
            assert f[0] == name.replace("_LOCAL", "") and f[3] == "192.0.2.2"
            continue
        assert mine == line
