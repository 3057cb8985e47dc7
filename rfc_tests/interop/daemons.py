"""Drivers for the real BGP daemons: write a config, start the daemon in its own network
namespace (foreground, no systemd, its own runtime folder), read its view through its CLI,
freeze/thaw it, stop it by PID.

Every driver offers the same few questions, so the tests can be written once:

* ``await d.established()`` -> (bool, the CLI text it was read from)
* ``await d.last_error()``  -> text naming the last NOTIFICATION/reset the daemon recorded
* ``await d.route(afi, prefix)`` -> :class:`RouteView` or None (the daemon's RIB for a
  prefix learned from pyspeaker)
* ``await d.session_count()`` -> how many Established sessions the daemon has with us
* ``await d.rib_route(afi, prefix)`` -> the route the daemon selected for a prefix (its RIB,
  not only what it received), with ORIGINATOR_ID, CLUSTER_LIST, AGGREGATOR and validity
* ``await d.withdraw(afi)`` -> the daemon withdraws the prefix it originates in that family
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .netns import Link, Netns, arun, poll, poll_sync

BIRD16_DIR = Path(os.environ.get("PYSPEAKER_BIRD16_DIR", "/opt/pyspeaker-interop/bird16"))

# what a daemon originates (pyspeaker must receive these with the attributes)
DAEMON_V4 = "10.2.0.0/24"
DAEMON_V6 = "2001:db8:2::/48"
DAEMON_COMMUNITY = (65002, 11)
DAEMON_LARGE = (65002, 1, 2)


@dataclass
class Options:
    """How a daemon is set up for one test."""

    local_as: int = 65002
    peer_as: int = 65001  # what the daemon expects pyspeaker's AS to be
    password: str | None = None
    originate: bool = True
    passive: bool = False
    prefix4: str = DAEMON_V4  # what it originates (distinct per daemon when several share pyspeaker)
    prefix6: str = DAEMON_V6
    # routes to 10.77.0.0/16 and fd00:77::/32 via pyspeaker's end of the link, so next hops on
    # the other links resolve (iBGP routes reflected from other daemons keep their next hop):
    # static routes in BIRD, kernel routes for zebra; GoBGP does not check next hops
    lab_routes: bool = False
    # more prefixes originated beside prefix4 / prefix6 (same attributes)
    more4: tuple[str, ...] = ()
    more6: tuple[str, ...] = ()
    # graceful restart (RFC 4724) on the daemon's side: off means each daemon's default
    graceful_restart: bool = False
    restart_time: int = 120
    gr_families: tuple[int, ...] = (1, 2)  # GoBGP: the AFIs with mp-graceful-restart (listed in the capability)
    gr_notification: bool = False  # GoBGP: notification-enabled (RFC 8538 N bit); FRR always sets N
    preserve_fw_state: bool = False  # FRR: `bgp graceful-restart preserve-fw-state` (per-AFI F bit 1)
    hard_admin_reset: bool = True  # FRR: `bgp hard-administrative-reset` (its default) or `no ...`
    # a second neighbor on our side of the link (10.77.n.<observer_host>, AS observer_as) that is
    # sent every route the daemon has: the observer of `pyspeaker check gr`; 0: none
    observer_host: int = 0
    observer_as: int = 65003

    def originated(self, afi: int) -> tuple[str, ...]:
        return (self.prefix6, *self.more6) if afi == 2 else (self.prefix4, *self.more4)


LAB_NET4 = "10.77.0.0/16"
LAB_NET6 = "fd00:77::/32"


@dataclass
class RouteView:
    """A route as the daemon's CLI shows it, normalised: communities as "a:b", large
    communities as "a:b:c"."""

    prefix: str
    med: int | None = None
    communities: set[str] = field(default_factory=set)
    large_communities: set[str] = field(default_factory=set)
    as_path: str = ""
    next_hop: str = ""
    originator_id: str = ""
    cluster_list: list[str] = field(default_factory=list)
    aggregator: str = ""  # "AS address", e.g. "65001 10.77.99.9"
    valid: bool = True  # the daemon can use it (next hop resolved); False: shown but unusable
    raw: Any = None


@dataclass
class GrView:
    """The daemon's side of a graceful restart of pyspeaker (pyspeaker restarting, the daemon
    helping), as its CLI shows it. None: the daemon does not show it (or not now)."""

    up: bool  # every session with pyspeaker is Established
    routes: dict[str, bool]  # prefix learned from pyspeaker -> marked stale
    since: dict[str, str]  # prefix -> when the daemon last changed the route: BIRD time, FRR version, GoBGP age
    helping: bool | None  # the daemon says pyspeaker's graceful restart is in progress
    restart_bit: bool | None  # R in pyspeaker's OPEN of the session that is up
    preserved: set[str] | None  # families ("ipv4", "ipv6") with F in that OPEN
    restart_time: int | None  # the restart time in pyspeaker's GR capability
    restart_timer: float | None  # seconds left on the daemon's restart timer for pyspeaker
    eor: set[str] | None  # families whose End-of-RIB from pyspeaker the daemon has on this session
    text: str = ""

    def stale(self) -> set[str]:
        return {p for p, s in self.routes.items() if s}


def _family(prefix: str) -> str:
    return "ipv6" if ":" in prefix else "ipv4"


def need_binary(path: str) -> str:
    found = shutil.which(path) if "/" not in path else (path if os.access(path, os.X_OK) else None)
    if not found:
        raise FileNotFoundError(path)
    return found


class Daemon:
    """Base: a run folder, a namespace, processes started by us."""

    kind: ClassVar[str] = "daemon"
    binaries: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ns: Netns, opts: Options) -> None:
        self.ns = ns
        self.link: Link = ns.link
        self.opts = opts
        self.rundir = Path(tempfile.mkdtemp(prefix=f"ps-{self.kind}-"))
        os.chmod(self.rundir, 0o777)
        self.logs: list[Path] = []
        self.main: subprocess.Popen[bytes] | None = None  # the BGP process (frozen by freeze())

    @classmethod
    def check_binaries(cls) -> None:
        for b in cls.binaries:
            need_binary(b)

    def start(self) -> None:
        raise NotImplementedError

    def log_path(self, name: str) -> Path:
        p = self.rundir / f"{name}.log"
        if p not in self.logs:  # a restarted process appends to its predecessor's log
            self.logs.append(p)
        return p

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def log_tail(self, lines: int = 60) -> str:
        out = []
        for p in self.logs:
            if p.exists():
                text = p.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {p.name} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(out)

    def freeze(self) -> None:
        assert self.main is not None
        os.kill(self.main.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.main is not None and self.main.poll() is None:
            os.kill(self.main.pid, signal.SIGCONT)

    def close(self) -> None:
        self.thaw()
        self.ns.close()
        shutil.rmtree(self.rundir, ignore_errors=True)

    # -- graceful restart: the BGP process goes away and comes back ------------------------------
    def kill_process(self, proc: subprocess.Popen[bytes] | None) -> None:
        """SIGKILL one of our processes (no NOTIFICATION: the kernel closes its connections)
        and forget it, so check_alive() does not count it as a failure."""
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=5)
        if proc in self.ns.procs:
            self.ns.procs.remove(proc)

    def crash(self) -> None:
        """The BGP process dies without a NOTIFICATION."""
        self.kill_process(self.main)
        self.main = None

    async def stop_for_restart(self) -> None:
        """The daemon's own way to go down for a graceful restart (default: crash())."""
        self.crash()

    def restart(self, graceful: bool = True) -> None:
        """Start the BGP process again (config rewritten from ``opts``): ``graceful`` in its
        restarting mode (BIRD ``-R``, GoBGP ``-r``; FRR has none: every start is one)."""
        raise NotImplementedError

    def check_alive(self) -> None:
        for proc in self.ns.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {proc.returncode}:\n{self.log_tail()}")

    # -- the questions the tests ask --------------------------------------------------------
    async def established(self) -> tuple[bool, str]:
        raise NotImplementedError

    async def last_error(self) -> str:
        raise NotImplementedError

    async def route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        raise NotImplementedError

    async def rib_route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        """The route the daemon holds in its RIB for ``prefix`` (by default what
        :meth:`route` shows)."""
        return await self.route(afi, prefix)

    async def withdraw(self, afi: int) -> str:
        """Stop originating ``opts.prefix4`` (afi 1) or ``opts.prefix6`` (afi 2)."""
        raise NotImplementedError

    async def cli_command(self, *args: str) -> str:
        """One command of the daemon's CLI (BIRD: birdc words; FRR: vtysh commands; GoBGP:
        gobgp words); returns what it printed."""
        raise NotImplementedError

    def add_lab_routes(self) -> None:
        """Kernel routes in the daemon's namespace to every link's addresses via pyspeaker."""
        self.ns.run("ip", "route", "add", LAB_NET4, "via", self.link.our4)
        self.ns.run("ip", "-6", "route", "add", LAB_NET6, "via", self.link.our6)

    async def session_count(self) -> tuple[int, str]:
        ok, text = await self.established()
        return int(ok), text

    async def families(self) -> tuple[set[str], str]:
        """The families the daemon says the session carries ("ipv4", "ipv6")."""
        raise NotImplementedError

    async def notification_received(self, code: int, subcode: int) -> tuple[bool, str]:
        """Whether the daemon recorded receiving this NOTIFICATION (and the evidence)."""
        raise NotImplementedError

    async def gr_view(self) -> GrView:
        """The daemon's view of pyspeaker's graceful restart (see :class:`GrView`)."""
        raise NotImplementedError

    def own_hold_timer_expired(self) -> tuple[bool, str]:
        """Whether the daemon's log says its own hold timer expired (it sent 4/0)."""
        lines = [ln for ln in self.log_text().splitlines() if re.search(self.hold_pattern, ln)]
        return bool(lines), "\n".join(lines[-3:])

    hold_pattern: ClassVar[str] = "$^"

    def established_count(self) -> int:
        """How many times the daemon's log says a session came up."""
        return len(re.findall(self.up_pattern, self.log_text()))

    up_pattern: ClassVar[str] = "$^"


