"""The test peer examples without a daemon: the BIRD example is skipped (not failed) with no
DUT configured; the MetalLB check refuses bad arguments with exit status 2. Against real
daemons they run in rfc_tests/interop/test_examples_testpeer.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bird_example_is_skipped_without_a_dut() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "examples/test_bird_keeps_routes.py"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "no BGP device under test configured" in proc.stdout


@pytest.mark.parametrize(
    ("service", "extra", "error"),
    [
        ("10.2.0.0/24", [], "a service address is a /32 or /128"),
        ("10.2.0.300/32", [], "does not appear to be an IPv4 or IPv6 network"),
        ("10.2.0.10/32", ["--source", "fd00::1"], "--router-id is needed"),
    ],
)
def test_metallb_check_refuses_bad_arguments(
    service: str, extra: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _load("metallb_gr_check")
    argv = ["--dut", "192.0.2.1", "--asn", "65001", "--service", service, "--restart-command", "true", *extra]
    assert example.main(argv) == 2
    assert error in capsys.readouterr().err
