"""The Dockerfile's own steps, without a container engine, so that it cannot rot.

The Dockerfile is parsed; its COPY steps are replayed into a directory standing for the
image's root, its Python install steps (the RUN lines with ``python -m venv`` / ``pip
install``) are run there as written, with only the image's paths moved under that directory;
then the ENTRYPOINT with CMD runs the speaker on the mounted-config path, and the HEALTHCHECK
command is run against it. Steps that need the image's root and apt (useradd, apt-get, setcap)
are checked for what they must do but not run.

Needs a package index for pip (this machine has a local one, ``pip config list``); set
PYSPEAKER_OFFLINE=1 to skip it, or deselect it with ``-m "not packaging"``.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
TIMEOUT = 20.0
ADDR = "127.0.9.1"

pytestmark = pytest.mark.packaging


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction: comments dropped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, args = whole.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def env_of(steps: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for kw, args in steps:
        if kw == "ENV":
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                env[key] = value
    return env


STEPS = instructions(DOCKERFILE.read_text())
ENV = env_of(STEPS)


def one(keyword: str) -> str:
    found = [a for k, a in STEPS if k == keyword]
    assert found, f"no {keyword} in the Dockerfile"
    return found[-1]


# -- the Dockerfile says what it must --------------------------------------------------------------
def test_small_base_non_root_user_volume_and_healthcheck() -> None:
    assert STEPS[0] == ("FROM", "python:3.11-slim")
    user = one("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    keywords = [k for k, _ in STEPS]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    runs = " ".join(a for k, a in STEPS if k == "RUN")
    assert f"useradd --system --uid 10179 --user-group --home-dir /var/lib/{user}" in runs
    # the control socket's directory is the user's, and the clients find it there
    assert f"install -d -o {user} -g {user}" in runs and "/run/pyspeaker" in runs
    assert ENV["XDG_RUNTIME_DIR"] == "/run/pyspeaker"
    assert ENV["PYSPEAKER_SOCKET"] == "/run/pyspeaker/pyspeaker.sock"
    # port 179: a file capability on the venv's own interpreter, and libcap removed after
    assert "setcap cap_net_bind_service=+ep" in runs and "/opt/pyspeaker/venv/bin/python" in runs
    assert "apt-get purge -y --auto-remove libcap2-bin" in runs and "rm -rf /var/lib/apt/lists/*" in runs
    assert json.loads(one("VOLUME")) == ["/var/lib/pyspeaker"]
    assert ENV["PYSPEAKER_CONFIG"] == "/etc/pyspeaker/pyspeaker.toml"
    health = one("HEALTHCHECK")
    assert json.loads(health.partition(" CMD ")[2]) == ["pyspeaker", "status", "--quiet"]
    assert json.loads(one("CMD"))[0] == "run"


# -- the entry point's choice of configuration ----------------------------------------------------
def _entrypoint_args(tmp: Path, args: list[str], config_exists: bool) -> list[str]:
    stub = tmp / "bin"
    stub.mkdir(exist_ok=True)
    (stub / "pyspeaker").write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    (stub / "pyspeaker").chmod(0o755)
    conf = tmp / "pyspeaker.toml"
    if config_exists:
        conf.write_text("")
    elif conf.exists():
        conf.unlink()
    out = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), *args],
        env={"PATH": f"{stub}:/usr/bin:/bin", "PYSPEAKER_CONFIG": str(conf)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return out.stdout.splitlines()


def test_entrypoint_uses_the_mounted_config_if_present(tmp_path: Path) -> None:
    cmd = json.loads(one("CMD"))
    conf = str(tmp_path / "pyspeaker.toml")
    assert _entrypoint_args(tmp_path, cmd, True) == ["run", "--config", conf, *cmd[1:]]
    assert _entrypoint_args(tmp_path, cmd, False) == cmd  # the embedded default
    mine = ["run", "--config", "/x.toml"]
    assert _entrypoint_args(tmp_path, mine, True) == mine
    assert _entrypoint_args(tmp_path, ["neighbor", "--json"], True) == ["neighbor", "--json"]


# -- the install, CMD and HEALTHCHECK, for real -------------------------------------------------------
IMAGE_PATHS = ("/opt/pyspeaker", "/etc/pyspeaker", "/run/pyspeaker", "/var/lib/pyspeaker", "/usr/local/bin/")


def _moved(text: str, root: Path) -> str:
    for p in IMAGE_PATHS:
        text = text.replace(p, f"{root}{p}")
    return text


def _wait_line(stream: int, pred: object, what: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    buf = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(stream, 65536).decode()
        if not chunk:
            break
        buf += chunk
        for line in buf.splitlines():
            if callable(pred) and pred(line):
                return line
    raise AssertionError(f"pyspeaker run: no {what}; output so far: {buf!r}")


@pytest.mark.skipif(bool(os.environ.get("PYSPEAKER_OFFLINE")), reason="PYSPEAKER_OFFLINE is set: pip needs an index")
def test_install_then_run_cmd_and_healthcheck(tmp_path: Path) -> None:
    root = tmp_path / "img"
    root.mkdir()
    cwd = root
    ran = []
    for kw, args in STEPS:
        if kw == "WORKDIR":
            cwd = Path(_moved(args, root))
            cwd.mkdir(parents=True, exist_ok=True)
        elif kw == "COPY":
            *sources, dest = shlex.split(args)
            target = Path(_moved(dest, root)) if dest.startswith("/") else cwd / dest
            for src in sources:
                s = ROOT / src
                if s.is_dir():
                    shutil.copytree(s, target, ignore=shutil.ignore_patterns("__pycache__"))
                elif dest.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(s, target / s.name)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(s, target)
        elif kw == "RUN" and ("pip install" in args or "-m venv" in args):
            command = _moved(args, root)
            command = command.replace("python -m venv", f"{shlex.quote(sys.executable)} -m venv", 1)
            # run only what stays inside the stand-in root: never a path of this machine
            outside = [w for w in shlex.split(command) if w.startswith("/") and not w.startswith(f"{root}/")]
            assert outside in ([], [sys.executable]), f"RUN {args}: touches {outside} outside the image's paths"
            done = subprocess.run(
                ["sh", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
            )
            assert done.returncode == 0, f"RUN {args}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            ran.append(args)
    assert ran, "no Python install step found in the Dockerfile"
    venv_bin = root / "opt/pyspeaker/venv/bin"
    assert (venv_bin / "pyspeaker").exists()
    # setcap's target: real files (copies, not links) in the venv
    assert not (venv_bin / "python3.11").is_symlink()

    env = {k: _moved(v, root) for k, v in ENV.items()}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ["PATH"])
    env["HOME"] = str(tmp_path)
    sock = root / "run/pyspeaker/pyspeaker.sock"
    assert env["PYSPEAKER_SOCKET"] == str(sock)
    sock.parent.mkdir(parents=True, exist_ok=True)
    conf = Path(env["PYSPEAKER_CONFIG"])
    conf.parent.mkdir(parents=True, exist_ok=True)
    # the operator's mounted file; the control socket is named because these tests run as root
    # (root's default socket is /run/pyspeaker/pyspeaker.sock of this machine, not the image's
    # $XDG_RUNTIME_DIR one)
    conf.write_text(
        f"""
