"""examples/embed.py run as a program against a second pyspeaker on loopback: it announces
the service address while a local TCP service answers, withdraws it when the service goes,
announces it again when it is back, and reports the routes its neighbor sends and withdraws."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from pyspeaker.config import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import prefix as wprefix
from pyspeaker.wire.family import IPV4_UNICAST
from rfc_tests.loopback import until

EMBED = Path(__file__).resolve().parents[2] / "examples" / "embed.py"
TIMEOUT = 20.0
ME, PEER, SERVICE = "127.0.10.1", "127.0.10.2", "127.0.10.3"
ANYCAST = "198.51.100.10/32"
THEIRS = "10.99.0.0/24"


def peer_config() -> str:
    return f"""
[global]
asn = 65000
router_id = "{PEER}"
listen = ["{PEER}"]
port = 0

[[neighbor]]
address = "{ME}"
remote_as = 65100
passive = true
hold_time = 9
import = "accept"
export = "accept"
"""


def has_route(sp: Speaker, text: str) -> bool:
    loc = sp.router.locs.get(IPV4_UNICAST)
    return loc is not None and any(wprefix.to_text(p, 4) == text and path.source.address for p, path in loc.items())


class Lines:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []
        self.used: set[int] = set()

    async def until(self, **want: Any) -> dict[str, Any]:
        """The first line not matched before with these fields, waiting for it (bounded in
        time): lines of concurrent tasks (sessions, health checks) come in any order."""
        assert self.proc.stdout is not None

        def ok(line: dict[str, Any]) -> bool:
            return all(line.get(k) == v for k, v in want.items())

        for i, line in enumerate(self.seen):
            if i not in self.used and ok(line):
                self.used.add(i)
                return line

        async def scan() -> dict[str, Any]:
            while True:
                raw = await self.proc.stdout.readline()  # type: ignore[union-attr]
                if not raw:
                    raise AssertionError(f"embed.py ended; its lines: {self.seen}")
                line = json.loads(raw)
                self.seen.append(line)
                if ok(line):
                    self.used.add(len(self.seen) - 1)
                    return line

        return await asyncio.wait_for(scan(), TIMEOUT)


async def test_embed_announces_while_healthy_and_reports_routes() -> None:
    async def answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    service = await asyncio.start_server(answer, SERVICE, 0)
    service_port = service.sockets[0].getsockname()[1]
    events: list[tuple[str, ft.Event]] = []
    peer = Speaker(parse(peer_config(), "peer.toml"), lambda a, e: events.append((a, e)))
    await peer.start()
    peer.originate(THEIRS, next_hop=PEER)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EMBED),
        *("--router-id", ME, "--listen", ME, "--port", "0", "--asn", "65100"),
        *("--neighbor", PEER, "--neighbor-as", "65000", "--neighbor-port", str(peer.port), "--hold-time", "9"),
        *("--service", f"{SERVICE}:{service_port}", "--announce", ANYCAST),
        *("--interval", "0.1", "--rise", "1", "--fall", "2"),
        stdout=asyncio.subprocess.PIPE,
    )
    out = Lines(proc)
    try:
        await out.until(event="ready")
        await out.until(event="session", state="up", peer_as=65000)
        await out.until(event="health", up=True)
        await until(lambda: has_route(peer, ANYCAST), f"{ANYCAST} at the neighbor")
        # it reacts to the neighbor's routes
        got = await out.until(event="route", action="announce", prefix=THEIRS)
        assert got["peer"] == PEER and got["next_hop"] == PEER

        # the service goes: two failed checks, the address is withdrawn
        service.close()
        await service.wait_closed()
        await out.until(event="health", up=False)
        await until(lambda: not has_route(peer, ANYCAST), f"{ANYCAST} withdrawn from the neighbor")
        # back on the same port: announced again
        service = await asyncio.start_server(answer, SERVICE, service_port)
        await out.until(event="health", up=True)
        await until(lambda: has_route(peer, ANYCAST), f"{ANYCAST} announced again")

        assert peer.withdraw(THEIRS)
        got = await out.until(event="route", action="withdraw", prefix=THEIRS)
        assert got["routes"] == 0
        # only the service address leaves the host (the export policy)
        assert [wprefix.to_text(p, 4) for p, path in peer.router.locs[IPV4_UNICAST].items() if path.source.address] == [
            ANYCAST
        ]

        proc.send_signal(signal.SIGTERM)
        await out.until(event="stopped")
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
        await until(lambda: not has_route(peer, ANYCAST), "the route gone with the session")
        down = [e for a, e in events if a == ME and isinstance(e, ft.SessionDown)]
        assert down and down[-1].received is not None and (down[-1].received.code, down[-1].received.subcode) == (6, 2)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        service.close()
        await peer.stop()