# what BIRD prints for a NOTIFICATION it received (proto/bgp/bgp.c bgp_msg_table)
BIRD_MESSAGES = {
    (2, 2): "Bad peer AS",
    (4, 0): "Hold timer expired",
    (6, 2): "Administrative shutdown",
    (6, 7): "Connection collision resolution",
}


def bird_families(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"Channel (ipv4|ipv6)\s*\n\s*State:\s+UP", text)}


# -- BIRD 2 --------------------------------------------------------------------------------------
_BIRD_COMM = re.compile(r"\((\d+),\s*(\d+)\)")
_BIRD_LARGE = re.compile(r"\((\d+),\s*(\d+),\s*(\d+)\)")


def parse_bird_route(text: str, prefix: str) -> RouteView | None:
    """`birdc show route all for PREFIX` (BIRD 2) / `show route PREFIX all` (BIRD 1.6)."""
    if prefix not in text:
        return None
    view = RouteView(prefix, raw=text)
    for line in text.splitlines():
        line = line.strip()
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "BGP.med":
            view.med = int(value)
        elif key == "BGP.community":
            view.communities = {f"{a}:{b}" for a, b in _BIRD_COMM.findall(value)}
        elif key == "BGP.large_community":
            view.large_communities = {f"{a}:{b}:{c}" for a, b, c in _BIRD_LARGE.findall(value)}
        elif key == "BGP.as_path":
            view.as_path = value
        elif key == "BGP.next_hop":
            view.next_hop = value
        elif key == "BGP.originator_id":
            view.originator_id = value
        elif key == "BGP.cluster_list":
            view.cluster_list = value.split()
        elif key == "BGP.aggregator":
            m = re.fullmatch(r"(\S+)\s+AS(\d+)", value)
            view.aggregator = f"{m.group(2)} {m.group(1)}" if m else value
    view.valid = not re.search(rf"^{re.escape(prefix)}\s+unreachable", text, re.M)
    return view