[global]
asn = 65090
router_id = "{ADDR}"
listen = ["{ADDR}"]
port = 0
state_file = "{root}/var/lib/pyspeaker/state"

[[neighbor]]
address = "127.0.9.2"
remote_as = 65090
passive = true

[metrics]
listen = "{ADDR}:0"

[control]
socket = "{sock}"
"""
    )
    entry = _moved(json.loads(one("ENTRYPOINT"))[0], root)
    check = subprocess.run(
        [entry, "check-config", str(conf)], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert check.returncode == 0 and "OK" in check.stdout, check.stderr
    health = json.loads(one("HEALTHCHECK").partition(" CMD ")[2])

    def healthy() -> int:
        return subprocess.run(health, env=env, capture_output=True, timeout=TIMEOUT, check=False).returncode

    assert healthy() != 0  # nothing running yet: the check must be able to fail

    proc = subprocess.Popen([entry, *json.loads(one("CMD"))], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        banner = _wait_line(proc.stdout.fileno(), lambda line: "listening on" in line, "banner")
        assert f"pyspeaker AS 65090, router id {ADDR}" in banner  # the mounted file, not the default
        port = int(banner.rsplit("port ", 1)[1].split()[0].rstrip(","))
        with socket.create_connection((ADDR, port), timeout=TIMEOUT):
            pass  # the BGP port answers
        deadline = time.monotonic() + TIMEOUT
        status = healthy()
        while status != 0 and time.monotonic() < deadline:  # the control socket opens after the banner
            time.sleep(0.2)
            status = healthy()
        assert status == 0, "HEALTHCHECK failed against the running speaker"
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)
    assert proc.returncode == 0
    assert healthy() != 0
