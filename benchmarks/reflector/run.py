"""The benchmark driver: for every size, every repetition and every reflector (round robin,
so the machine's noise falls on all of them alike), make a namespace, start the reflector in
it, run the simulator in it, collect the JSON, stop everything, delete the namespace.

In a graceful-restart run the simulator asks for the restart (``@gr-stop`` on its stdout);
the driver restarts the reflector gracefully and answers on the simulator's stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import native, plan, procstat, report
from .namespace import Namespace, remove_stale
from .reflectors import REFLECTORS, REPO, Frr, Reflector

DATA_DIR = REPO / "benchmarks" / "data"
MESH_PHASE_COUNT = 6  # phases a mesh run may wait for (initial, churn x2, restart x2, margin)
KEEP_LOGS = False  # --keep-logs: keep every run's folder (configs, daemon logs), not only failed ones
GR_PHASE_COUNT = 3  # phases a graceful-restart run may wait for (initial, the restart, margin)


def corpus_file(prefixes: int) -> Path:
    """The codec benchmark's corpus with this many IPv4 prefixes (and a fifth as many IPv6
    ones, which the full-table case leaves out), generated once and kept in benchmarks/data."""
    path = DATA_DIR / f"corpus-{prefixes}-{prefixes // 5}-1.bgp"
    if not path.exists():
        from benchmarks.corpus import generate

        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(generate(prefixes, prefixes // 5, 1))
        tmp.rename(path)
    return path


def _simulate(argv: list[str], refl: Reflector, wall_timeout: float, stderr: Path) -> tuple[int | None, list[str]]:
    """Run the simulator to its end (at most ``wall_timeout`` s); restart the reflector
    gracefully when it asks. Returns its exit code (None: killed at the deadline) and its
    stdout lines."""
    deadline = time.monotonic() + wall_timeout
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=REPO, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    out = proc.stdout

    def read() -> None:
        for line in iter(out.readline, b""):
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    got: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                if proc.poll() is not None and not reader.is_alive() and lines.empty():
                    break
                if time.monotonic() >= deadline:
                    return None, got
                continue
            text = line.decode(errors="replace").rstrip("\n")
            if text != "@gr-stop":
                got.append(text)
                continue
            try:
                reply: dict[str, Any] = refl.graceful_restart()
            except Exception as exc:  # the answer carries the failure; the simulator reports it
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            proc.stdin.write(json.dumps(reply).encode() + b"\n")
            proc.stdin.flush()
        return proc.wait(timeout=10), got
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdin.close()
        reader.join(timeout=5)


def run_one(
    cls: type[Reflector],
    sim_args: list[str],
    clients: int,
    wall_timeout: float,
    tag: str,
    gr: bool = False,
    static: bool = False,
) -> dict[str, Any]:
    """One reflector, one simulator run, in a namespace of their own."""
    ns = Namespace(tag)
    rundir = Path(tempfile.mkdtemp(prefix=f"pyspeaker-rr-{cls.name}-"))
    os.chmod(rundir, 0o755)
    result: dict[str, Any] = {"reflector": cls.name, "ok": False}
    refl = cls(ns, rundir, clients, gr=gr, static=static)
    started = time.monotonic()
    try:
        ns.create()
        refl.start()
        pids = refl.pids()
        result["start_rss_mb"] = round(procstat.memory_kb(pids, "VmRSS") / 1024, 1)
        argv = [sys.executable, "-m", "benchmarks.reflector.sim", *sim_args, "--pids", ",".join(map(str, pids))]
        stderr = rundir / "sim.stderr"
        code, lines = _simulate(ns.argv(*argv), refl, wall_timeout, stderr)
        err = stderr.read_text(errors="replace").strip() if stderr.exists() else ""
        if code is None:
            result["error"] = f"simulator did not finish within {wall_timeout:.0f} s"
            return result
        try:
            result.update(json.loads(lines[-1]))
        except (IndexError, ValueError):
            result["error"] = f"simulator exited with {code}: {err[-2000:]}"
            return result
        if err:
            result["sim_stderr"] = err[-2000:]
        pids = refl.pids()  # a graceful restart made new ones
        if not refl.alive():
            result["ok"] = False
            result["error"] = f"{cls.name} exited during the run"
        result["end_peak_rss_mb"] = round(procstat.memory_kb(pids, "VmHWM") / 1024, 1)
        return result
    except Exception as exc:  # a reflector that does not start is a result, not a crash
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        result["wall_seconds"] = round(time.monotonic() - started, 2)
        if not result.get("ok"):
            result["log_tail"] = refl.log_tail(15)
        refl.stop()
        ns.close()
        if result.get("ok") and not KEEP_LOGS:
            shutil.rmtree(rundir, ignore_errors=True)
        else:
            result["rundir"] = str(rundir)


def _line(result: dict[str, Any], what: str) -> str:
    phases = result.get("phases", {})
    parts = [
        f"{k} {v['seconds']:.2f}s" + ("" if v["status"] == "ok" else f" ({v['status']})") for k, v in phases.items()
    ]
    gr = phases.get("graceful_restart")
    if gr is not None:
        parts.append(
            f"{gr.get('withdrawals')} routes withdrawn or flushed at {gr.get('clients_with_withdrawals')} clients"
        )
    status = "ok" if result.get("ok") else f"FAILED: {result.get('error', '?')}"
    return f"  {what} {result['reflector']:>9}: {status}; " + ", ".join(parts)


def _machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_times_start": procstat.cpu_times(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reflector",
        description="Route-reflector scale benchmark: pyspeaker, BIRD 2, FRR and GoBGP as reflectors of N simulated "
        "iBGP clients, their graceful restart under load, and a full table to 20 receivers (see benchmarks/README.md).",
    )
    parser.add_argument("--n", type=int, nargs="*", default=[100, 400, 800, 1600], help="client counts")
    parser.add_argument("--reflectors", nargs="+", default=list(REFLECTORS), choices=list(REFLECTORS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--fulltable", type=int, nargs="*", default=[200_000], help="full-table sizes (IPv4 prefixes); none: skip"
    )
    parser.add_argument("--receivers", type=int, default=20, help="full-table receivers")
    parser.add_argument("--concurrency", type=int, default=8, help="clients connecting at once, at most")
    parser.add_argument("--timeout", type=float, help="seconds per phase (default: 60 s or 0.3 s per client)")
    parser.add_argument("--table-timeout", type=float, help="seconds for the full table (default: 1 s per 500)")
    parser.add_argument("--frr-coalesce-ms", type=int, help="set FRR's update-group coalesce-time (default: FRR's)")
    parser.add_argument("--restart-immediate", action="store_true", help="reconnect dropped sessions at once")
    parser.add_argument(
        "--gr",
        type=int,
        nargs="*",
        default=[800],
        help="client counts of the graceful-restart runs (the reflector restarts gracefully under load); none: skip",
    )
    parser.add_argument(
        "--gr-dynamic",
        action="store_true",
        help="graceful restart: BIRD and GoBGP keep their dynamic neighbors (which do not restart gracefully)",
    )
    parser.add_argument(
        "--settle", type=float, default=2.0, help="graceful restart: quiet seconds before the stop and after recovery"
    )
    parser.add_argument("--json", type=Path, help="write every run and the medians here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the run folders of successful runs too")
    parser.add_argument("--smoke", action="store_true", help="N=20 and 2,000 prefixes to 3 receivers, once; CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.repeat, args.fulltable, args.receivers, args.gr = [20], 1, [2000], 3, [20]
        args.settle = 1.0
        args.timeout = args.timeout or 30.0
        args.table_timeout = args.table_timeout or 30.0
    if os.geteuid() != 0:
        parser.error("needs root (it makes network namespaces)")
    if any(not 2 <= n <= plan.MAX_CLIENTS for n in (*args.n, *args.gr)):
        parser.error(f"--n and --gr must be between 2 and {plan.MAX_CLIENTS}")
    Frr.coalesce_ms = args.frr_coalesce_ms
    global KEEP_LOGS
    KEEP_LOGS = args.keep_logs

    names: list[str] = []
    for name in args.reflectors:
        why = REFLECTORS[name].missing()
        if why:
            print(f"skipping {name}: {why}", flush=True)
        else:
            names.append(name)
    if not names:
        print("no reflector to run", file=sys.stderr)
        return 2

    # every client is a socket in the simulator and in the reflector
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up namespaces on the way out
    for name in remove_stale():
        print(f"removed a namespace left by an earlier run: {name}", flush=True)

    machine = _machine()
    try:  # the simulator's compiled receive loop, built before anything is timed
        native.build()
        machine["receive_loop"] = "compiled"
    except (RuntimeError, OSError) as exc:
        print(f"simulator: no compiled receive loop ({exc}); the Python one is slower", flush=True)
        machine["receive_loop"] = "python"
    if os.environ.get("PYSPEAKER_SIM_PYTHON"):
        machine["receive_loop"] = "python"
    versions = {name: REFLECTORS[name].version() for name in names}
    print(f"reflector benchmark {machine['date']}; {machine['cpus']} CPUs; Python {machine['python']}; "
          f"load average {' '.join(map(str, machine['loadavg_start']))}", flush=True)  # fmt: skip
    print("reflectors: " + "; ".join(versions.values()), flush=True)
    tables = [corpus_file(p) for p in args.fulltable]

    runs: list[dict[str, Any]] = []
    count = 0
    for rep in range(args.repeat):
        for n in args.n:
            timeout = args.timeout or max(60.0, 0.3 * n)
            sim_args = ["--clients", str(n), "--concurrency", str(args.concurrency), "--timeout", str(timeout)]
            if args.restart_immediate:
                sim_args.append("--restart-immediate")
            for name in names:
                count += 1
                r = run_one(REFLECTORS[name], sim_args, n, timeout * MESH_PHASE_COUNT + 60, f"m{count}")
                r.update(kind="mesh", n=n, repeat=rep)
                runs.append(r)
                print(_line(r, f"[{rep + 1}/{args.repeat}] N={n}"), flush=True)
        for n in args.gr:
            timeout = args.timeout or max(60.0, 0.3 * n)
            sim_args = ["--clients", str(n), "--concurrency", str(args.concurrency), "--timeout", str(timeout)]
            sim_args += ["--gr", "--settle", str(args.settle)]
            for name in names:
                count += 1
                wall = timeout * GR_PHASE_COUNT + 2 * args.settle + 60
                cls = REFLECTORS[name]
                static = cls.gr_needs_static and not args.gr_dynamic
                r = run_one(cls, sim_args, n, wall, f"g{count}", gr=True, static=static)
                r.update(kind="gr", n=n, repeat=rep, neighbors="configured" if static else "dynamic")
                runs.append(r)
                print(_line(r, f"[{rep + 1}/{args.repeat}] graceful restart N={n}"), flush=True)
        for p, path in zip(args.fulltable, tables, strict=True):
            timeout = args.table_timeout or max(60.0, p / 500)
            sim_args = ["--table", str(path), "--prefixes", str(p), "--receivers", str(args.receivers)]
            sim_args += ["--concurrency", str(args.concurrency), "--timeout", str(timeout)]
            for name in names:
                count += 1
                r = run_one(REFLECTORS[name], sim_args, args.receivers + 1, 2 * timeout + 120, f"t{count}")
                r.update(kind="table", n=p, repeat=rep)
                runs.append(r)
                print(_line(r, f"[{rep + 1}/{args.repeat}] table {p:,}"), flush=True)

    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["steal_percent"] = procstat.steal_percent(machine.pop("cpu_times_start"), procstat.cpu_times())
    mesh: dict[str, dict[int, dict[str, dict[str, Any]]]] = {}
    for phase in ("established", "initial", "churn_withdraw", "churn", "restart_withdraw", "restart"):
        for n in args.n:
            for name in names:
                sel = [r for r in runs if r["kind"] == "mesh" and r["n"] == n and r["reflector"] == name]
                mesh.setdefault(phase, {}).setdefault(n, {})[name] = report.summarize(sel, phase)
    gr: dict[int, dict[str, dict[str, Any]]] = {}
    for n in args.gr:
        for name in names:
            sel = [r for r in runs if r["kind"] == "gr" and r["n"] == n and r["reflector"] == name]
            gr.setdefault(n, {})[name] = report.summarize_gr(sel)
    full: dict[int, dict[str, dict[str, Any]]] = {}
    for p in args.fulltable:
        for name in names:
            sel = [r for r in runs if r["kind"] == "table" and r["n"] == p and r["reflector"] == name]
            full.setdefault(p, {})[name] = report.summarize(sel, "table", ("bytes_per_route", "prefixes"))

    command = "python -m benchmarks.reflector " + " ".join(argv if argv is not None else sys.argv[1:])
    print()
    print(f"Date {machine['date']}; command `{command.strip()}`; load average "
          f"{' '.join(map(str, machine['loadavg_start']))} at the start, "
          f"{' '.join(map(str, machine['loadavg_end']))} at the end; {machine['cpus']} CPUs, "
          f"{machine['steal_percent']}% of CPU time stolen by the hypervisor during the run.")  # fmt: skip
    print(f"Reflectors: {'; '.join(versions.values())}. Clients connect at most {args.concurrency} at a time; "
          f"medians of {args.repeat} run(s); the simulator's receive loop: {machine['receive_loop']}.")  # fmt: skip
    print()
    if args.n:
        print(report.mesh_tables(mesh, names))
    if args.gr:
        print(report.gr_table(gr, names))
    if args.fulltable:
        print(report.table_tables(full, names, args.receivers))
    for r in runs:  # pyspeaker's target: no client loses a route while it restarts gracefully
        phase = r.get("phases", {}).get("graceful_restart", {})
        if r["reflector"] == "pyspeaker" and r.get("ok") and phase.get("withdrawals"):
            r["ok"] = False
            r["error"] = f"{phase['withdrawals']} routes disappeared from clients during the graceful restart"
    failures = [r for r in runs if not r.get("ok")]
    for r in failures:
        print(f"FAILED {r['kind']} {r['n']} {r['reflector']}: {r.get('error')}")
        for key in ("incomplete_detail", "stats"):
            if r.get(key):
                print(f"  {key}: {json.dumps(r[key])[:1500]}")
        if r.get("rundir"):
            print(f"  logs: {r['rundir']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"machine": machine, "command": command, "versions": versions, "runs": runs,
               "medians": {"mesh": mesh, "gr": gr, "table": full}}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 1 if failures else 0