class Bird2(Daemon):
    kind = "bird2"
    binaries = ("bird", "birdc")
    bird = "bird"
    birdc = "birdc"

    def config(self) -> str:
        link, o = self.link, self.opts
        password = f'password "{o.password}";' if o.password else ""
        c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
        attrs = f"bgp_community.add(({c[0]},{c[1]})); bgp_large_community.add(({lg[0]},{lg[1]},{lg[2]}));"
        orig = ""
        if o.originate:
            for afi, name in ((1, "ipv4"), (2, "ipv6")):
                routes = " ".join(f"route {p} blackhole {{ {attrs} }};" for p in o.originated(afi))
                orig += f"protocol static orig{4 if afi == 1 else 6} {{ {name}; {routes} }}\n"
        gr = f"graceful restart on; graceful restart time {o.restart_time};" if o.graceful_restart else ""
        if o.lab_routes:  # iBGP next hops resolve recursively (gateway recursive) through these
            orig += (
                f"protocol static lab4 {{ ipv4; route {LAB_NET4} via {link.our4}; }}\n"
                f"protocol static lab6 {{ ipv6; route {LAB_NET6} via {link.our6}; }}\n"
            )
        return (
            textwrap.dedent(f"""\
            log stderr all;
            router id {link.their4};
            protocol device {{ scan time 5; }}
            """)
            + orig
            + textwrap.dedent(f"""\
            protocol bgp p1 {{
              debug {{ states, events }};
              local {link.their4} port 179 as {o.local_as};
              neighbor {link.our4} port 179 as {o.peer_as};
              hold time 9; keepalive time 3;
              connect retry time 1; connect delay time 1; error wait time 1, 10;
              {"passive on;" if o.passive else ""}
              {password}
              {gr}
              ipv4 {{ import all; export where proto ~ "orig*"; }};
              ipv6 {{ import all; export where proto ~ "orig*"; next hop address {link.their6}; }};
            }}
            """)
            + observer_bird2(link, o)
        )

    @property
    def ctl(self) -> str:
        return str(self.rundir / "bird.ctl")

    def start(self, graceful: bool = False) -> None:
        conf = self.rundir / "bird.conf"
        conf.write_text(self.config())
        self.main = self.ns.spawn(
            [self.bird, "-f", "-c", str(conf), "-s", self.ctl, "-P", str(self.rundir / "bird.pid")]
            + (["-R"] if graceful else []),
            self.log_path("bird"),
        )
        self._wait_ready(self.birdc, self.ctl)

    async def stop_for_restart(self) -> None:
        """`birdc graceful restart`: BIRD shuts down without telling its peers and exits."""
        await self.cli("graceful", "restart")
        proc = self.main
        assert proc is not None

        async def exited() -> tuple[bool, str]:
            return proc.poll() is not None, self.log_tail(5)

        await poll(exited, "BIRD exited after `birdc graceful restart`", 10, 0.05)
        self.kill_process(proc)
        self.main = None

    def restart(self, graceful: bool = True) -> None:
        self.start(graceful)

    def _wait_ready(self, birdc: str, ctl: str) -> None:
        def probe() -> tuple[bool, str]:
            self.check_alive()
            p = subprocess.run([birdc, "-s", ctl, "show", "status"], capture_output=True, text=True, timeout=5)
            return p.returncode == 0 and "Daemon is up and running" in p.stdout, p.stdout + p.stderr

        poll_sync(probe, f"{self.kind} control socket")

    async def cli(self, *args: str, birdc: str | None = None, ctl: str | None = None) -> str:
        _rc, out, err = await arun(birdc or self.birdc, "-s", ctl or self.ctl, *args)
        return out + err

    async def protocol(self) -> str:
        return await self.cli("show", "protocols", "all", "p1")

    async def cli_command(self, *args: str) -> str:
        return await self.cli(*args)

    async def established(self) -> tuple[bool, str]:
        text = await self.protocol()
        return bool(re.search(r"BGP state:\s+Established", text)), text

    async def last_error(self) -> str:
        text = await self.protocol()
        m = re.search(r"Last error:\s*(.*)", text)
        return (m.group(1).strip() if m else "") + "\n" + text

    async def route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        text = await self.cli("show", "route", "all", "for", prefix, "protocol", "p1")
        return parse_bird_route(text, prefix), text

    async def withdraw(self, afi: int) -> str:
        return await self.cli("disable", "orig6" if afi == 2 else "orig4")

    async def families(self) -> tuple[set[str], str]:
        text = await self.protocol()
        return bird_families(text), text

    up_pattern = "BGP session established"
    hold_pattern = "Error: Hold timer expired"

    async def notification_received(self, code: int, subcode: int) -> tuple[bool, str]:
        wanted = f"Received: {BIRD_MESSAGES[(code, subcode)]}"
        lines = [ln for ln in self.log_text().splitlines() if "Received:" in ln]
        return any(wanted in ln for ln in lines), "\n".join(lines[-5:]) or "(no NOTIFICATION in the log)"

    async def gr_view(self) -> GrView:
        """`show protocols all p1`: `Neighbor graceful restart active`, `Restart timer: 118.5/-`,
        the neighbor's GR capability (`Restart recovery` = R, `AF preserved:` = F) and per
        channel `Neighbor GR: Regular` while that family's routes are stale; `show route
        protocol p1` for the routes (no per-route stale marker)."""
        proto = await self.protocol()
        table = await self.cli("show", "route", "protocol", "p1")
        up = bool(re.search(r"BGP state:\s+Established", proto))
        stale_fams = set()
        for m in re.finditer(r"Channel (ipv4|ipv6)\n(.*?)(?=\n  Channel |\Z)", proto, re.S):
            if re.search(r"Neighbor GR:\s+(Regular|Long-lived)", m.group(2)):
                stale_fams.add(m.group(1))
        routes, since = {}, {}
        for m in re.finditer(r"^(\S+/\d+)\s+\w+\s+\[p1 ([^\]]*?)(?: from \S+)?\]", table, re.M):
            routes[m.group(1)] = _family(m.group(1)) in stale_fams
            since[m.group(1)] = m.group(2)
        caps = proto.split("Neighbor capabilities", 1)[1].split("Session:", 1)[0] if up else ""
        gr = caps.split("Graceful restart", 1)[1] if "Graceful restart" in caps else ""
        gr = re.split(r"\n      \S", gr, maxsplit=1)[0]  # up to the next capability
        preserved = re.search(r"AF preserved:(.*)", gr)
        rtime = re.search(r"Restart time:\s+(\d+)", gr)
        timer = re.search(r"Restart timer:\s+([\d.]+)", proto)
        return GrView(
            up=up,
            routes=routes,
            since=since,
            helping="Neighbor graceful restart active" in proto,
            restart_bit=("Restart recovery" in gr) if gr else None,
            preserved=set(preserved.group(1).split()) if preserved else None,
            restart_time=int(rtime.group(1)) if rtime else None,
            restart_timer=float(timer.group(1)) if timer else None,
            eor=None,
            text=proto + table,
        )


