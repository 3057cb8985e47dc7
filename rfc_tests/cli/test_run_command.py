"""`pyspeaker run` and `check-config`: bad configuration is refused before anything starts,
naming the file and the key; a good one runs until SIGTERM and exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pyspeaker.config import ConfigError, default_text, load_default, parse


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pyspeaker.cli", *args]


def test_bad_config_names_file_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[global]\nasn = 65000\nrouter_id = "0.0.0.0"\n[[neighbor]]\naddress = "10.0.0.300"\n'
        "remote_as = 65001\nhold_time = 1\n"
    )
    proc = subprocess.run(_cli("run", "--config", str(path)), capture_output=True, timeout=30, check=False, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert any("global.router_id" in line for line in lines)
    assert any("neighbor[0].address" in line for line in lines)
    assert any("neighbor[0].hold_time" in line for line in lines)
    assert "Traceback" not in proc.stderr


def test_check_config_accepts_the_default(tmp_path: Path) -> None:
    path = tmp_path / "default.toml"
    path.write_text(default_text())
    proc = subprocess.run(_cli("check-config", str(path)), capture_output=True, timeout=30, check=False, text=True)
    assert proc.returncode == 0 and "OK (0 neighbors, 1 listen ranges)" in proc.stdout


def test_every_problem_is_reported_at_once() -> None:
    try:
        parse('[global]\nasn = "x"\n[[neighbor]]\nremote_as = 1\nbogus = 3\n[extra]\n', "c.toml")
    except ConfigError as exc:
        keys = [p.split(":")[0] for p in exc.problems]
        assert keys == ["global.asn", "global.router_id", "neighbor[0].address", "neighbor[0].bogus", "extra"]
    else:
        raise AssertionError("accepted a broken config")


def test_default_config_is_loopback_only() -> None:
    config = load_default()
    assert all(a.is_loopback for a in config.global_.listen)
    assert all(n.address.is_loopback and n.passive for n in config.neighbors)
    assert config.listen_ranges and all(r.network.network_address.is_loopback for r in config.listen_ranges)
    assert all(r.template.rr_client and r.template.remote_as == config.global_.asn for r in config.listen_ranges)


def test_run_default_until_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        _cli("run", "--log-format", "json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once listening
        assert "listening on 127.0.0.1 port 1179" in first
        banner = [proc.stdout.readline() for _ in range(3)]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert any("listen range 127.0.0.0/8 AS 65000" in line for line in banner)
    assert '"level": "info"' in err and "stopping" in err


def test_example_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    configs = sorted(root.glob("*.toml"))
    assert configs
    for path in configs:
        proc = subprocess.run(_cli("check-config", str(path)), capture_output=True, timeout=30, check=False, text=True)
        assert proc.returncode == 0, proc.stderr


def test_sigusr1_is_a_graceful_stop_that_leaves_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.msgpack"
    config = tmp_path / "rr.toml"
    config.write_text(default_text().replace("port = 1179", f'port = 0\nstate_file = "{state}"'))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        _cli("run", "--config", str(config)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        assert "listening on" in proc.stdout.readline()
        proc.send_signal(signal.SIGUSR1)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert state.exists() and "graceful stop" in err
