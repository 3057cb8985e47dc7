"""`pyspeaker decode` and `pyspeaker demo`, run as a user runs them; the example too."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.corpus import generate_small, iter_messages

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pyspeaker.cli", *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def test_decode_prints_one_json_line_per_message(tmp_path: Path) -> None:
    data = generate_small(3)
    path = tmp_path / "stream.bgp"
    path.write_bytes(data)
    proc = _run("decode", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == sum(1 for _ in iter_messages(data))
    announced = sum(len(v) for rec in lines for v in rec.get("announce", {}).values())
    withdrawn = sum(len(v) for rec in lines for v in rec.get("withdraw", {}).values())
    assert announced == 4000  # generate_small: 3000 IPv4 + 1000 IPv6 prefixes
    assert withdrawn == 400  # and 10% of them withdrawn afterwards
    assert {rec.get("end_of_rib") for rec in lines} >= {"ipv4-unicast", "ipv6-unicast"}
    first = next(rec for rec in lines if "announce" in rec)
    assert {"origin", "as_path"} <= set(first["attributes"])


def test_decode_reads_stdin_and_reports_a_broken_stream() -> None:
    data = generate_small(3)
    truncated = data[: len(data) - 5]
    proc = _run("decode", "-", stdin=truncated)
    assert proc.returncode == 1
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["type"] == "ERROR" and "truncated" in last["error"]


def test_decode_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    proc = _run("decode", str(tmp_path / "nope.bgp"))
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and "cannot read" in proc.stderr.decode()
    assert b"Traceback" not in proc.stderr


def test_demo_round_trips_its_table() -> None:
    proc = _run("demo", "--prefixes", "5000")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "encoded 5,000 IPv4 prefixes" in out
    assert "6,000 prefixes" in out  # 5000 IPv4 + 1000 IPv6 decoded back


def test_codec_example_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "codec_basics.py")], capture_output=True, timeout=60, check=True
    )
    assert proc.stdout.decode().splitlines() == [
        "announce ipv4-unicast: 10.0.1.0/24, 10.2.0.0/16 as-path 65001 4200000000",
        "announce ipv6-unicast: 2001:db8:1::/48 as-path 65001 4200000000",
        "withdraw ipv4-unicast: 10.2.0.0/16",
        "End-of-RIB ipv4-unicast",
        "End-of-RIB ipv6-unicast",
    ]


def test_wire_is_sans_io() -> None:
    """Nothing in pyspeaker/wire imports asyncio, sockets' I/O or threads."""
    banned = {"asyncio", "threading", "selectors", "uvloop"}
    for path in (ROOT / "pyspeaker" / "wire").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            assert not banned & set(names), f"{path.name} imports {banned & set(names)}"
