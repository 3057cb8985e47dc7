"""The reflectors under test: pyspeaker, BIRD 2, FRR and GoBGP, each configured as a route
reflector in AS 65000 that accepts every client of :data:`plan.CLIENT_RANGE` as a dynamic
neighbor (route-reflector client, IPv4 and IPv6 unicast, hold time 240 s), started in the
foreground inside the run's namespace, with its own run folder.

CPU and memory are read from the one daemon process of each (FRR: bgpd, run without zebra).

With ``gr=True`` each is configured to restart gracefully (RFC 4724) and
:meth:`Reflector.graceful_restart` does it the way its operators do: pyspeaker SIGUSR1 and the
same command again (its ``state_file``), BIRD ``birdc graceful restart`` and ``bird -R``,
GoBGP SIGKILL and ``gobgpd -r``, FRR SIGKILL and bgpd again (``bgp graceful-restart
preserve-fw-state``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from . import plan
from .namespace import Namespace

REPO = Path(__file__).resolve().parents[2]
FRR_DIR = Path("/usr/lib/frr")
READY_TIMEOUT = 20.0
EXIT_TIMEOUT = 60.0  # a graceful stop: the old process must be gone within this
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

    # its dynamic neighbors (a listen range) do not take part in its graceful restart: a
    # graceful-restart run configures every client as a neighbor of its own
    gr_needs_static: ClassVar[bool] = False

    def __init__(self, ns: Namespace, rundir: Path, clients: int, gr: bool = False, static: bool = False) -> None:
        self.ns = ns
        self.rundir = rundir
        self.clients = clients
        self.gr = gr  # configured to restart gracefully
        self.static = static  # one configured (passive) neighbor per client instead of a listen range
        self.restarting = False  # the next start is the one after a graceful stop
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

    # -- graceful restart ------------------------------------------------------------------
    def graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        """Make the daemon ``proc`` stop so that its peers keep its routes."""
        raise NotImplementedError

    def graceful_restart(self) -> dict[str, Any]:
        """Stop the daemon gracefully, wait until it is gone, start it again in restart mode
        and wait until it listens. Returns the new process ids, the old process's CPU
        seconds (utime + stime from wait4, all its threads) and peak RSS, and timings."""
        old = self.procs[-1]
        began = time.monotonic()
        self.graceful_stop(old)
        rusage = _reap(old, EXIT_TIMEOUT)
        exited = time.monotonic()
        self.procs.remove(old)
        self.restarting = True
        self.start()
        return {
            "pids": self.pids(),
            "old_cpu": round(rusage.ru_utime + rusage.ru_stime, 3),
            "old_peak_rss_mb": round(rusage.ru_maxrss / 1024, 1),
            "exit_seconds": round(exited - began, 3),
            "down_seconds": round(time.monotonic() - began, 3),
            "old_returncode": old.returncode,
        }


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> Any:
    """Wait (bounded) for ``proc`` to exit and return its resource usage (os.wait4)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return rusage
        if time.monotonic() >= deadline:
            proc.kill()
            pid, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise RuntimeError(f"pid {proc.pid} still running {timeout:.0f} s after its graceful stop: killed")
        time.sleep(0.005)


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

    selection_deferral = 60  # after its restart, the longest wait for the clients' End-of-RIB

    def config(self) -> str:
        text = textwrap.dedent(f"""\
            [global]
            asn = {plan.ASN}
            router_id = "{plan.REFLECTOR}"
            listen = ["{plan.REFLECTOR}"]
            port = {plan.PORT}
            listen_backlog = 4096
            cluster_id = "{plan.REFLECTOR}"
            @global@

            [[listen_range]]
            prefix = "{plan.CLIENT_RANGE}"
            remote_as = {plan.ASN}
            families = ["ipv4-unicast", "ipv6-unicast"]
            rr_client = true
            hold_time = {plan.HOLD_TIME}
            @range@
            """)
        glob = rng = ""
        if self.gr:  # restarts gracefully: its state file; the longest wait for End-of-RIBs
            glob = f'state_file = "{self.rundir}/state.msgpack"\nselection_deferral = {self.selection_deferral}\n'
            rng = f"restart_time = {plan.REFLECTOR_RESTART_TIME}\n"
        return text.replace("@global@\n", glob).replace("@range@\n", rng)

    def start(self) -> None:
        """The same command the first time and after a graceful stop (the state file, when
        there is one, makes it a graceful restart)."""
        conf = self.rundir / "pyspeaker.toml"
        conf.write_text(self.config())
        argv = [sys.executable, "-m", "pyspeaker", "run", "--config", str(conf)]
        log = self.rundir / "pyspeaker.log"
        offset = log.stat().st_size if log.exists() else 0
        self.spawn(argv, "pyspeaker.log", cwd=REPO)

        def banner() -> bool:
            self.check_alive()
            with log.open("rb") as f:
                f.seek(offset)
                return b"listening on" in f.read()

        wait_for(banner, "pyspeaker's banner")
        self.wait_listening()

    def graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGUSR1)  # writes the state file, closes without NOTIFICATION, exits


