"""The client simulator: one asyncio process (uvloop when available) that runs the phases of
one benchmark run against a reflector listening on 127.0.0.1, and prints one JSON object.

It runs inside the run's network namespace (``ip netns exec``), started by
:mod:`benchmarks.reflector.run`, and reads the reflector's CPU time and memory from /proc at
the exact moments a phase starts and ends (``--pids``).

Mesh mode (``--clients N``): N iBGP clients, each advertising one IPv4 /26 and one IPv6 /64
(plus End-of-RIB); phases

* ``initial``: from the first connect until every client has every other client's routes
  (``established``: until every session is Established, inside the same interval);
* ``churn``: 10% of the clients withdraw both routes (``churn_withdraw``: until no client
  holds them) and then announce them again with new next hops (until every client holds the
  new ones);
* ``restart``: 10% of the sessions are closed without NOTIFICATION (``restart_withdraw``: until
  no client holds their routes), then they connect again and their routes come back with new
  next hops; until every client holds every route again. (``--restart-immediate``: they
  connect again at once, racing the reflector's clean-up of the old session.)

Graceful-restart mode (``--clients N --gr``): the clients are graceful-restart helpers (see
:mod:`benchmarks.reflector.client`); after ``initial`` the phase ``graceful_restart``: the
simulator writes ``@gr-stop`` on stdout, the driver restarts the reflector gracefully and
answers on stdin with one JSON line (the new process ids, the old process's CPU time, or an
error); every client then connects again (at most ``--concurrency`` at a time) and sends its
routes and End-of-RIB again. The phase lasts from just before ``@gr-stop`` until every client
is Established and has received End-of-RIB for both families after the complete table;
every route that disappeared from any client during it, and in ``--settle`` seconds after it,
is counted (target: none).

Full-table mode (``--table FILE --receivers R``): R receivers and one injector connect; then
the injector sends the IPv4 announcements of a corpus file (every prefix once) and the phase
``table`` lasts until every receiver holds every prefix.

Clients connect at most ``--concurrency`` at a time (a connect attempt holds its slot until
the reflector's OPEN shows it accepted the connection, or the attempt fails), as nodes of a
cluster arrive in practice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from pyspeaker import wire
from pyspeaker.wire import constants as wc
from pyspeaker.wire import pack
from pyspeaker.wire.attrs import walk
from pyspeaker.wire.prefix import NBYTES_V4, split

from . import native, plan, procstat
from .client import Client, Scoreboard

# clients are refused or reset while a reflector is busy: try again, this many times
CONNECT_ATTEMPTS = 40
RESTART_FRACTION_SALT = 5
CHURN_FRACTION_SALT = 1


class PhaseTimeout(Exception):
    pass


class Runner:
    """Phase bookkeeping shared by both modes: timing, CPU and memory snapshots."""

    def __init__(self, pids: list[int], concurrency: int, timeout: float) -> None:
        self.pids = pids
        self.timeout = timeout
        self.sem = asyncio.Semaphore(concurrency)
        self.phases: dict[str, dict[str, Any]] = {}
        self.board: Scoreboard | None = None
        self.latencies: list[float] = []  # connect to Established, per session

    def snapshot(self) -> dict[str, float]:
        return {
            "t": time.perf_counter(),
            "cpu": procstat.cpu_seconds(self.pids),
            "sim_cpu": time.process_time(),
            "hwm_kb": procstat.memory_kb(self.pids, "VmHWM"),
            "rss_kb": procstat.memory_kb(self.pids, "VmRSS"),
        }

    def session_latency(self) -> dict[str, float]:
        """Seconds from connect to Established (median, 90th percentile, maximum) of the
        sessions made since the last call."""
        lat = sorted(self.latencies)
        self.latencies = []
        if not lat:
            return {}
        return {
            "median": round(lat[len(lat) // 2], 4),
            "p90": round(lat[int(len(lat) * 0.9)], 4),
            "max": round(lat[-1], 4),
        }

    def record(self, name: str, start: dict[str, float], end: dict[str, float] | None, status: str = "ok") -> None:
        if end is None:
            end = self.snapshot()
        self.phases[name] = {
            "status": status,
            "seconds": round(end["t"] - start["t"], 4),
            "reflector_cpu": round(end["cpu"] - start["cpu"], 3),
            "sim_cpu": round(end["sim_cpu"] - start["sim_cpu"], 3),
            "peak_rss_mb": round(end["hwm_kb"] / 1024, 1),
            "rss_mb": round(end["rss_kb"] / 1024, 1),
        }

    async def connect(self, c: Client) -> bool:
        """Connect ``c`` until its session is Established (bounded attempts). A connect
        attempt holds one of the ``concurrency`` slots until the reflector has accepted the
        connection (its OPEN arrived) or it failed: that bounds the connections waiting in
        the reflector's listen queue (BIRD's holds 8), while OPEN processing overlaps."""
        loop = asyncio.get_running_loop()
        board = c.board
        for attempt in range(CONNECT_ATTEMPTS):
            began = time.perf_counter()
            c.up = loop.create_future()
            c.accepted = loop.create_future()
            async with self.sem:
                try:
                    await loop.create_connection(lambda: c, plan.REFLECTOR, plan.PORT, local_addr=(c.address, 0))
                except OSError as exc:
                    board.stats["connect_errors"] += 1
                    if board.stats["connect_errors"] <= 5:
                        board.error(f"connect from {c.address}: {exc}")
                    c.up.set_result(False)
                    c.accepted.set_result(False)
                await c.accepted
            if await c.up:
                self.latencies.append(time.perf_counter() - began)
                return True
            await asyncio.sleep(min(0.05 * 2**attempt, 2.0))  # pacing between attempts, not a wait for an event
        board.error(f"client {c.address}: no session after {CONNECT_ATTEMPTS} attempts")
        return False

    async def until(self, name: str, waiter: Awaitable[Any], start: dict[str, float], end_holder: list[Any]) -> None:
        """Await ``waiter`` within the phase timeout; record the phase (ended by the first
        snapshot in ``end_holder``, taken the moment the phase completed)."""
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except TimeoutError:
            self.record(name, start, None, "timeout")
            raise PhaseTimeout(name) from None
        self.record(name, start, next((h for h in end_holder if "t" in h), None))

    def arm(self, board: Scoreboard) -> tuple[asyncio.Event, list[Any]]:
        """A fresh completion event; the snapshot is taken the moment it fires."""
        event = asyncio.Event()
        holder: list[Any] = []
        board.done = event
        board.on_done = lambda: holder.append(self.snapshot())
        board.recount()
        return event, holder


# -- mesh mode ---------------------------------------------------------------------------------
class Mesh(Runner):
    def __init__(
        self,
        n: int,
        pids: list[int],
        concurrency: int,
        timeout: float,
        churn: float,
        restart: float,
        immediate: bool = False,
        gr: bool = False,
        settle: float = 2.0,
    ) -> None:
        super().__init__(pids, concurrency, timeout)
        self.n = n
        self.immediate = immediate
        self.gr = gr
        self.settle = settle
        self.churn = churn
        self.restart = restart
        index4 = {plan.prefix4(i): i for i in range(n)}
        index6 = {plan.prefix6(i): i for i in range(n)}
        self.board = board = Scoreboard(index4, index6, n)
        self.epoch = [0] * n
        for i in range(n):
            board.want4[i] = board.want6[i] = 1
        self.clients = [Client(board, i, plan.client_address(i), n - 1, n - 1, helper=gr) for i in range(n)]
        for c in self.clients:
            c.on_up = self.announce_on_up

    # what client i sends
    def announce(self, i: int) -> list[bytes]:
        e = self.epoch[i]
        path = wire.AsPath()
        a4 = wire.build_attrs(origin=0, as_path=path, next_hop=_ip4(plan.next_hop4(i, e)), local_pref=100)
        a6 = wire.build_attrs(origin=0, as_path=path, local_pref=100)
        return [
            *pack.announce_ipv4(a4.raw, [plan.prefix4(i)]),
            *pack.announce_mp(wire.IPV6_UNICAST, plan.next_hop6(i, e), a6.raw, [plan.prefix6(i)]),
        ]

    def withdraw(self, i: int) -> list[bytes]:
        return [*pack.withdraw_ipv4([plan.prefix4(i)]), *pack.withdraw_mp(wire.IPV6_UNICAST, [plan.prefix6(i)])]

    def announce_on_up(self, c: Client) -> None:
        msgs = self.announce(c.i) if self.board is not None and self.board.want4[c.i] else []
        c.send([*msgs, pack.end_of_rib(wire.IPV4_UNICAST), pack.end_of_rib(wire.IPV6_UNICAST)])

    def _established_snapshot(self, goal: int) -> list[Any]:
        assert self.board is not None
        holder: list[Any] = []
        self.board.established_goal = goal
        self.board.on_established = lambda: holder.append(self.snapshot())
        return holder

    async def run(self) -> None:
        board = self.board
        assert board is not None
        n = self.n
        # -- initial: connect everyone, until every client holds every route ---------------
        event, holder = self.arm(board)
        est = self._established_snapshot(n)
        start = self.snapshot()
        tasks = [asyncio.create_task(self.connect(c)) for c in self.clients]
        try:
            await self.until("initial", event.wait(), start, holder)
        finally:
            for t in tasks:
                t.cancel()
            self.record("established", start, est[0] if est else None, "ok" if est else "timeout")
            self.phases["established"]["session_latency"] = self.session_latency()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.gr:
            await self.graceful_restart()
            return

        # -- churn: withdraw, then announce again with new next hops -------------------------
        chosen = plan.chosen(n, self.churn, CHURN_FRACTION_SALT)
        start = self.snapshot()
        for j in chosen:
            board.set_want(j, 0)
        event, holder = self.arm(board)
        for j in chosen:
            self.clients[j].send(self.withdraw(j))
        await self.until("churn_withdraw", event.wait(), start, holder)
        for j in chosen:
            self.epoch[j] += 1
            board.set_want(j, self.epoch[j] + 1)
        event, holder = self.arm(board)
        for j in chosen:
            self.clients[j].send(self.announce(j))
        await self.until("churn", event.wait(), start, holder)

        # -- restart: sessions closed without NOTIFICATION; they connect again once the
        # reflector has withdrawn their routes (or at once, with --restart-immediate)
        chosen = plan.chosen(n, self.restart, RESTART_FRACTION_SALT)
        start = self.snapshot()
        for j in chosen:
            self.epoch[j] += 1
            board.set_want(j, 0 if not self.immediate else self.epoch[j] + 1)
        event, holder = self.arm(board)
        est = self._established_snapshot(n)
        closing = []
        for j in chosen:
            c = self.clients[j]
            if c.closed is not None:
                closing.append(c.closed)
            c.absent = not self.immediate
            c.drop(expected=True)
        tasks = []
        try:
            await asyncio.wait_for(asyncio.gather(*closing), self.timeout)
            if not self.immediate:
                await self.until("restart_withdraw", event.wait(), start, holder)
                for j in chosen:
                    board.set_want(j, self.epoch[j] + 1)
                    self.clients[j].absent = False
                event, holder = self.arm(board)
            tasks = [asyncio.create_task(self.connect(self.clients[j])) for j in chosen]
            await self.until("restart", event.wait(), start, holder)
        finally:
            for t in tasks:
                t.cancel()
            self.record("restart_established", start, est[0] if est else None, "ok" if est else "timeout")
            self.phases["restart_established"]["session_latency"] = self.session_latency()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def graceful_restart(self) -> None:
        """The reflector restarts gracefully (the driver does it, on ``@gr-stop``); until
        every client is Established again and has End-of-RIB of both families after the
        complete table. Every route that disappears meanwhile is counted."""
        board = self.board
        assert board is not None
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        await asyncio.sleep(self.settle)  # let the reflector finish sending (End-of-RIBs)
        for c in self.clients:
            c.expect_close = True  # the reflector will close it: not an error
            c.eor4 = c.eor6 = False
        board.watch = True
        board.require_eor = True
        event, holder = self.arm(board)
        est = self._established_snapshot(self.n)
        start = self.snapshot()
        start["lost"] = 0
        sys.stdout.write("@gr-stop\n")
        sys.stdout.flush()
        tasks: list[asyncio.Task[bool]] = []
        reply: dict[str, Any] = {}
        try:
            line = await asyncio.wait_for(stdin.readline(), self.timeout)
            reply = json.loads(line or b"{}")
            if reply.get("error") or not reply.get("pids"):
                self.record("graceful_restart", start, None, "failed")
                self.phases["graceful_restart"]["error"] = reply.get("error", "no answer from the driver")
                raise PhaseTimeout("graceful_restart (the reflector did not restart)")
            self.pids = [int(p) for p in reply["pids"]]
            tasks = [asyncio.create_task(self.reconnect(c)) for c in self.clients]
            await self.until("graceful_restart", event.wait(), start, holder)
        finally:
            for t in tasks:
                t.cancel()
            phase = self.phases.get("graceful_restart")
            if phase is None:  # no answer in time
                self.record("graceful_restart", start, None, "timeout")
                phase = self.phases["graceful_restart"]
            end = next((h for h in holder if "t" in h), None) or self.snapshot()
            old_cpu = reply.get("old_cpu")
            if old_cpu is not None:  # the old process until it exited, plus the new one
                phase["reflector_cpu"] = round(end["cpu"] + old_cpu - start["cpu"], 3)
                phase["old_process_cpu"] = round(old_cpu - start["cpu"], 3)
            for key in ("down_seconds", "exit_seconds", "old_peak_rss_mb"):
                if key in reply:
                    phase[key] = reply[key]
            phase["established_seconds"] = round(est[0]["t"] - start["t"], 4) if est else None
            for key, times in (("complete_at", board.complete_times), ("end_of_rib_at", board.eor_times)):
                phase[key] = _spread([t - start["t"] for t in times])
            phase["session_latency"] = self.session_latency()
            at_done = board.lost_total
            if phase["status"] == "ok":
                await asyncio.sleep(self.settle)  # anything withdrawn just after is counted too
            board.watch = False
            phase["withdrawals"] = board.lost_total
            phase["withdrawals_after_done"] = board.lost_total - at_done if phase["status"] == "ok" else None
            phase["clients_with_withdrawals"] = sum(1 for c in self.clients if c.lost)
            phase["max_withdrawals_per_client"] = max((c.lost for c in self.clients), default=0)
            phase.update({k: v for k, v in board.gr.items()})
            phase["settle_seconds"] = self.settle
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reconnect(self, c: Client) -> bool:
        """Connect again once the old session is gone."""
        if c.closed is not None and not c.closed.done():
            await asyncio.wait_for(asyncio.shield(c.closed), self.timeout)
        return await self.connect(c)


def _spread(values: list[float]) -> dict[str, float]:
    """First, median, 90th percentile and last of some seconds (and how many)."""
    v = sorted(values)
    if not v:
        return {}
    return {
        "count": len(v),
        "first": round(v[0], 4),
        "median": round(v[len(v) // 2], 4),
        "p90": round(v[int(len(v) * 0.9)], 4),
        "last": round(v[-1], 4),
    }


def _ip4(b: bytes) -> str:
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


# -- full-table mode ---------------------------------------------------------------------------
LOCAL_PREF_100 = b"\x40\x05\x04\x00\x00\x00\x64"


def _with_local_pref(block: bytes) -> bytes:
    """The attribute block with LOCAL_PREF 100 added where it lacks one (in type-code
    order): LOCAL_PREF is mandatory on iBGP, and FRR treats an UPDATE without it as a
    withdrawal (RFC 7606)."""
    pos = len(block)
    for flags, code, start, _end in walk(block):
        if code == wc.LOCAL_PREF:
            return block
        if code > wc.LOCAL_PREF:
            pos = start - (4 if flags & wc.FLAG_EXTENDED else 3)
            break
    return block[:pos] + LOCAL_PREF_100 + block[pos:]


def corpus_table(path: Path) -> tuple[bytes, dict[bytes, int]]:
    """The IPv4 announcements of a corpus file (UPDATEs with NLRI and no withdrawals) as an
    iBGP client sends them, and an index of their prefixes (every prefix is announced once in
    a corpus). Two changes make the table valid on iBGP: LOCAL_PREF 100 where a set has none
    (8% of them), and no prefixes inside 127.0.0.0/8 (BIRD and FRR refuse them)."""
    data = path.read_bytes()
    keep: list[bytes] = []
    index: dict[bytes, int] = {}
    for kind, start, end in wire.iter_frames(data):
        if kind != 2:
            continue
        wl = (data[start + 19] << 8) | data[start + 20]
        if wl:
            continue
        ab = start + 23
        ae = ab + ((data[start + 21] << 8) | data[start + 22])
        if ae >= end:
            continue
        prefixes = [p for p in split(data, ae, end, NBYTES_V4) if p[1] != 127]
        for p in prefixes:
            index.setdefault(p, len(index))
        keep.extend(pack.announce_ipv4(_with_local_pref(data[ab:ae]), prefixes))
    return b"".join(keep), index


class FullTable(Runner):
    def __init__(self, table: Path, limit: int, receivers: int, pids: list[int], concurrency: int, timeout: float):
        super().__init__(pids, concurrency, timeout)
        payload, index = corpus_table(table)
        if limit and len(index) > limit:
            raise SystemExit(f"{table} holds {len(index)} IPv4 prefixes, more than --prefixes {limit}")
        self.payload = payload
        self.prefixes = p = len(index)
        self.board = board = Scoreboard(index, {}, p, fixed_values=True)
        board.want4[:] = b"\x01" * p
        self.receivers = [Client(board, -2, plan.client_address(i), p, p) for i in range(receivers)]
        self.injector = Client(board, -2, plan.client_address(receivers), 0, 0, listen=False)

    async def run(self) -> None:
        board = self.board
        assert board is not None
        everyone = [*self.receivers, self.injector]
        event = asyncio.Event()
        holder: list[Any] = []
        board.established_goal = len(everyone)

        def established() -> None:
            holder.append(self.snapshot())
            event.set()

        board.on_established = established
        start = self.snapshot()
        tasks = [asyncio.create_task(self.connect(c)) for c in everyone]
        try:
            await self.until("established", event.wait(), start, holder)
        finally:
            for t in tasks:
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        event, holder = self.arm(board)
        start = self.snapshot()
        eor = pack.end_of_rib(wire.IPV4_UNICAST) + pack.end_of_rib(wire.IPV6_UNICAST)
        sent = self.injector.send_all(self.payload + eor)
        sent.add_done_callback(lambda _: holder.append({"sent": time.perf_counter()}))
        await self.until("table", event.wait(), start, holder)
        end = next(h for h in holder if "t" in h)
        phase = self.phases["table"]
        sent_at = [h["sent"] for h in holder if "sent" in h]
        if sent_at:  # when the reflector had read all but the last socket buffer of the table
            phase["injector_sent_seconds"] = round(sent_at[0] - start["t"], 3)
        phase["prefixes"] = self.prefixes
        phase["receivers"] = len(self.receivers)
        phase["rss_before_mb"] = round(start["rss_kb"] / 1024, 1)
        phase["bytes_per_route"] = round((end["rss_kb"] - start["rss_kb"]) * 1024 / self.prefixes, 1)
        phase["peak_bytes_per_route"] = round((end["hwm_kb"] - start["rss_kb"]) * 1024 / self.prefixes, 1)


def _describe(board: Scoreboard, c: Client) -> dict[str, Any]:
    """What an incomplete client lacks (for the report of a run that did not converge)."""
    out: dict[str, Any] = {"client": c.address, "state": c.state, "sessions": c.sessions}
    for fam, have, want, good, target in (
        ("ipv4", c.have4, board.want4, c.good4, c.target4),
        ("ipv6", c.have6, board.want6, c.good6, c.target6),
    ):
        wrong = [j for j in range(board.origins) if j != c.i and have[j] != want[j]]
        out[fam] = {"good": good, "target": target, "wrong": len(wrong)}
        out[fam]["examples"] = [f"origin {j}: holds {have[j]}, expected {want[j]}" for j in wrong[:3]]
    return out


# -- entry point -------------------------------------------------------------------------------
def _install_loop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def _amain(args: argparse.Namespace) -> dict[str, Any]:
    pids = [int(p) for p in args.pids.split(",") if p] if args.pids else []
    runner: Runner
    if args.table:
        runner = FullTable(args.table, args.prefixes, args.receivers, pids, args.concurrency, args.timeout)
    else:
        runner = Mesh(
            args.clients,
            pids,
            args.concurrency,
            args.timeout,
            args.churn,
            args.restart,
            args.restart_immediate,
            args.gr,
            args.settle,
        )
    out: dict[str, Any] = {"ok": False}
    assert runner.board is not None
    runner.board.scan = native.load()
    out["receive_loop"] = "python" if runner.board.scan is None else "compiled"
    try:
        await runner.run()
        out["ok"] = True
    except PhaseTimeout as exc:
        out["error"] = f"phase {exc} did not complete within {args.timeout} s"
    finally:
        board = runner.board
        assert board is not None
        out["phases"] = runner.phases
        out["stats"] = board.stats
        out["established_now"] = board.established
        out["incomplete_now"] = board.incomplete
        out["sessions"] = sum(c.sessions for c in board.clients)
        out["incomplete_detail"] = [_describe(board, c) for c in board.clients if not c.complete][:10]
        for c in board.clients:
            with contextlib.suppress(Exception):
                c.drop(expected=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--churn", type=float, default=0.1, help="fraction of clients that withdraw and re-announce")
    parser.add_argument("--restart", type=float, default=0.1, help="fraction of sessions dropped and reconnected")
    parser.add_argument(
        "--restart-immediate",
        action="store_true",
        help="dropped sessions connect again at once, not after the reflector withdrew their routes",
    )
    parser.add_argument(
        "--gr",
        action="store_true",
        help="graceful-restart mode: helper clients; after initial, the reflector restarts gracefully "
        "(the driver does it when @gr-stop is written; it answers on stdin)",
    )
    parser.add_argument("--settle", type=float, default=2.0, help="--gr: seconds before the stop and after recovery")
    parser.add_argument("--table", type=Path, help="corpus file: full-table mode")
    parser.add_argument("--prefixes", type=int, default=0, help="full-table mode: refuse a table larger than this")
    parser.add_argument("--receivers", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8, help="connect attempts in flight at most")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per phase")
    parser.add_argument("--pids", default="", help="reflector process ids (comma separated) for CPU and memory")
    args = parser.parse_args(argv)
    if not 2 <= args.clients <= plan.MAX_CLIENTS:
        parser.error("--clients out of range")
    loop_name = _install_loop()
    out = asyncio.run(_amain(args))
    out["loop"] = loop_name
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
