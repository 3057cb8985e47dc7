"""Embedding pyspeaker: a program that announces a service address while the service is healthy.

It runs a :class:`~pyspeaker.runtime.speaker.Speaker` on its own asyncio loop with a
configuration built in code, checks a local TCP service every ``--interval`` seconds, and
announces ``--announce`` (e.g. the service's /32 anycast address) while the check passes,
withdrawing it after ``--fall`` failures in a row (announcing again after ``--rise``
successes). It also reacts to what its neighbors send: every route received or withdrawn is
printed as a JSON line, and kept in a table the program could act on (here: the count).

    python examples/embed.py --router-id 192.0.2.1 --listen 192.0.2.1 --neighbor 192.0.2.254 \\
        --asn 65100 --neighbor-as 65000 --service 127.0.0.1:8080 --announce 198.51.100.10/32

Every line on standard output is one JSON object: {"event": "ready"|"health"|"route"|...}.
SIGTERM or Ctrl-C withdraws everything with Cease/Administrative Shutdown and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import signal
import sys
from typing import Any

from pyspeaker.config import ConfigError, parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import prefix as wprefix
from pyspeaker.wire.family import IPV4_UNICAST


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def config_text(args: argparse.Namespace) -> str:
    """The speaker's configuration, built from the command line (the same TOML as a file)."""
    policy = f"""
[policy.announce-only]
default = "reject"
[[policy.announce-only.term]]
prefixes = ["{args.announce}"]
action = "accept"
"""
    ebgp = args.asn != args.neighbor_as
    return f"""
[global]
asn = {args.asn}
router_id = "{args.router_id}"
listen = ["{args.listen}"]
port = {args.port}
{policy}
[[neighbor]]
address = "{args.neighbor}"
remote_as = {args.neighbor_as}
port = {args.neighbor_port}
local_address = "{args.listen}"
hold_time = {args.hold_time}
connect_retry = 1
connect_retry_max = 10
export = "announce-only"        # only the service address leaves this host
{'import = "accept"' if ebgp else ""}
"""


class HealthCheck:
    """A TCP connect to the service; ``rise`` successes make it up, ``fall`` failures down."""

    def __init__(self, host: str, port: int, rise: int, fall: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.rise, self.fall, self.timeout = rise, fall, timeout
        self.up = False
        self._run = 0  # consecutive results against the current state

    async def probe(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def check(self) -> bool | None:
        """Probe once; the new state if it changed, else None."""
        ok = await self.probe()
        if ok == self.up:
            self._run = 0
            return None
        self._run += 1
        if self._run >= (self.rise if ok else self.fall):
            self.up, self._run = ok, 0
            return ok
        return None


class Routes:
    """What the neighbors announce, as they announce it: (peer, prefix) -> next hop."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, str], str] = {}

    def on_update(self, peer: str, update: Any) -> None:
        for fam, prefixes in update.withdrawals().items():
            bits = 4 if fam == IPV4_UNICAST else 16
            for p in prefixes:
                text = wprefix.to_text(p, bits)
                if self.table.pop((peer, text), None) is not None:
                    emit("route", action="withdraw", peer=peer, prefix=text, routes=len(self.table))
        reach = update.reach
        for fam, prefixes in update.announced().items():
            bits = 4 if fam == IPV4_UNICAST else 16
            if reach is not None and reach.family == fam:
                nh = str(ipaddress.ip_address(reach.next_hop[:bits])) if reach.next_hop else ""
            else:
                nh = str(update.attrs.next_hop) if update.attrs is not None and update.attrs.next_hop else ""
            for p in prefixes:
                text = wprefix.to_text(p, bits)
                self.table[(peer, text)] = nh
                emit("route", action="announce", peer=peer, prefix=text, next_hop=nh, routes=len(self.table))


async def watch(speaker: Speaker, routes: Routes) -> None:
    """React to the speaker's events: sessions and routes."""
    async for peer, event in speaker.events():
        if isinstance(event, ft.SessionUp):
            emit("session", peer=peer, state="up", peer_as=event.negotiated.peer_as)
        elif isinstance(event, ft.SessionDown):
            emit("session", peer=peer, state="down", reason=event.reason)
            for key in [k for k in routes.table if k[0] == peer]:
                del routes.table[key]  # the session's routes went with it
        elif isinstance(event, ft.UpdateReceived):
            routes.on_update(peer, event.update)


async def health_loop(speaker: Speaker, check: HealthCheck, args: argparse.Namespace) -> None:
    while True:
        changed = await check.check()
        if changed is True:
            speaker.originate(args.announce, next_hop=args.next_hop or args.listen)
            emit("health", up=True, announced=args.announce)
        elif changed is False:
            speaker.withdraw(args.announce)
            emit("health", up=False, withdrawn=args.announce)
        await asyncio.sleep(args.interval)


async def run(args: argparse.Namespace) -> int:
    try:
        speaker = Speaker(parse(config_text(args), "<embed.py>"))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        await speaker.start()
    except OSError as exc:
        print(f"embed.py: {exc.strerror or exc}", file=sys.stderr)
        return 1
    emit("ready", port=speaker.port, neighbor=args.neighbor)
    host, _, port = args.service.rpartition(":")
    check = HealthCheck(host.strip("[]"), int(port), args.rise, args.fall, min(args.interval, 2.0))
    tasks = [
        asyncio.ensure_future(watch(speaker, Routes())),
        asyncio.ensure_future(health_loop(speaker, check, args)),
    ]
    stop = asyncio.Event()

    def ended(task: asyncio.Future[None]) -> None:  # a task that fails stops the program
        if not task.cancelled() and task.exception() is not None:
            emit("error", error=repr(task.exception()))
            stop.set()

    for task in tasks:
        task.add_done_callback(ended)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    tasks[1].cancel()
    await speaker.stop("embed.py stopping")
    await asyncio.gather(*tasks, return_exceptions=True)
    emit("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--asn", type=int, default=65100)
    p.add_argument("--router-id", required=True)
    p.add_argument("--listen", required=True, help="our address (the session's local address)")
    p.add_argument("--port", type=int, default=179, help="our listening port (0: any)")
    p.add_argument("--neighbor", required=True)
    p.add_argument("--neighbor-as", type=int, default=65000)
    p.add_argument("--neighbor-port", type=int, default=179)
    p.add_argument("--hold-time", type=int, default=90)
    p.add_argument("--service", required=True, help="HOST:PORT of the service to check")
    p.add_argument("--announce", required=True, help="the prefix announced while it is healthy")
    p.add_argument("--next-hop", help="next hop for it (default: --listen)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between checks")
    p.add_argument("--rise", type=int, default=2, help="successes in a row before announcing")
    p.add_argument("--fall", type=int, default=2, help="failures in a row before withdrawing")
    args = p.parse_args(argv)
    try:
        ipaddress.ip_network(args.announce)
    except ValueError as exc:
        p.error(f"--announce: {exc}")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
