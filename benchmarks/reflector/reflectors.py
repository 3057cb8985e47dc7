"""The reflectors under test: pyspeaker, BIRD 2, FRR and GoBGP, each configured as a route
reflector in AS 65000 that accepts every client of :data:`plan.CLIENT_RANGE` as a dynamic
neighbor (route-reflector client, IPv4 and IPv6 unicast, hold time 240 s), started in the
foreground inside the run's namespace, with its own run folder.

CPU and memory are read from the one daemon process of each (FRR: bgpd, run without zebra).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from . import plan
from .namespace import Namespace

REPO = Path(__file__).resolve().parents[2]
FRR_DIR = Path("/usr/lib/frr")
READY_TIMEOUT = 20.0
LINK6 = plan.LINK_ADDRESSES[2].split("/")[0]


def wait_for(probe: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    """Poll ``probe`` (a daemon's CLI, a listening socket) until true, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{what}: not ready within {timeout} s")
        time.sleep(0.05)


class Reflector:
    name: ClassVar[str] = ""
    binaries: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ns: Namespace, rundir: Path, clients: int) -> None:
        self.ns = ns
        self.rundir = rundir
        self.clients = clients
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    @classmethod
    def missing(cls) -> str | None:
        """Why this reflector cannot run here (None: it can)."""
        for b in cls.binaries:
            if not (os.access(b, os.X_OK) if "/" in b else shutil.which(b)):
                return f"{b} not installed"
        return None

    @classmethod
    def version(cls) -> str:
        return cls.name

    def start(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def spawn(self, argv: list[str], log: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        path = self.rundir / log
        self.logs.append(path)
        proc = self.ns.spawn(argv, path, cwd)
        self.procs.append(proc)
        return proc

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def check_alive(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {p.returncode}:\n{self.log_tail()}")

    def wait_listening(self) -> None:
        def probe() -> bool:
            self.check_alive()
            return self.ns.listening(plan.PORT)

        wait_for(probe, f"{self.name} listening on port {plan.PORT}")

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for p in self.logs:
            if p.exists():
                text = p.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {p.name} ---\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        for p in reversed(self.procs):
            self.ns.stop(p)


def _first_line(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (p.stdout + p.stderr).strip().splitlines()
    return text[0] if text else "?"


# -- pyspeaker ---------------------------------------------------------------------------------
class Pyspeaker(Reflector):
    name = "pyspeaker"

    @classmethod
    def version(cls) -> str:
        rev = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        return f"pyspeaker {rev}"

    def config(self) -> str:
        return textwrap.dedent(f"""\
            [global]
            asn = {plan.ASN}
            router_id = "{plan.REFLECTOR}"
            listen = ["{plan.REFLECTOR}"]
            port = {plan.PORT}
            listen_backlog = 4096
            cluster_id = "{plan.REFLECTOR}"

            [[listen_range]]
            prefix = "{plan.CLIENT_RANGE}"
            remote_as = {plan.ASN}
            families = ["ipv4-unicast", "ipv6-unicast"]
            rr_client = true
            hold_time = {plan.HOLD_TIME}
            """)

    def start(self) -> None:
        conf = self.rundir / "pyspeaker.toml"
        conf.write_text(self.config())
        argv = [sys.executable, "-m", "pyspeaker", "run", "--config", str(conf)]
        self.spawn(argv, "pyspeaker.log", cwd=REPO)
        log = self.rundir / "pyspeaker.log"

        def banner() -> bool:
            self.check_alive()
            return "listening on" in log.read_text(errors="replace")

        wait_for(banner, "pyspeaker's banner")
        self.wait_listening()


# -- BIRD 2 ------------------------------------------------------------------------------------
class Bird(Reflector):
    """One ``protocol bgp`` with ``neighbor range``: BIRD spawns a protocol per client."""

    name = "bird"
    binaries = ("bird", "birdc")

    @classmethod
    def version(cls) -> str:
        return _first_line(["bird", "--version"])

    def config(self) -> str:
        return textwrap.dedent(f"""\
            log "{self.rundir}/bird-events.log" {{ info, remote, warning, error, auth, fatal, bug, debug, trace }};
            router id {plan.REFLECTOR};
            protocol device {{ scan time 10; }}
            protocol direct {{ ipv4; ipv6; interface "bench0"; }}
            protocol bgp clients {{
              local {plan.REFLECTOR} port {plan.PORT} as {plan.ASN};
              neighbor range {plan.CLIENT_RANGE} internal;
              dynamic name "c";
              dynamic name digits 5;
              rr client;
              rr cluster id {plan.REFLECTOR};
              hold time {plan.HOLD_TIME};
              ipv4 {{ import all; export where source = RTS_BGP; }};
              # (only for routes BIRD would send with itself as next hop: none here)
              ipv6 {{ import all; export where source = RTS_BGP; next hop address {LINK6}; }};
            }}
            """)

    @property
    def ctl(self) -> str:
        return str(self.rundir / "bird.ctl")

    def start(self) -> None:
        conf = self.rundir / "bird.conf"
        conf.write_text(self.config())
        self.spawn(["bird", "-f", "-c", str(conf), "-s", self.ctl, "-P", str(self.rundir / "bird.pid")], "bird.log")

        def up() -> bool:
            self.check_alive()
            p = subprocess.run(["birdc", "-s", self.ctl, "show", "status"], capture_output=True, text=True, timeout=5)
            return "Daemon is up and running" in p.stdout

        wait_for(up, "BIRD's control socket")
        self.wait_listening()


# -- FRR ---------------------------------------------------------------------------------------
class Frr(Reflector):
    """bgpd alone (``-Z``: no zebra; ``-n``: no FIB), as a route reflector that installs
    nothing is usually run. With zebra, bgpd refuses every session on 127.0.0.1 ("nexthop_set
    failed"): zebra does not report loopback addresses to bgpd. Without zebra bgpd treats
    every next hop as reachable. ``bgp listen range`` with a peer group; ``bgp listen limit``
    raised from its default of 100 dynamic neighbors. The update-group coalesce time is left
    to FRR (it grows with the number of peers, up to 10 s) unless ``coalesce_ms`` is set."""

    name = "frr"
    binaries = (str(FRR_DIR / "bgpd"), "vtysh")
    coalesce_ms: int | None = None

    @classmethod
    def version(cls) -> str:
        line = _first_line([str(FRR_DIR / "bgpd"), "--version"])
        return line.replace("bgpd version", "FRR").strip()

    def config(self) -> str:
        lines = [
            "frr defaults traditional",
            "hostname reflector",
            f"log file {self.rundir}/bgpd-events.log informational",
            "!",
            f"router bgp {plan.ASN}",
            f" bgp router-id {plan.REFLECTOR}",
            f" bgp cluster-id {plan.REFLECTOR}",
            " no bgp default ipv4-unicast",
            " bgp listen limit 65535",
            f" timers bgp {plan.HOLD_TIME // 3} {plan.HOLD_TIME}",
        ]
        if self.coalesce_ms is not None:
            lines.append(f" coalesce-time {self.coalesce_ms}")
        lines += [
            " neighbor clients peer-group",
            f" neighbor clients remote-as {plan.ASN}",
            f" bgp listen range {plan.CLIENT_RANGE} peer-group clients",
        ]
        for af in ("ipv4", "ipv6"):
            lines += [
                f" address-family {af} unicast",
                "  neighbor clients activate",
                "  neighbor clients route-reflector-client",
                " exit-address-family",
            ]
        return "\n".join([*lines, "!"]) + "\n"

    def start(self) -> None:
        run = str(self.rundir)
        conf = self.rundir / "bgpd.conf"
        conf.write_text(self.config())
        os.chmod(conf, 0o644)
        self.spawn(
            [str(FRR_DIR / "bgpd"), "-f", str(conf), "-i", f"{run}/bgpd.pid", "--vty_socket", run,
             "-n", "-Z", "-S", "-u", "root", "-g", "root", "-P", "0", "-p", str(plan.PORT)],
            "bgpd.log",
        )  # fmt: skip

        def bgpd_up() -> bool:
            self.check_alive()
            argv = ["vtysh", "--vty_socket", run, "-d", "bgpd", "-c", "show running-config"]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            return p.returncode == 0 and "bgp listen range" in p.stdout

        wait_for(bgpd_up, "bgpd's vty")
        self.wait_listening()


# -- GoBGP -------------------------------------------------------------------------------------
class Gobgp(Reflector):
    """A peer group with ``[[dynamic-neighbors]]`` for the client range."""

    name = "gobgp"
    binaries = ("gobgpd", "gobgp")
    api = "127.0.0.1:50051"  # inside the run's namespace

    @classmethod
    def version(cls) -> str:
        return _first_line(["gobgpd", "--version"]).replace("gobgpd version", "GoBGP").strip()

    def config(self) -> str:
        return textwrap.dedent(f"""\
            [global.config]
              as = {plan.ASN}
              router-id = "{plan.REFLECTOR}"
              port = {plan.PORT}
              local-address-list = ["{plan.REFLECTOR}"]

            [[peer-groups]]
              [peer-groups.config]
                peer-group-name = "clients"
                peer-as = {plan.ASN}
              [peer-groups.timers.config]
                hold-time = {plan.HOLD_TIME}
                keepalive-interval = {plan.HOLD_TIME // 3}
              [peer-groups.route-reflector.config]
                route-reflector-client = true
                route-reflector-cluster-id = "{plan.REFLECTOR}"
              [[peer-groups.afi-safis]]
                [peer-groups.afi-safis.config]
                  afi-safi-name = "ipv4-unicast"
              [[peer-groups.afi-safis]]
                [peer-groups.afi-safis.config]
                  afi-safi-name = "ipv6-unicast"

            [[dynamic-neighbors]]
              [dynamic-neighbors.config]
                prefix = "{plan.CLIENT_RANGE}"
                peer-group = "clients"
            """)

    def start(self) -> None:
        conf = self.rundir / "gobgpd.toml"
        conf.write_text(self.config())
        self.spawn(["gobgpd", "-f", str(conf), "--api-hosts", self.api, "--pprof-disable"], "gobgpd.log")
        host, port = self.api.split(":")

        def up() -> bool:
            self.check_alive()
            p = self.ns.run("gobgp", "-u", host, "-p", port, "global", check=False, timeout=5)
            return p.returncode == 0 and "AS:" in p.stdout

        wait_for(up, "gobgpd's API")
        self.wait_listening()


REFLECTORS: dict[str, type[Reflector]] = {c.name: c for c in (Pyspeaker, Bird, Frr, Gobgp)}
