"""The battery of ``pyspeaker check gr``: graceful restart faults against a live DUT, with a
second session (the observer) that sees what the DUT keeps of our routes while we are away.

The DUT must be configured with two neighbors: the test peer (``source``) and the observer
(``observer``), both allowed to connect, the test peer's routes exported to the observer.
Each step writes "mark" events into the recording; :mod:`pyspeaker.testpeer.grcheck` turns
the recording into verdicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST, Family

from . import grcheck as g
from .grcheck import STEPS
from .peer import GrSpec, SessionFailed, TestPeer
from .record import Recorder

# the routes we announce: RFC 2544 benchmarking space and RFC 3849 documentation space
KEPT = {IPV4_UNICAST: ["198.18.10.0/24", "198.18.11.0/24"], IPV6_UNICAST: ["2001:db8:ff10::/48", "2001:db8:ff11::/48"]}
DROPPED = {IPV4_UNICAST: ["198.18.20.0/24"], IPV6_UNICAST: ["2001:db8:ff20::/48"]}


@dataclass
class GrCheckConfig:
    dut: str
    asn: int
    dut_asn: int | None = None
    port: int = 179
    source: str | None = None
    observer: str | None = None
    observer_asn: int | None = None  # default: asn
    families: Sequence[Family] = (IPV4_UNICAST,)
    restart_time: int = 5
    hold_time: int = 30
    router_id: str | None = None
    next_hop: str | None = None
    next_hop6: str | None = None
    observe: float = 3.0  # how long to watch for a withdrawal that must not come
    settle: float = 10.0  # how long to wait for something that must come (a withdrawal, a route)
    expiry_slack: float = 5.0  # past the restart time, how long to wait for stale routes to go
    connect_timeout: float = 30.0
    password: str | None = None
    steps: Sequence[str] = STEPS


@dataclass
class GrReport:
    verdicts: list[g.Verdict]
    recorder: Recorder
    dut_open_raw: bytes = b""
    aborted: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return g.FAIL if self.aborted else g.overall(self.verdicts)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "aborted": self.aborted,
            "config": self.config,
            "dut_open": self.dut_open_raw.hex(),
            "verdicts": [v.to_json() for v in self.verdicts],
        }

    def table(self) -> str:
        if not self.aborted:
            return g.render_table(self.verdicts)
        text = g.render_table(self.verdicts) if self.verdicts else ""
        return f"{text}\nABORTED: {self.aborted}".lstrip("\n")


class Aborted(Exception):
    pass


def local_address_towards(dut: str, port: int = 179) -> str:
    """The source address the kernel would use to reach ``dut`` (a UDP connect: nothing is sent)."""
    af = socket.AF_INET6 if ":" in dut else socket.AF_INET
    with socket.socket(af, socket.SOCK_DGRAM) as s:
        s.connect((dut, port))
        return str(s.getsockname()[0])


def next_address(address: str) -> str:
    return str(ipaddress.ip_address(address) + 1)


class GrBattery:
    def __init__(self, cfg: GrCheckConfig, progress: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.rec = Recorder()
        self.progress = progress or (lambda _text: None)
        source = cfg.source or local_address_towards(cfg.dut, cfg.port)
        observer = cfg.observer or next_address(source)
        self.source, self.observer_address = source, observer
        fams = tuple(cfg.families)
        self.families = fams
        self.kept = [p for f in fams for p in KEPT[f]]
        self.dropped = [p for f in fams for p in DROPPED[f]]
        self.gr = GrSpec(restart_time=cfg.restart_time, notification=True, families={f: 0x80 for f in fams})
        common: dict[str, Any] = {
            "port": cfg.port,
            "dut_asn": cfg.dut_asn,
            "families": fams,
            "hold_time": cfg.hold_time,
            "recorder": self.rec,
            "password": cfg.password,
        }
        self.peer = TestPeer(
            cfg.dut,
            asn=cfg.asn,
            router_id=cfg.router_id or (source if ":" not in source else "192.0.2.1"),
            local_address=source,
            graceful_restart=self.gr,
            name=g.PEER,
            next_hop=cfg.next_hop,
            next_hop6=cfg.next_hop6,
            **common,
        )
        self.obs = TestPeer(
            cfg.dut,
            asn=cfg.observer_asn or cfg.asn,
            router_id=observer if ":" not in observer else "192.0.2.2",
            local_address=observer,
            name=g.OBSERVER,
            **common,
        )

    # -- helpers ------------------------------------------------------------------------------
    def mark(self, step: str, at: str, **data: Any) -> None:
        self.rec.add(g.CHECK, "mark", step=step, at=at, **data)

    def seen(self, prefixes: Sequence[str]) -> bool:
        have = self.obs.routes
        return all(p in have.get(IPV6_UNICAST if ":" in p else IPV4_UNICAST, {}) for p in prefixes)

    def gone(self, prefixes: Sequence[str]) -> bool:
        have = self.obs.routes
        return not any(p in have.get(IPV6_UNICAST if ":" in p else IPV4_UNICAST, {}) for p in prefixes)

    def any_gone(self, prefixes: Sequence[str]) -> bool:
        have = self.obs.routes
        return not all(p in have.get(IPV6_UNICAST if ":" in p else IPV4_UNICAST, {}) for p in prefixes)

    async def watch(self, predicate: Callable[[], bool], timeout: float, what: str) -> bool:
        """Wait for the observer to see something; False (not an error) if it did not."""
        if self.obs.closed:
            raise Aborted(f"the observer's session is down ({self.obs.close_reason})")
        try:
            await self.obs.wait(lambda: predicate() or self.obs.closed, timeout, what)
        except AssertionError:
            return False
        if self.obs.closed:
            raise Aborted(f"the observer's session went down ({self.obs.close_reason})")
        return True

    async def pause_before_eor(self) -> None:
        """Part of the fault, not a synchronisation: a restarting peer sends its routes, then
        End-of-RIB a moment later. The DUT gets up to a second to take the routes announced
        again (nothing to observe: they must not change), the observer watched meanwhile."""
        await self.watch(lambda: False, min(1.0, self.cfg.observe), "nothing (a pause before End-of-RIB)")

    async def connect(self, peer: TestPeer) -> None:
        """Connect, trying again for a while: a DUT may refuse a peer it is still tearing down."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.connect_timeout
        last = ""
        attempt = 0
        while loop.time() < deadline:
            attempt += 1
            try:
                await peer.connect(timeout=min(10.0, max(1.0, deadline - loop.time())))
                return
            except SessionFailed as exc:
                if exc.local:
                    raise Aborted(f"{peer.name}: {exc} (configure it on this host, or choose another)") from None
                last = str(exc)
                await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))
        raise Aborted(f"{peer.name} could not establish a session with {self.cfg.dut} in {attempt} attempts: {last}")

    async def come_back(self, restarting: bool = True, flags: int = 0x80) -> None:
        spec = self.gr.replace(restarting=restarting, families={f: flags for f in self.families})
        self.rec.add(self.peer.name, "fault", fault="graceful-restart", **spec.describe())
        self.peer.graceful_restart = spec
        await self.connect(self.peer)

    async def announce_all(self, prefixes: Sequence[str] | None = None, eor: bool = True) -> None:
        await self.peer.announce(self.kept + self.dropped if prefixes is None else prefixes)
        if eor:
            for f in self.families:
                await self.peer.end_of_rib(f)

    async def restore(self, restarting: bool = True) -> None:
        """Back to the baseline: the peer up, every route announced and seen at the observer."""
        if self.peer.closed or not self.peer.established:
            await self.come_back(restarting=restarting)
        await self.announce_all()
        if not await self.watch(lambda: self.seen(self.kept + self.dropped), self.cfg.settle, "our routes again"):
            raise Aborted("the observer did not see our routes again after the step")
        # the session fully up before the next fault: the DUT's End-of-RIB (if it sends one)
        await self._eor_wait()

    # -- the battery ------------------------------------------------------------------------------
    async def run(self) -> GrReport:
        cfg = self.cfg
        verdicts: list[g.Verdict] = []
        aborted = ""
        conf = {
            "dut": cfg.dut,
            "port": cfg.port,
            "asn": cfg.asn,
            "dut_asn": cfg.dut_asn,
            "source": self.source,
            "observer": self.observer_address,
            "families": [f.name for f in self.families],
            "restart_time": cfg.restart_time,
        }
        try:
            self.progress(f"connecting the observer from {self.observer_address} and the peer from {self.source}")
            await self.connect(self.obs)
            await self.connect(self.peer)
            assert self.peer.dut_open is not None
            verdicts += g.analyse_open(self.peer.dut_open, [f.name for f in self.families])
            await self.announce_all()
            self.mark("setup", "announced")
            if not await self.watch(lambda: self.seen(self.kept + self.dropped), cfg.settle, "our routes"):
                raise Aborted(
                    f"the observer ({self.observer_address}) never saw our routes: configure the DUT to export what "
                    f"it learns from {self.source} to {self.observer_address} (see docs/test-peer.md)"
                )
            self.mark("setup", "seen")
            await self._eor_wait()
            verdicts.append(g.dut_end_of_rib(self.rec, [f.name for f in self.families]))
            for step in cfg.steps:
                self.progress(f"step {step}")
                await getattr(self, "step_" + step.replace("-", "_"))()
        except Aborted as exc:
            aborted = str(exc)
            self.rec.note(f"aborted: {aborted}")
        finally:
            await self.peer.close()
            await self.obs.close()
        ran = self.verdicts()
        if aborted:  # leave out the steps that never ran
            ran = [v for v in ran if not (v.status == g.SKIP and ("did not run" in v.detail or "never" in v.detail))]
        verdicts += ran
        return GrReport(verdicts, self.rec, self.peer.dut_opens[0].raw if self.peer.dut_opens else b"", aborted, conf)

    async def _eor_wait(self) -> None:
        with contextlib.suppress(AssertionError):
            await self.peer.wait(
                lambda: all(f in self.peer.eor_received for f in self.families) or self.peer.closed,
                self.cfg.settle,
                "the DUT's End-of-RIB",
            )

    def verdicts(self) -> list[g.Verdict]:
        rec, cfg = self.rec, self.cfg
        out: list[g.Verdict] = []
        steps = set(cfg.steps)
        everything = self.kept + self.dropped
        if "crash" in steps:
            out.append(g.retained_on_crash(rec, everything))
        rt = cfg.restart_time
        if "sweep" in steps:
            out += g.swept_at_end_of_rib(
                rec, self.kept, self.dropped, restart_time=rt, unnegotiated=self.unnegotiated()
            )
        if "f0" in steps:
            out.append(g.flushed_on_f0(rec, everything, [f.name for f in self.families], restart_time=rt))
        if "double" in steps:
            out.append(g.second_restart(rec, everything, restart_time=rt))
        if "cease" in steps:
            out.append(g.notification_keeps(rec, everything, self.n_negotiated()))
        if "hard-reset" in steps:
            out.append(g.hard_reset_removes(rec, everything))
        if "expiry" in steps:
            out.append(g.restart_time_honoured(rec, everything, cfg.restart_time))
        out.append(g.return_accepted(rec, cfg.restart_time))
        return out

    def unnegotiated(self) -> list[str]:
        """Families the DUT's OPEN offers that this session does not carry."""
        opens = self.peer.dut_opens
        offered = opens[0].families() if opens else []
        return [f.name for f in offered if f not in self.families]

    def n_negotiated(self) -> bool:
        opens = self.peer.dut_opens
        gr = opens[0].graceful_restart() if opens else None
        return bool(gr is not None and gr.notification and self.gr.notification)

    # -- steps ------------------------------------------------------------------------------------
    async def step_crash(self) -> None:
        """Crash; watch that nothing is withdrawn. Stays down: the sweep step comes back."""
        everything = self.kept + self.dropped
        self.mark("crash", "crash")
        self.peer.crash()
        await self.watch(lambda: self.any_gone(everything), self.cfg.observe, "a withdrawal")
        self.mark("crash", "end")
        if "sweep" not in self.cfg.steps:
            await self.restore()

    async def step_sweep(self) -> None:
        """Come back (R=1, F=1), announce only the kept routes, End-of-RIB: the dropped ones
        must go at End-of-RIB, the kept ones never."""
        self.mark("sweep", "crash")
        if self.peer.established:
            self.peer.crash()
        await self.come_back(restarting=True)
        self.mark("sweep", "up")
        await self.peer.announce(self.kept)
        # let the DUT take the re-announced routes before End-of-RIB (they must not be swept)
        await self.pause_before_eor()
        self.mark("sweep", "eor")
        for f in self.families:
            await self.peer.end_of_rib(f)
        await self.watch(lambda: self.gone(self.dropped), self.cfg.settle, "the dropped routes swept")
        await self.watch(lambda: self.any_gone(self.kept), min(1.0, self.cfg.observe), "a kept route withdrawn")
        self.mark("sweep", "end")
        await self.restore()

    async def step_f0(self) -> None:
        everything = self.kept + self.dropped
        self.mark("f0", "crash")
        self.peer.crash()
        await self.come_back(restarting=True, flags=0x00)
        self.mark("f0", "up")
        await self.watch(lambda: self.gone(everything), self.cfg.observe, "the flush on F=0")
        self.mark("f0", "end")
        await self.restore()

    async def step_double(self) -> None:
        everything = self.kept + self.dropped
        self.mark("double", "crash1")
        self.peer.crash()
        await self.come_back(restarting=True)
        self.mark("double", "up1")
        self.mark("double", "crash2")
        self.peer.crash()
        await self.watch(lambda: self.any_gone(everything), min(1.0, self.cfg.observe), "a withdrawal")
        await self.come_back(restarting=True)
        self.mark("double", "up2")
        await self.peer.announce(everything)
        await self.pause_before_eor()
        self.mark("double", "eor")
        for f in self.families:
            await self.peer.end_of_rib(f)
        await self.watch(lambda: self.any_gone(everything), min(1.0, self.cfg.observe), "a withdrawal")
        self.mark("double", "end")
        await self.restore()

    async def step_cease(self) -> None:
        everything = self.kept + self.dropped
        self.mark("cease", "sent", code=6, subcode=4)
        await self.peer.notify(6, 4)
        await self.watch(lambda: self.any_gone(everything), self.cfg.observe, "a withdrawal")
        self.mark("cease", "end")
        await self.restore(restarting=True)

    async def step_hard_reset(self) -> None:
        everything = self.kept + self.dropped
        self.mark("hard-reset", "sent", code=6, subcode=9)
        await self.peer.hard_reset(6, 4)
        await self.watch(lambda: self.gone(everything), self.cfg.settle, "the routes removed after Hard Reset")
        self.mark("hard-reset", "end")
        await self.restore(restarting=False)

    async def step_expiry(self) -> None:
        everything = self.kept + self.dropped
        self.mark("expiry", "crash")
        self.peer.crash()
        limit = self.cfg.restart_time + self.cfg.expiry_slack
        await self.watch(lambda: self.gone(everything), limit, "the stale routes gone after the restart time")
        self.mark("expiry", "end")


async def run_check(cfg: GrCheckConfig, progress: Callable[[str], None] | None = None) -> GrReport:
    return await GrBattery(cfg, progress).run()