# -- BIRD 2 ------------------------------------------------------------------------------------
class Bird(Reflector):
    """One ``protocol bgp`` with ``neighbor range``: BIRD spawns a protocol per client. With
    ``static``, a passive ``protocol bgp`` per client from one template. After ``bird -R``
    the dynamic ones announce neither R nor F (a cold start for their peers): only configured
    protocols take part in BIRD's graceful restart recovery."""

    name = "bird"
    binaries = ("bird", "birdc")
    gr_needs_static = True
    gr_wait = 60  # "graceful restart wait": the longest recovery (default 240 s)

    @classmethod
    def version(cls) -> str:
        return _first_line(["bird", "--version"])

    def config(self) -> str:
        text = textwrap.dedent(f"""\
            log "{self.rundir}/bird-events.log" {{ info, remote, warning, error, auth, fatal, bug, debug, trace }};
            router id {plan.REFLECTOR};
            @global@
            protocol device {{ scan time 10; }}
            protocol direct {{ ipv4; ipv6; interface "bench0"; }}
            @kind@ {{
              local {plan.REFLECTOR} port {plan.PORT} as {plan.ASN};
              @neighbor@
              rr client;
              rr cluster id {plan.REFLECTOR};
              hold time {plan.HOLD_TIME};
              @restart@
              ipv4 {{ import all; export where source = RTS_BGP; }};
              # (only for routes BIRD would send with itself as next hop: none here)
              ipv6 {{ import all; export where source = RTS_BGP; next hop address {LINK6}; }};
            }}
            """)
        if self.static:
            kind, neighbor = "template bgp rrclient", "passive on;"
        else:
            kind = "protocol bgp clients"
            neighbor = f'neighbor range {plan.CLIENT_RANGE} internal;\n  dynamic name "c";\n  dynamic name digits 5;'
        glob = restart = ""
        if self.gr:
            glob = f"graceful restart wait {self.gr_wait};"
            restart = f"graceful restart on; graceful restart time {plan.REFLECTOR_RESTART_TIME};"
        lines = [line for line in text.splitlines() if line.strip() not in ("@global@", "@restart@") or self.gr]
        text = "\n".join(lines) + "\n"
        text = text.replace("@kind@", kind).replace("@neighbor@", neighbor)
        text = text.replace("@global@", glob).replace("@restart@", restart)
        if self.static:
            text += "".join(
                f"protocol bgp c{i:05d} from rrclient {{ neighbor {plan.client_address(i)} as {plan.ASN}; }}\n"
                for i in range(self.clients)
            )
        return text

    @property
    def ctl(self) -> str:
        return str(self.rundir / "bird.ctl")

    def start(self) -> None:
        conf = self.rundir / "bird.conf"
        conf.write_text(self.config())
        argv = ["bird", "-f", "-c", str(conf), "-s", self.ctl, "-P", str(self.rundir / "bird.pid")]
        self.spawn([*argv, "-R"] if self.restarting else argv, "bird.log")

        def up() -> bool:
            self.check_alive()
            p = subprocess.run(["birdc", "-s", self.ctl, "show", "status"], capture_output=True, text=True, timeout=5)
            return "Daemon is up and running" in p.stdout or "Graceful restart recovery in progress" in p.stdout

        wait_for(up, "BIRD's control socket")
        self.wait_listening()

    def graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        p = subprocess.run(["birdc", "-s", self.ctl, "graceful", "restart"], capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            raise RuntimeError(f"birdc graceful restart: {p.stdout.strip()} {p.stderr.strip()}")


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
    select_defer_time = 60  # after a restart, the longest wait for peers' End-of-RIB

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
        if self.gr:
            lines += [
                " bgp graceful-restart",
                f" bgp graceful-restart restart-time {plan.REFLECTOR_RESTART_TIME}",
                " bgp graceful-restart preserve-fw-state",  # F set after a restart
                f" bgp graceful-restart select-defer-time {self.select_defer_time}",
            ]
        lines += [
            " neighbor clients peer-group",
            f" neighbor clients remote-as {plan.ASN}",
        ]
        if self.static:
            lines.append(" neighbor clients passive")
            lines += [f" neighbor {plan.client_address(i)} peer-group clients" for i in range(self.clients)]
        else:
            lines.append(f" bgp listen range {plan.CLIENT_RANGE} peer-group clients")
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
            return p.returncode == 0 and "peer-group clients" in p.stdout

        wait_for(bgpd_up, "bgpd's vty")
        self.wait_listening()

    def graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()  # no NOTIFICATION; the next bgpd announces R (any bgpd does for 120 s) and F


# -- GoBGP -------------------------------------------------------------------------------------
class Gobgp(Reflector):
    """A peer group with ``[[dynamic-neighbors]]`` for the client range. With ``static``,
    a (passive) ``[[neighbors]]`` entry of the peer group per client: after ``gobgpd -r``
    dynamic neighbors are sent neither R nor F (a cold start for their peers)."""

    name = "gobgp"
    gr_needs_static = True
    binaries = ("gobgpd", "gobgp")
    api = "127.0.0.1:50051"  # inside the run's namespace

    @classmethod
    def version(cls) -> str:
        return _first_line(["gobgpd", "--version"]).replace("gobgpd version", "GoBGP").strip()

    def config(self) -> str:
        text = textwrap.dedent(f"""\
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
              @gr@
              [[peer-groups.afi-safis]]
                [peer-groups.afi-safis.config]
                  afi-safi-name = "ipv4-unicast"
                @mp@
              [[peer-groups.afi-safis]]
                [peer-groups.afi-safis.config]
                  afi-safi-name = "ipv6-unicast"
                @mp@

            """)
        if self.static:
            text += "  [peer-groups.transport.config]\n    passive-mode = true\n"
            text += "".join(
                f'\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "{plan.client_address(i)}"\n'
                '    peer-group = "clients"\n'
                for i in range(self.clients)
            )
        else:
            text += textwrap.dedent(f"""
                [[dynamic-neighbors]]
                  [dynamic-neighbors.config]
                    prefix = "{plan.CLIENT_RANGE}"
                    peer-group = "clients"
                """)
        # restarts gracefully (gobgpd -r), both families in the capability
        gr = "[peer-groups.graceful-restart.config]\n    enabled = true\n"
        gr += f"    restart-time = {plan.REFLECTOR_RESTART_TIME}"
        mp = "[peer-groups.afi-safis.mp-graceful-restart.config]\n      enabled = true"
        lines = [line for line in text.splitlines() if self.gr or "@" not in line]
        return "\n".join(lines).replace("@gr@", gr).replace("@mp@", mp) + "\n"

    def start(self) -> None:
        conf = self.rundir / "gobgpd.toml"
        conf.write_text(self.config())
        argv = ["gobgpd", "-f", str(conf), "--api-hosts", self.api, "--pprof-disable"]
        self.spawn([*argv, "-r"] if self.restarting else argv, "gobgpd.log")
        host, port = self.api.split(":")

        def up() -> bool:
            self.check_alive()
            p = self.ns.run("gobgp", "-u", host, "-p", port, "global", check=False, timeout=5)
            return p.returncode == 0 and "AS:" in p.stdout

        wait_for(up, "gobgpd's API")
        self.wait_listening()

    def graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()  # SIGKILL (or SIGINT): no NOTIFICATION; SIGTERM would send one


REFLECTORS: dict[str, type[Reflector]] = {c.name: c for c in (Pyspeaker, Bird, Frr, Gobgp)}
