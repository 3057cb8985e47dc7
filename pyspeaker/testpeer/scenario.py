"""Scenarios: test peers driven against a DUT, then assertions over what was recorded.

The Python form is a coroutine given a :class:`Lab`::

    async def scenario(lab: Lab) -> None:
        speaker = lab.peer("speaker", "192.0.2.1", asn=65001, dut_asn=65000, local_address="192.0.2.2",
                           graceful_restart=GrSpec(restart_time=30))
        observer = lab.peer("observer", "192.0.2.1", asn=65003, local_address="192.0.2.3")
        await lab.connect(speaker, observer)
        await speaker.announce(["10.1.0.0/24", "10.1.1.0/24"])
        await observer.wait(lambda: "10.1.1.0/24" in observer.routes[IPV4_UNICAST], 10, "the route")
        lab.mark("restart")
        await speaker.restart_gracefully()
        await speaker.announce(["10.1.0.0/24"])
        lab.mark("eor")
        await speaker.end_of_rib(IPV4_UNICAST)
        lab.expect.no_withdrawals("observer", after="restart", until="eor")
        lab.expect.withdrawn_within("observer", ["10.1.1.0/24"], 10, after="eor")

and runs with :func:`run` (or ``pyspeaker scenario run FILE.py``). The declarative form is a
TOML file (:mod:`pyspeaker.testpeer.scenario_file`) run by :func:`run_file`; both give a
:class:`Result` and a recording that ``pyspeaker scenario show`` prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..wire.errors import WireError
from ..wire.family import Family
from .expect import STEP, Expect, ExpectationFailed, family_of
from .peer import GrSpec, SessionFailed, TestPeer
from .record import Recorder
from .scenario_file import ExpectSpec, PeerSpec, Scenario, StepSpec

T = TypeVar("T")

__all__ = [
    "Lab",
    "Result",
    "StepOutcome",
    "connect_retrying",
    "load_python",
    "peer_settings",
    "run",
    "run_file",
    "run_scenario",
]


async def connect_retrying(peer: TestPeer, timeout: float = 10.0, retry_for: float = 0.0, pause: float = 0.5) -> None:
    """Connect; if the DUT is not there yet (refused, closed, no OPEN), try again every
    ``pause`` seconds for up to ``retry_for`` seconds (a DUT coming back from a restart).
    The last SessionFailed is raised when the time is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry_for
    while True:
        left = deadline - loop.time()
        try:
            await peer.connect(timeout if retry_for <= 0 else max(0.5, min(timeout, left)))
            return
        except SessionFailed:
            if loop.time() + pause >= deadline:
                raise
        await asyncio.sleep(pause)  # between attempts, not a synchronisation


class Lab:
    """Named test peers sharing one :class:`Recorder`, marks (named moments of the run) and
    the assertions (:attr:`expect`). ``defaults`` are TestPeer arguments every peer made by
    :meth:`peer` starts from (dut, asn, dut_asn, port, ...)."""

    def __init__(self, recorder: Recorder | None = None, **defaults: Any) -> None:
        self.recorder = recorder if recorder is not None else Recorder()
        self.defaults = defaults
        self.peers: dict[str, TestPeer] = {}
        self.marks: dict[str, float] = {}
        self.expect = Expect(self.recorder, self.marks)

    def peer(self, name: str, dut: str | None = None, **settings: Any) -> TestPeer:
        """A new TestPeer called ``name`` (unique in the lab) on the lab's recorder."""
        if name in self.peers:
            raise ValueError(f"there is already a peer named {name!r}")
        kw = {**self.defaults, **settings}
        target = dut if dut is not None else kw.pop("dut", None)
        kw.pop("dut", None)
        if target is None:
            raise ValueError(f"{name}: no DUT address (give dut=, or dut in the lab's defaults)")
        if "router_id" not in kw:
            local = kw.get("local_address")
            if local is None or ":" in str(local):
                raise ValueError(f"{name}: router_id is needed (no IPv4 local_address to take it from)")
            kw["router_id"] = str(local)
        made = TestPeer(target, recorder=self.recorder, name=name, **kw)
        self.peers[name] = made
        return made

    def mark(self, name: str, peer: str = "lab", **data: Any) -> float:
        """Record a named moment (a "step" event) and return its time; assertions take the
        name as ``after=``/``until=``."""
        event = self.recorder.add(peer, STEP, step=name, **data)
        self.marks[name] = event.t
        return event.t

    async def step(self, name: str, action: Awaitable[T], peer: str = "lab") -> T:
        """Mark ``name``, then await ``action``."""
        self.mark(name, peer)
        return await action

    async def connect(self, *peers: TestPeer, timeout: float = 10.0, retry_for: float = 0.0) -> None:
        """Connect these peers (all at once), each retrying for ``retry_for`` seconds."""
        await asyncio.gather(*(connect_retrying(p, timeout, retry_for) for p in peers))

    def timeline(self, peer: str | None = None) -> str:
        return self.recorder.timeline(peer)

    async def close(self) -> None:
        """Close every peer (Cease to the DUT for sessions that are up)."""
        for p in self.peers.values():
            with contextlib.suppress(Exception):
                await p.close()

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# -- results ------------------------------------------------------------------------------------
@dataclass
class StepOutcome:
    key: str  # "step[3]", "expect[0]", "scenario"
    what: str
    ok: bool
    message: str = ""
    t: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "what": self.what, "ok": self.ok}
        if self.message:
            out["message"] = self.message
        if self.t is not None:
            out["t"] = self.t
        return out


