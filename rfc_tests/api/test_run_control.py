"""``pyspeaker run`` serves the control socket of its configuration (uvloop when installed):
``pyspeaker status`` answers while it runs, the socket has the configured mode and is gone
after SIGTERM; a configured socket that another speaker serves stops the second one at once
with one line naming it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from pyspeaker.config import default_text


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pyspeaker.cli", *args]


def test_run_serves_the_configured_socket(tmp_path: Path) -> None:
    sock = tmp_path / "run.sock"
    config = tmp_path / "rr.toml"
    config.write_text(
        default_text().replace("port = 1179", "port = 0") + f'\n[control]\nsocket = "{sock}"\nmode = "0600"\n'
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        _cli("run", "--config", str(config)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        assert "listening on" in proc.stdout.readline()  # printed once the socket is served too
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        status = subprocess.run(
            _cli("status", "--socket", str(sock)), capture_output=True, text=True, timeout=30, check=False
        )
        assert status.returncode == 0 and "pyspeaker up: AS 65000" in status.stdout, status.stderr
        # a second speaker on the same configured socket: refused, one line, exit 1
        second = subprocess.run(
            _cli("run", "--config", str(config)), capture_output=True, text=True, timeout=30, check=False
        )
        assert second.returncode == 1
        assert (
            second.stderr.strip().splitlines()[-1]
            == f"pyspeaker: control socket {sock}: another speaker is answering there"
        )
        assert "Traceback" not in second.stderr
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert not sock.exists()
    gone = subprocess.run(
        _cli("status", "--socket", str(sock)), capture_output=True, text=True, timeout=30, check=False
    )
    assert (
        gone.returncode == 1
        and gone.stderr.strip()
        == f"pyspeaker: {sock}: no such socket (is pyspeaker running? --socket or $PYSPEAKER_SOCKET)"
    )