# -- BIRD 1.6: bird for IPv4, bird6 for IPv6 ------------------------------------------------------
class Bird16(Daemon):
    """Two daemons, two sessions: bird over 10.77.n.x (IPv4 unicast), bird6 over
    fd00:77:n::x (IPv6 unicast)."""

    kind = "bird16"
    binaries = tuple(str(BIRD16_DIR / "usr/sbin" / b) for b in ("bird", "bird6", "birdc", "birdc6"))

    def __init__(self, ns: Netns, opts: Options) -> None:
        super().__init__(ns, opts)
        self.main6: subprocess.Popen[bytes] | None = None

    def config(self, v6: bool) -> str:
        link, o = self.link, self.opts
        local, peer = (link.their6, link.our6) if v6 else (link.their4, link.our4)
        routes = " ".join(f"route {p} blackhole;" for p in o.originated(2 if v6 else 1))
        c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
        password = f'password "{o.password}";' if o.password else ""
        orig = ""
        if o.originate:
            attrs = f"bgp_community.add(({c[0]},{c[1]})); bgp_large_community.add(({lg[0]},{lg[1]},{lg[2]}));"
            orig = textwrap.dedent(f"""\
                protocol static orig {{
                  import filter {{ {attrs} accept; }};
                  {routes}
                }}
                """)
        if o.lab_routes:  # iBGP next hops resolve recursively through this
            net, via = (LAB_NET6, link.our6) if v6 else (LAB_NET4, link.our4)
            orig += f"protocol static lab {{ route {net} via {via}; }}\n"
        gr = f"graceful restart on; graceful restart time {o.restart_time};" if o.graceful_restart else ""
        return (
            textwrap.dedent(f"""\
            log stderr all;
            router id {link.their4};
            listen bgp address {local} port 179;
            protocol device {{ scan time 5; }}
            """)
            + orig
            + textwrap.dedent(f"""\
            protocol bgp p1 {{
              debug {{ states, events }};
              local {local} as {o.local_as};
              neighbor {peer} as {o.peer_as};
              hold time 9; keepalive time 3;
              connect retry time 1; connect delay time 1; error wait time 1, 10;
              {"passive on;" if o.passive else ""}
              {password}
              {gr}
              import all; export where proto = "orig";
            }}
            """)
            + ("" if v6 else observer_bird16(link, o))
        )

    def _bin(self, name: str) -> str:
        return str(BIRD16_DIR / "usr/sbin" / name)

    def ctl(self, v6: bool) -> str:
        return str(self.rundir / ("bird6.ctl" if v6 else "bird.ctl"))

    def start(self, graceful: bool = False, graceful6: bool | None = None) -> None:
        """bird and bird6; ``graceful`` (``graceful6`` for bird6, default the same) adds -R."""
        for v6 in (False, True):
            name = "bird6" if v6 else "bird"
            conf = self.rundir / f"{name}.conf"
            conf.write_text(self.config(v6))
            recovering = (graceful if graceful6 is None else graceful6) if v6 else graceful
            proc = self.ns.spawn(
                [self._bin(name), "-f", "-c", str(conf), "-s", self.ctl(v6), "-P", str(self.rundir / f"{name}.pid")]
                + (["-R"] if recovering else []),
                self.log_path(name),
            )
            if v6:
                self.main6 = proc
            else:
                self.main = proc
        for v6 in (False, True):
            Bird2._wait_ready(self, self._bin("birdc6" if v6 else "birdc"), self.ctl(v6))  # type: ignore[arg-type]

    def crash(self) -> None:
        """SIGKILL bird and bird6 (1.6 has no `graceful restart` command)."""
        super().crash()
        self.kill_process(self.main6)
        self.main6 = None

    def restart(self, graceful: bool = True, graceful6: bool | None = None) -> None:
        self.start(graceful, graceful6)

    def freeze(self) -> None:
        super().freeze()
        assert self.main6 is not None
        os.kill(self.main6.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        super().thaw()
        if self.main6 is not None and self.main6.poll() is None:
            os.kill(self.main6.pid, signal.SIGCONT)

    async def cli(self, v6: bool, *args: str) -> str:
        _rc, out, err = await arun(self._bin("birdc6" if v6 else "birdc"), "-s", self.ctl(v6), *args)
        return out + err

    async def established_v(self, v6: bool) -> tuple[bool, str]:
        text = await self.cli(v6, "show", "protocols", "all", "p1")
        return bool(re.search(r"BGP state:\s+Established", text)), text

    async def established(self) -> tuple[bool, str]:
        ok4, t4 = await self.established_v(False)
        ok6, t6 = await self.established_v(True)
        return ok4 and ok6, f"bird:\n{t4}\nbird6:\n{t6}"

    async def last_error(self) -> str:
        text = await self.cli(False, "show", "protocols", "all", "p1")
        m = re.search(r"Last error:\s*(.*)", text)
        return (m.group(1).strip() if m else "") + "\n" + text

    async def route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        text = await self.cli(afi == 2, "show", "route", prefix, "all", "protocol", "p1")
        return parse_bird_route(text, prefix), text

    async def withdraw(self, afi: int) -> str:
        return await self.cli(afi == 2, "disable", "orig")

    async def session_count(self) -> tuple[int, str]:
        ok4, t4 = await self.established_v(False)
        ok6, t6 = await self.established_v(True)
        return int(ok4) + int(ok6), f"bird:\n{t4}\nbird6:\n{t6}"

    async def families(self) -> tuple[set[str], str]:
        ok4, t4 = await self.established_v(False)
        ok6, t6 = await self.established_v(True)
        return ({"ipv4"} if ok4 else set()) | ({"ipv6"} if ok6 else set()), f"bird:\n{t4}\nbird6:\n{t6}"

    up_pattern = "BGP session established"
    hold_pattern = "Error: Hold timer expired"

    async def notification_received(self, code: int, subcode: int) -> tuple[bool, str]:
        """Both bird and bird6 must have received it (one NOTIFICATION per session)."""
        wanted = f"Received: {BIRD_MESSAGES[(code, subcode)]}"
        found, evidence = [], []
        for path in self.logs:
            lines = [ln for ln in path.read_text(errors="replace").splitlines() if "Received:" in ln]
            found.append(any(wanted in ln for ln in lines))
            evidence.append(f"{path.name}: " + (" | ".join(lines[-3:]) or "(none)"))
        return all(found) and len(found) == 2, "\n".join(evidence)

    async def gr_view(self) -> GrView:
        """bird and bird6 `show protocols all p1` (`Neighbor graceful restart active`,
        `Restart timer: 118/-`; the neighbor's capabilities only as `Neighbor caps: ...
        restart-able ...`: no R, F or restart time) and `show route protocol p1`."""
        routes: dict[str, bool] = {}
        since: dict[str, str] = {}
        texts, ups, helping, timers = [], [], [], []
        for v6 in (False, True):
            proto = await self.cli(v6, "show", "protocols", "all", "p1")
            table = await self.cli(v6, "show", "route", "protocol", "p1")
            texts.append(f"{'bird6' if v6 else 'bird'}:\n{proto}{table}")
            ups.append(bool(re.search(r"BGP state:\s+Established", proto)))
            active = "Neighbor graceful restart active" in proto
            helping.append(active)
            timer = re.search(r"Restart timer:\s+([\d.]+)", proto)
            if timer:
                timers.append(float(timer.group(1)))
            for m in re.finditer(r"^(\S+/\d+)\s.*\[p1 ([^\]]*)\]", table, re.M):
                routes[m.group(1)] = active
                since[m.group(1)] = m.group(2)
        return GrView(
            up=all(ups),
            routes=routes,
            since=since,
            helping=any(helping),
            restart_bit=None,
            preserved=None,
            restart_time=None,
            restart_timer=min(timers) if timers else None,
            eor=None,
            text="\n".join(texts),
        )


# -- FRR -------------------------------------------------------------------------------------------
FRR_DIR = Path("/usr/lib/frr")


class Frr(Daemon):
    """zebra (as frr:frr: it refuses root, which is not in frrvty) and bgpd (root, -n: no FIB)."""

    kind = "frr"
    binaries = (str(FRR_DIR / "zebra"), str(FRR_DIR / "bgpd"), "vtysh")

    def config(self) -> str:
        link, o = self.link, self.opts
        c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
        nb = link.our4
        lines = [
            "frr defaults traditional",
            f"hostname frr-{link.n}",
            "log stdout debugging",
            "debug bgp neighbor-events",
            "!",
            "route-map ORIG permit 10",
            f" set community {c[0]}:{c[1]}",
            f" set large-community {lg[0]}:{lg[1]}:{lg[2]}",
            "!",
            "route-map NH6 permit 10",
            f" set ipv6 next-hop global {link.their6}",
            "!",
            f"router bgp {o.local_as}",
            f" bgp router-id {link.their4}",
            " no bgp ebgp-requires-policy",
            " no bgp default ipv4-unicast",
            " no bgp network import-check",
            " timers bgp 3 9",
        ]
        if o.graceful_restart:
            lines += [" bgp graceful-restart", f" bgp graceful-restart restart-time {o.restart_time}"]
            if o.preserve_fw_state:
                lines.append(" bgp graceful-restart preserve-fw-state")
        if not o.hard_admin_reset:
            lines.append(" no bgp hard-administrative-reset")
        lines += [
            f" neighbor {nb} remote-as {o.peer_as}",
            f" neighbor {nb} timers connect 1",
        ]
        if o.password:
            lines.append(f" neighbor {nb} password {o.password}")
        if o.passive:
            lines.append(f" neighbor {nb} passive")
        lines += [" address-family ipv4 unicast", f"  neighbor {nb} activate"]
        if o.originate:
            lines += [f"  network {p} route-map ORIG" for p in o.originated(1)]
        lines += [" exit-address-family", " address-family ipv6 unicast", f"  neighbor {nb} activate"]
        lines.append(f"  neighbor {nb} route-map NH6 out")
        if o.originate:
            lines += [f"  network {p} route-map ORIG" for p in o.originated(2)]
        lines += [" exit-address-family", "!"]
        lines = observer_frr(link, o, lines)
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        if self.opts.lab_routes:
            self.add_lab_routes()  # zebra reads them; bgpd resolves iBGP next hops through them
        run = str(self.rundir)
        zconf = self.rundir / "zebra.conf"
        zconf.write_text("hostname zebra\nlog stdout informational\n")
        os.chmod(zconf, 0o644)
        zserv = str(self.rundir / "zserv.api")
        self.ns.spawn(
            [str(FRR_DIR / "zebra"), "-f", str(zconf), "-i", f"{run}/zebra.pid", "--vty_socket", run,
             "-u", "frr", "-g", "frr", "-P", "0", "-z", zserv],
            self.log_path("zebra"),
        )  # fmt: skip

        def zebra_up() -> tuple[bool, str]:
            self.check_alive()
            return os.path.exists(zserv), self.log_tail(10)

        poll_sync(zebra_up, "zebra's zserv.api socket")
        self._start_bgpd()

    def restart(self, graceful: bool = True) -> None:
        """bgpd again (zebra kept running); FRR has no restarting mode to ask for: every
        bgpd start sets R for 120 s, F comes from `preserve-fw-state`."""
        self._start_bgpd()

    def _start_bgpd(self) -> None:
        run = str(self.rundir)
        zserv = str(self.rundir / "zserv.api")
        conf = self.rundir / "bgpd.conf"
        conf.write_text(self.config())
        os.chmod(conf, 0o644)
        self.main = self.ns.spawn(
            [str(FRR_DIR / "bgpd"), "-f", str(conf), "-i", f"{run}/bgpd.pid", "--vty_socket", run,
             "-n", "-S", "-u", "root", "-g", "root", "-P", "0", "-p", "179", "-z", zserv],
            self.log_path("bgpd"),
        )  # fmt: skip

        def bgpd_up() -> tuple[bool, str]:
            self.check_alive()
            p = subprocess.run(self._vtysh("show bgp summary json"), capture_output=True, text=True, timeout=5)
            return p.returncode == 0 and "ipv4Unicast" in p.stdout, p.stdout + p.stderr

        poll_sync(bgpd_up, "bgpd's vty")

    def _vtysh(self, *commands: str) -> list[str]:
        return ["vtysh", "--vty_socket", str(self.rundir), "-d", "bgpd", *(a for c in commands for a in ("-c", c))]

    async def vtysh(self, *commands: str) -> str:
        _rc, out, err = await arun(*self._vtysh(*commands))
        return out + err

    async def cli_command(self, *args: str) -> str:
        return await self.vtysh(*args)

    async def vtysh_json(self, command: str) -> tuple[dict[str, Any], str]:
        text = await self.vtysh(command)
        try:
            return json.loads(text), text
        except ValueError:
            return {}, text

    async def neighbor(self) -> tuple[dict[str, Any], str]:
        data, text = await self.vtysh_json(f"show bgp neighbors {self.link.our4} json")
        return data.get(self.link.our4, {}), text

    async def established(self) -> tuple[bool, str]:
        n, text = await self.neighbor()
        return n.get("bgpState") == "Established", text

    async def last_error(self) -> str:
        n, text = await self.neighbor()
        keys = ("lastNotificationReason", "lastResetDueTo", "lastErrorCodeSubcode", "lastNotificationHardReset")
        picked = {k: n[k] for k in keys if k in n}
        return json.dumps(picked) + "\n" + text

    async def route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        fam = "ipv6" if afi == 2 else "ipv4"
        data, text = await self.vtysh_json(f"show bgp {fam} unicast {prefix} json")
        paths = data.get("paths") or []
        if not paths:
            return None, text
        p = paths[0]
        view = RouteView(prefix, raw=data)
        view.med = p.get("metric")
        view.communities = set((p.get("community") or {}).get("string", "").split())
        view.large_communities = set((p.get("largeCommunity") or {}).get("string", "").split())
        view.as_path = (p.get("aspath") or {}).get("string", "")
        hops = p.get("nexthops") or []
        view.next_hop = hops[0].get("ip", "") if hops else ""
        view.originator_id = p.get("originatorId", "")
        view.cluster_list = list((p.get("clusterList") or {}).get("list", []))
        if "aggregatorAs" in p:
            view.aggregator = f"{p['aggregatorAs']} {p.get('aggregatorId', '')}"
        view.valid = bool(p.get("valid"))
        return view, text

    async def withdraw(self, afi: int) -> str:
        fam, prefix = ("ipv6", self.opts.prefix6) if afi == 2 else ("ipv4", self.opts.prefix4)
        return await self.vtysh(
            "configure terminal",
            f"router bgp {self.opts.local_as}",
            f"address-family {fam} unicast",
            f"no network {prefix}",
        )

    async def session_count(self) -> tuple[int, str]:
        n, text = await self.neighbor()
        return int(n.get("bgpState") == "Established"), text

    async def families(self) -> tuple[set[str], str]:
        n, text = await self.neighbor()
        mp = (n.get("neighborCapabilities") or {}).get("multiprotocolExtensions") or {}
        names = {"ipv4Unicast": "ipv4", "ipv6Unicast": "ipv6"}
        return {names[k] for k, v in mp.items() if k in names and v.get("advertisedAndReceived")}, text

    up_pattern = r"went from OpenConfirm to Established"
    hold_pattern = r"%NOTIFICATION: sent to neighbor \S+ 4/0"

    async def notification_received(self, code: int, subcode: int) -> tuple[bool, str]:
        # FRR's JSON (lastResetDueTo, notificationsRecv) is overwritten by the next connection
        # attempt within a second; its log keeps the NOTIFICATION
        lines = [ln for ln in self.log_text().splitlines() if "%NOTIFICATION" in ln]
        wanted = f"received from neighbor {self.link.our4} {code}/{subcode} "
        return any(wanted in ln for ln in lines), "\n".join(lines[-5:]) or "(no NOTIFICATION in the log)"

    async def gr_view(self) -> GrView:
        """`show bgp neighbors X json` -> `gracefulRestartInfo` (`rBit`, per AFI `fBit`,
        `timers.receivedRestartTimer`, `gracefulRestartTimerMsecs` while the restart timer runs,
        `endOfRibRecv`); `show bgp ipv4|ipv6 unicast json` -> `"stale": true` on the path."""
        # one vtysh for the three (each vtysh start costs ~50 ms, more under load): three JSON
        # documents one after the other
        text = await self.vtysh(
            f"show bgp neighbors {self.link.our4} json", "show bgp ipv4 unicast json", "show bgp ipv6 unicast json"
        )
        docs: list[dict[str, Any]] = []
        decoder, at = json.JSONDecoder(), 0
        while len(docs) < 3:
            while at < len(text) and text[at].isspace():
                at += 1
            try:
                doc, at = decoder.raw_decode(text, at)
            except ValueError:
                break
            docs.append(doc if isinstance(doc, dict) else {})
        docs += [{}] * (3 - len(docs))
        n = docs[0].get(self.link.our4) or {}
        up = n.get("bgpState") == "Established"
        gri = n.get("gracefulRestartInfo") or {}
        routes, since = {}, {}
        for data in docs[1:]:
            for prefix, paths in (data.get("routes") or {}).items():
                for p in paths:
                    if p.get("peerId") == self.link.our4:
                        routes[prefix] = bool(p.get("stale"))
                        since[prefix] = str(p.get("version"))
        timer = gri.get("gracefulRestartTimerMsecs")
        rtime = (gri.get("timers") or {}).get("receivedRestartTimer")
        return GrView(
            up=up,
            routes=routes,
            since=since,
            helping=timer is not None,
            restart_bit=bool(gri.get("rBit")) if up else None,
            preserved={f for f in ("ipv4", "ipv6") if (gri.get(f"{f}Unicast") or {}).get("fBit")} if up else None,
            restart_time=rtime if up else None,
            restart_timer=timer / 1000 if timer is not None else None,
            eor={k[:4] for k, v in (gri.get("endOfRibRecv") or {}).items() if v} if up else None,
            text=text,
        )


# -- GoBGP -------------------------------------------------------------------------------------------
class Gobgp(Daemon):
    kind = "gobgp"
    binaries = ("gobgpd", "gobgp")
    api = "127.0.0.1:50051"  # inside the daemon's own namespace: no clash between tests

    def config(self, admin_down: bool = False) -> str:
        link, o = self.link, self.opts
        password = f'    auth-password = "{o.password}"\n' if o.password else ""
        passive = "    passive-mode = true\n" if o.passive else ""
        down = "    admin-down = true\n" if admin_down else ""
        gr = ""
        if o.graceful_restart:
            gr = f"  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = {o.restart_time}\n"
            if o.gr_notification:
                gr += "    notification-enabled = true\n"

        def afi_safi(afi: int) -> str:
            text = f"""  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv{4 if afi == 1 else 6}-unicast"
"""
            if o.graceful_restart and afi in o.gr_families:
                text += "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
            return text

        return f"""[global.config]
  as = {o.local_as}
  router-id = "{link.their4}"
  port = 179
  local-address-list = ["{link.their4}", "{link.their6}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "{link.our4}"
    peer-as = {o.peer_as}
{password}{down}  [neighbors.transport.config]
    remote-port = 179
    local-address = "{link.their4}"
{passive}  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
{gr}{afi_safi(1)}{afi_safi(2)}""" + observer_gobgp(link, o)

    def start(self, graceful: bool = False, hold_session: bool = False) -> None:
        """gobgpd (``graceful``: with -r), then its routes through the API. ``hold_session``:
        the neighbor starts admin-down and is enabled once the routes are in, so the session
        cannot come up (and an End-of-RIB go out) before them."""
        conf = self.rundir / "gobgpd.toml"
        conf.write_text(self.config(admin_down=hold_session))
        self.main = self.ns.spawn(
            ["gobgpd", "-f", str(conf), "--api-hosts", self.api, "--pprof-disable", "-p", "-l", "debug"]
            + (["-r"] if graceful else []),
            self.log_path("gobgpd"),
        )

        def up() -> tuple[bool, str]:
            self.check_alive()
            p = self.ns.run(*self._gobgp("global"), check=False, timeout=5)
            return p.returncode == 0 and "AS:" in p.stdout, p.stdout + p.stderr

        poll_sync(up, "gobgpd's API")
        if self.opts.originate:
            c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
            comm = ["community", f"{c[0]}:{c[1]}", "large-community", f"{lg[0]}:{lg[1]}:{lg[2]}"]
            o = self.opts
            for afi, fam, nh in ((1, "ipv4", self.link.their4), (2, "ipv6", self.link.their6)):
                for prefix in o.originated(afi):
                    self.ns.run(*self._gobgp("global", "rib", "add", "-a", fam, prefix, "nexthop", nh, *comm))
        if hold_session:
            self.ns.run(*self._gobgp("neighbor", self.link.our4, "enable"))

    def restart(self, graceful: bool = True) -> None:
        self.start(graceful, hold_session=True)

    def _gobgp(self, *args: str) -> list[str]:
        host, port = self.api.split(":")
        return ["gobgp", "-u", host, "-p", port, *args]

    async def gobgp(self, *args: str) -> str:
        _rc, out, err = await self.ns.arun(*self._gobgp(*args))
        return out + err

    async def cli_command(self, *args: str) -> str:
        return await self.gobgp(*args)

    async def neighbor(self) -> tuple[dict[str, Any], str]:
        text = await self.gobgp("neighbor", self.link.our4, "-j")
        try:
            return json.loads(text), text
        except ValueError:
            return {}, text

    async def established(self) -> tuple[bool, str]:
        n, text = await self.neighbor()
        state = (n.get("state") or {}).get("session_state")
        return state in (6, "ESTABLISHED", "established"), text

    async def last_error(self) -> str:
        # gobgp keeps no "last error" in its API: the log has the NOTIFICATION it received
        lines = [ln for ln in self.log_text().splitlines() if "otification" in ln]
        return "\n".join(lines[-5:])

    async def families(self) -> tuple[set[str], str]:
        text = await self.gobgp("neighbor", self.link.our4)
        fams = set(re.findall(r"(ipv4|ipv6)-unicast:\s+advertised and received", text))
        return fams, text

    up_pattern = r'msg="Peer Up"'
    hold_pattern = r'msg="hold timer expired"'

    async def notification_received(self, code: int, subcode: int) -> tuple[bool, str]:
        lines = [ln for ln in self.log_text().splitlines() if "notification" in ln or "invalid-msg" in ln]
        if any(f"Code={code} " in ln and f"Subcode={subcode} " in ln for ln in lines):
            return True, "\n".join(lines[-5:])
        # A NOTIFICATION that arrives in OpenConfirm is not decoded by GoBGP 3.10: the FSM
        # goes to Idle with reason "invalid-msg" and only the message counter shows it.
        n, _text = await self.neighbor()
        count = ((n.get("state") or {}).get("messages") or {}).get("received", {}).get("notification", 0)
        in_open_confirm = any("old=BGP_FSM_OPENCONFIRM" in ln and "reason=invalid-msg" in ln for ln in lines)
        evidence = f"received notification counter {count}; log:\n" + "\n".join(lines[-5:])
        return count >= 1 and in_open_confirm, evidence

    async def withdraw(self, afi: int) -> str:
        fam, prefix = ("ipv6", self.opts.prefix6) if afi == 2 else ("ipv4", self.opts.prefix4)
        return await self.gobgp("global", "rib", "del", "-a", fam, prefix)

    async def gr_view(self) -> GrView:
        """`gobgp neighbor X`: `BGP state`, the peer's GR capability (`Remote: restart time 120
        sec, restart flag set, ...`, per family `, forward flag set`); `gobgp global rib -a
        ipv4|ipv6 -j` -> `"stale": true` on the path."""
        text = await self.gobgp("neighbor", self.link.our4)
        up = bool(re.search(r"BGP state = ESTABLISHED", text, re.I))
        routes, since, texts = {}, {}, [text]
        for fam in ("ipv4", "ipv6"):
            raw = await self.gobgp("global", "rib", "-a", fam, "-j")
            texts.append(raw)
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            for prefix, paths in (data if isinstance(data, dict) else {}).items():
                for p in paths:
                    if p.get("neighbor-ip") == self.link.our4:
                        routes[prefix] = bool(p.get("stale"))
                        since[prefix] = str(p.get("age"))
        remote = re.search(r"graceful-restart:.*?\n\s+Remote: ([^\n]*)\n((?:\t\s*\S+-unicast[^\n]*\n)*)", text, re.S)
        rtime = re.search(r"restart time (\d+) sec", remote.group(1)) if remote else None
        kept = set(re.findall(r"(ipv4|ipv6)-unicast, forward flag set", remote.group(2))) if remote else set()
        return GrView(
            up=up,
            routes=routes,
            since=since,
            helping=None,
            restart_bit=("restart flag set" in remote.group(1)) if up and remote else None,
            preserved=kept if up and remote else None,
            restart_time=int(rtime.group(1)) if up and rtime else None,
            restart_timer=None,
            eor=None,
            text="\n".join(texts),
        )

    async def route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        """What GoBGP received from pyspeaker (its Adj-RIB-In for us)."""
        fam = "ipv6" if afi == 2 else "ipv4"
        return await self._route(prefix, "neighbor", self.link.our4, "adj-in", prefix, "-a", fam, "-j")

    async def rib_route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        """GoBGP's global RIB (what it accepted; ``valid`` = its best path)."""
        fam = "ipv6" if afi == 2 else "ipv4"
        view, text = await self._route(prefix, "global", "rib", prefix, "-a", fam, "-j")
        if view is not None:
            view.valid = bool(view.raw.get("best"))
        return view, text

    async def _route(self, prefix: str, *args: str) -> tuple[RouteView | None, str]:
        text = await self.gobgp(*args)
        try:
            data = json.loads(text)
        except ValueError:
            return None, text
        paths = data.get(prefix) if isinstance(data, dict) else None
        if not paths:
            return None, text
        p = paths[0]
        view = RouteView(prefix, raw=p)
        for a in p.get("attrs", []):
            t = a.get("type")
            if t == 4:
                view.med = a.get("metric")
            elif t == 8:
                view.communities = {f"{v >> 16}:{v & 0xFFFF}" for v in a.get("communities", [])}
            elif t == 32:
                view.large_communities = {f"{v['ASN']}:{v['LocalData1']}:{v['LocalData2']}" for v in a.get("value", [])}
            elif t == 2:
                view.as_path = json.dumps(a.get("as_paths"))
            elif t == 3 or t == 14:
                view.next_hop = a.get("nexthop", "")
            elif t == 7:
                view.aggregator = f"{a.get('as')} {a.get('address')}"
            elif t == 9:
                view.originator_id = a.get("value", "")
            elif t == 10:
                view.cluster_list = list(a.get("value") or [])
        return view, text


DAEMONS: dict[str, type[Daemon]] = {"bird2": Bird2, "frr": Frr, "gobgp": Gobgp, "bird16": Bird16}


# -- a second neighbor, the observer of `pyspeaker check gr` (Options.observer_host) -----------------
def observer_address(link: Link, o: Options) -> str:
    return f"10.77.{link.n}.{o.observer_host}"


def observer_bird2(link: Link, o: Options) -> str:
    if not o.observer_host:
        return ""
    return textwrap.dedent(f"""\
        protocol bgp p2 {{
          local {link.their4} port 179 as {o.local_as};
          neighbor {observer_address(link, o)} port 179 as {o.observer_as};
          hold time 9; keepalive time 3;
          connect retry time 1; connect delay time 1; error wait time 1, 10;
          ipv4 {{ import none; export all; }};
          ipv6 {{ import none; export all; next hop address {link.their6}; }};
        }}
        """)


def observer_bird16(link: Link, o: Options) -> str:
    if not o.observer_host:
        return ""
    return textwrap.dedent(f"""\
        protocol bgp p2 {{
          local {link.their4} as {o.local_as};
          neighbor {observer_address(link, o)} as {o.observer_as};
          hold time 9; keepalive time 3;
          connect retry time 1; connect delay time 1; error wait time 1, 10;
          import none; export all;
        }}
        """)


def observer_frr(link: Link, o: Options, lines: list[str]) -> list[str]:
    """The observer's lines go into `router bgp` (before its closing "!")."""
    if not o.observer_host:
        return lines
    nb = observer_address(link, o)
    end = len(lines) - 1  # the "!" closing `router bgp`
    return [
        *lines[:end],
        f" neighbor {nb} remote-as {o.observer_as}",
        f" neighbor {nb} timers connect 1",
        " address-family ipv4 unicast",
        f"  neighbor {nb} activate",
        " exit-address-family",
        " address-family ipv6 unicast",
        f"  neighbor {nb} activate",
        f"  neighbor {nb} route-map NH6 out",
        " exit-address-family",
        *lines[end:],
    ]


def observer_gobgp(link: Link, o: Options) -> str:
    if not o.observer_host:
        return ""
    return f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{observer_address(link, o)}"
    peer-as = {o.observer_as}
  [neighbors.transport.config]
    remote-port = 179
    local-address = "{link.their4}"
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""