@dataclass
class Result:
    name: str
    source: str
    recorder: Recorder
    steps: list[StepOutcome] = field(default_factory=list)
    expectations: list[StepOutcome] = field(default_factory=list)
    error: str = ""  # the run stopped: a step failed, the time ran out, the scenario raised
    failures: list[ExpectationFailed] = field(default_factory=list)
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.error and all(s.ok for s in self.steps) and all(e.ok for e in self.expectations)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "source": self.source,
            "passed": self.passed,
            "duration": round(self.duration, 3),
            "error": self.error,
            "steps": [s.to_json() for s in self.steps],
            "expectations": [e.to_json() for e in self.expectations],
            "events": len(self.recorder.events),
        }

    def report(self) -> str:
        """Readable: each step and expectation, then on failure the messages (each with the
        timeline of its peers)."""
        lines = [f"scenario {self.name} ({self.source}): {'PASS' if self.passed else 'FAIL'} in {self.duration:.1f} s"]
        for s in [*self.steps, *self.expectations]:
            at = f"{s.t:9.3f}  " if s.t is not None else " " * 11
            first = s.message.splitlines()[0] if s.message else ""
            lines.append(f"  {at}{'ok  ' if s.ok else 'FAIL'} {s.key} {s.what}" + (f": {first}" if not s.ok else ""))
        if self.error:
            lines.append(f"stopped: {self.error.splitlines()[0]}")
        for f in self.failures:
            lines.append("")
            lines.append(str(f))
        if not self.passed and not self.failures:
            lines.append("")
            lines.append("--- timeline ---")
            lines.append(self.recorder.timeline() or "(no events)")
        return "\n".join(lines)


# -- the Python form ------------------------------------------------------------------------
ScenarioFn = Callable[[Lab], Awaitable[None]]


async def run(
    scenario: ScenarioFn, *, lab: Lab | None = None, timeout: float = 300.0, name: str = "", source: str = ""
) -> Result:
    """Run ``scenario(lab)`` (bounded by ``timeout``); an assertion that fails ends it and
    is in the result with its timeline. The lab's peers are closed at the end."""
    lab = lab if lab is not None else Lab()
    result = Result(name or getattr(scenario, "__name__", "scenario"), source, lab.recorder)
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await scenario(lab)
    except ExpectationFailed as exc:
        result.failures.append(exc)
        result.expectations.append(StepOutcome("expect", exc.what, False, str(exc)))
    except TimeoutError:
        result.error = f"the scenario did not finish within {timeout:g} s"
    except (AssertionError, SessionFailed) as exc:
        result.error = str(exc)
    except Exception as exc:  # the scenario's own code failed: say where
        where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        result.error = f"the scenario raised {type(exc).__name__}: {exc}\n{where}"
    finally:
        await lab.close()
        result.duration = time.monotonic() - started
    return result


def load_python(path: str | Path) -> ScenarioFn:
    """The ``scenario`` coroutine function of a Python file (ValueError if there is none)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"pyspeaker_scenario_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    fn = getattr(module, "scenario", None)
    if fn is None or not inspect.iscoroutinefunction(fn):
        raise ValueError(f"{path}: no `async def scenario(lab)` in it")
    checked: ScenarioFn = fn
    return checked


# -- the TOML form ------------------------------------------------------------------------------
def peer_settings(spec: PeerSpec) -> dict[str, Any]:
    """TestPeer arguments (dut included) for a checked ``[[peer]]`` table."""
    gr = None
    if spec.graceful_restart is not None:
        g = spec.graceful_restart
        flags = g.flags if g.flags is not None else {f: 0x80 for f in spec.families}
        gr = GrSpec(restart_time=g.restart_time, restarting=g.restarting, notification=g.notification, families=flags)
    return {
        "dut": spec.dut,
        "asn": spec.asn,
        "router_id": spec.router_id,
        "dut_asn": spec.dut_asn,
        "port": spec.port,
        "local_address": spec.source,
        "families": spec.families,
        "hold_time": spec.hold_time,
        "graceful_restart": gr,
        "password": spec.password,
        "next_hop": spec.next_hop,
        "next_hop6": spec.next_hop6,
    }


def _make_peer(lab: Lab, spec: PeerSpec) -> TestPeer:
    return lab.peer(spec.name, **peer_settings(spec))


def _families(peer: TestPeer, given: tuple[Family, ...] | None) -> tuple[Family, ...]:
    return given if given is not None else peer.families


def _has(peer: TestPeer, prefix: str) -> bool:
    return prefix in peer.routes.get(family_of(prefix), {})


_ATTR_KEYS = ("origin", "as_path", "med", "local_pref", "communities", "large_communities")


async def _run_command(argv: list[str], timeout: float) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise AssertionError(f"{' '.join(argv)}: not finished within {timeout:g} s") from None
    text = out.decode(errors="replace").strip()
    if proc.returncode:
        raise AssertionError(f"{' '.join(argv)} exited with {proc.returncode}: {text[-500:]}")
    return text


async def _step(lab: Lab, step: StepSpec) -> None:
    a = step.args
    if step.action == "wait":
        await asyncio.sleep(a["seconds"])
        return
    if step.action == "run":
        out = await _run_command(a["command"], a["timeout"])
        lab.recorder.add(step.peer or "lab", "note", text=f"{a['command'][0]} done", output=out[-2000:])
        return
    assert step.peer is not None
    p = lab.peers[step.peer]
    act = step.action
    timeout = a.get("timeout", 10.0)
    if act == "connect":
        await connect_retrying(p, timeout, a["retry_for"])
    elif act == "announce":
        attrs = {k: a[k] for k in _ATTR_KEYS if a.get(k) is not None}
        await p.announce(a["prefixes"], a.get("next_hop"), **attrs)
    elif act == "withdraw":
        await p.withdraw(a["prefixes"])
    elif act == "end-of-rib":
        for fam in _families(p, a["families"]):
            await p.end_of_rib(fam)
    elif act == "crash":
        p.crash()
    elif act == "restart":
        try:
            await p.restart_gracefully(
                restart_time=a["restart_time"],
                notification=a["notification"],
                families=a["flags"],
                down_for=a["down_for"],
                timeout=timeout,
            )
        except SessionFailed:
            if a["retry_for"] <= 0:
                raise
            await connect_retrying(p, timeout, a["retry_for"])
    elif act == "flap":
        attrs = {k: a[k] for k in _ATTR_KEYS if a.get(k) is not None}
        await p.flap(a["prefix"], a["count"], a["rate"], a.get("next_hop"), **attrs)
    elif act == "silent":
        p.go_silent()
    elif act == "resume-keepalives":
        p.resume_keepalives()
    elif act == "notify":
        await p.notify(a["code"], a["subcode"], a["data"])
    elif act == "hard-reset":
        await p.hard_reset()
    elif act == "raw":
        await p.send_raw(a["hex"])
    elif act == "pause-reading":
        p.stop_reading()
    elif act == "resume-reading":
        p.resume_reading()
    elif act == "withhold-end-of-rib":
        for fam in _families(p, a["families"]):
            p.withhold_end_of_rib(fam)
    elif act == "release-end-of-rib":
        for fam in _families(p, a["families"]):
            await p.release_end_of_rib(fam)
    elif act == "close":
        await p.close()
    elif act == "expect-established":
        await p.wait(lambda: p.established, timeout, "session Established")
    elif act == "expect-route":
        wanted = a["prefixes"]
        await p.wait(lambda: all(_has(p, x) for x in wanted), timeout, f"routes {', '.join(wanted)} from the DUT")
    elif act == "expect-withdrawn":
        wanted = a["prefixes"]
        await p.wait(lambda: not any(_has(p, x) for x in wanted), timeout, f"{', '.join(wanted)} withdrawn")
    elif act == "expect-eor":
        fams = _families(p, a["families"])
        names = ", ".join(f.name for f in fams)
        await p.wait(lambda: all(f in p.eor_received for f in fams), timeout, f"End-of-RIB for {names}")
    elif act == "expect-down":
        await p.wait(lambda: p.closed, timeout, "the session going down")
    elif act == "expect-notification":
        code, sub = a["code"], a["subcode"]

        def got() -> bool:
            n = p.notification_received
            return n is not None and code in (None, n.code) and sub in (None, n.subcode)

        await p.wait(got, timeout, f"a NOTIFICATION{f' {code}/{sub}' if code is not None else ''} from the DUT")
    else:  # pragma: no cover - scenario_file.ACTIONS and this list are kept together
        raise AssertionError(f"{step.key}: action {act!r} has no implementation")


def _check(expect: Expect, e: ExpectSpec) -> None:
    a = e.args
    if e.kind == "kept":
        expect.kept(e.peer, a["prefixes"], after=a["after"], until=a["until"], refreshed=a["refreshed"])
    elif e.kind == "no-withdrawals":
        expect.no_withdrawals(e.peer, after=a["after"], until=a["until"], prefixes=a["prefixes"])
    elif e.kind == "withdrawn-within":
        expect.withdrawn_within(e.peer, a["prefixes"], a["seconds"], after=a["after"])
    elif e.kind == "open-gr":
        expect.open_gr(
            e.peer,
            after=a["after"],
            restarting=a["restarting"],
            notification=a["notification"],
            restart_time=a["restart_time"],
            forwarding=a["forwarding"],
        )
    elif e.kind == "routes":
        expect.routes(e.peer, a["prefixes"], present=a["present"])
    elif e.kind == "eor":
        expect.eor(e.peer, a["families"], after=a["after"])
    elif e.kind == "notification":
        expect.notification(e.peer, a["code"], a["subcode"])
    elif e.kind == "established":
        expect.established(e.peer, after=a["after"])
    else:  # pragma: no cover
        raise AssertionError(f"{e.key}: kind {e.kind!r} has no implementation")


def _describe_expect(e: ExpectSpec) -> str:
    parts = [e.peer, e.kind]
    for k, v in e.args.items():
        if v is None or (v is False and k == "refreshed"):
            continue
        if isinstance(v, tuple | list):
            v = ",".join(str(getattr(x, "name", x)) for x in v)
        elif isinstance(v, dict):
            v = ",".join(f"{getattr(f, 'name', f)}={x}" for f, x in v.items())
        parts.append(f"{k}={v}")
    return " ".join(parts)


async def run_scenario(scenario: Scenario, *, recorder: Recorder | None = None) -> Result:
    """Run a checked TOML scenario: the steps in order (the first that fails ends them),
    then every expectation. Peers are closed at the end."""
    lab = Lab(recorder)
    result = Result(scenario.name, scenario.source, lab.recorder)
    started = time.monotonic()
    for spec in scenario.peers:
        _make_peer(lab, spec)
    lab.recorder.add("lab", "note", text=f"scenario {scenario.name}", source=scenario.source)
    try:
        await _run_steps(lab, scenario, result)
        # the expectations read the recording as the steps left it: before our peers close
        # their sessions (a Cease makes the DUT withdraw what they announced)
        lab.recorder.add("lab", "note", text="steps over: expectations checked here")
        for e in scenario.expects:
            outcome = StepOutcome(e.key, _describe_expect(e), True)
            try:
                _check(lab.expect, e)
            except ExpectationFailed as exc:
                outcome.ok = False
                outcome.message = str(exc)
                result.failures.append(exc)
            result.expectations.append(outcome)
    finally:
        await lab.close()
    result.duration = time.monotonic() - started
    return result


async def _run_steps(lab: Lab, scenario: Scenario, result: Result) -> None:
    """The steps in order, within the scenario's time; the first that fails ends them."""
    current: StepSpec | None = None
    try:
        async with asyncio.timeout(scenario.timeout):
            for step in scenario.steps:
                current = step
                event = lab.recorder.add(
                    step.peer or "lab", STEP, step=step.name or step.action, action=step.action, index=step.index
                )
                if step.name:
                    lab.marks[step.name] = event.t
                outcome = StepOutcome(step.key, step.describe().split(" ", 1)[1], True, t=event.t)
                result.steps.append(outcome)
                try:
                    await _step(lab, step)
                except (AssertionError, SessionFailed, ValueError, OSError, WireError) as exc:
                    outcome.ok = False
                    outcome.message = str(exc)
                    result.error = f"{step.describe()} failed: {exc}"
                    return
    except TimeoutError:
        where = f" (during {current.describe()})" if current is not None else ""
        result.error = f"the scenario did not finish within {scenario.timeout:g} s{where}"
        if result.steps:
            result.steps[-1].ok = False
            result.steps[-1].message = "timed out"


async def run_file(path: str | Path, *, recorder: Recorder | None = None) -> Result:
    """Run a scenario file: TOML (checked first: ConfigError before anything is sent) or
    Python (``async def scenario(lab)``; ValueError if it has none)."""
    path = Path(path)
    if path.suffix == ".py":
        fn = load_python(path)
        return await run(fn, lab=Lab(recorder), name=path.stem, source=str(path))
    from .scenario_file import load

    return await run_scenario(load(path), recorder=recorder)
