"""The operator CLI against real daemons (BIRD 2, FRR), each in its own network namespace:
``pyspeaker neighbor ADDR`` shows what the daemon really sent (its router id, its
capabilities byte for byte), ``pyspeaker rib`` its routes with their communities, ``pyspeaker
route add`` reaches the daemon with its attributes, and ``pyspeaker neighbor ADDR reset
--message`` ends the session with Cease/Administrative Reset that the daemon records with the
RFC 9003 text, after which the session comes back."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any, TypeGuard

import pytest

from pyspeaker import cli
from pyspeaker.fsm import types as ft

from .conftest import DaemonFactory, SpeakerFactory
from .daemons import DAEMON_COMMUNITY, DAEMON_V4, Daemon
from .netns import poll
from .pyside import DAEMON_AS, config_text

UP_TIMEOUT = 20.0
POLICIES = 'import = "accept"\nexport = "accept"\n'
# how each daemon records Cease/Administrative Reset with its RFC 9003 text
RESET_SEEN = {
    "bird2": 'Received: Administrative reset: "control api interop"',  # bird.log
    "frr": '"lastShutdownDescription":"control api interop"',  # show bgp neighbors json
}


def is_up(e: ft.Event) -> TypeGuard[ft.SessionUp]:
    return isinstance(e, ft.SessionUp)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


async def pyspeaker(sock: str, *argv: str) -> Any:
    status, out, err = await asyncio.to_thread(run_cli, [*argv, "--json", "--socket", sock])
    assert status == 0, err
    return json.loads(out)


async def established(d: Daemon) -> str:
    async def probe() -> tuple[bool, str]:
        return await d.established()

    text: str = await poll(probe, f"{d.kind} shows the session Established", UP_TIMEOUT)
    return text


@pytest.mark.parametrize("kind", ["bird2", "frr"])
async def test_cli_against_a_daemon(lab: DaemonFactory, speakers: SpeakerFactory, kind: str, tmp_path: Path) -> None:
    d = lab(kind)
    speaker, rec = await speakers(config_text(d.link, extra=POLICIES))
    sock = str(tmp_path / "ctl.sock")
    await speaker.serve_control(sock)
    await rec.wait_for(is_up, UP_TIMEOUT, f"SessionUp with {kind}")
    await established(d)
    peer = d.link.their4

    # what the daemon sent, as it sent it
    n = await pyspeaker(sock, "neighbor", peer)
    assert n["state"] == "Established" and n["router_id"] == peer and n["remote_as"] == DAEMON_AS
    received = {c["name"]: c for c in n["capabilities"]["received"]}
    assert received["four-octet-as"]["raw"] == DAEMON_AS.to_bytes(4, "big").hex()
    assert received["four-octet-as"]["decoded"] == {"asn": DAEMON_AS}
    runner = speaker.peers[peer]
    neg = runner.session.negotiated
    assert neg is not None
    wire = {c.name: c.raw.hex() for c in neg.peer_open.capabilities}
    assert {name: c["raw"] for name, c in received.items()} == wire
    assert n["timers"]["hold_time"] == neg.hold_time and n["messages"]["received"]["open"] == 1

    # the daemon's route in the Loc-RIB, with its community, from it
    async def daemon_route() -> tuple[bool, Any]:
        routes = await pyspeaker(sock, "rib", DAEMON_V4)
        return bool(routes) and routes[0]["from"] == peer, routes

    routes = await poll(daemon_route, f"{DAEMON_V4} from {kind} in pyspeaker rib", 15)
    assert routes[0]["best"] and f"{DAEMON_COMMUNITY[0]}:{DAEMON_COMMUNITY[1]}" in routes[0]["communities"]
    assert routes[0]["as_path"] == str(DAEMON_AS)

    # a route of our own reaches the daemon
    added = await pyspeaker(
        sock, "route", "add", "10.99.1.0/24", "--next-hop", d.link.our4, "--community", "65001:77", "--med", "33"
    )
    assert added["prefix"] == "10.99.1.0/24"

    async def daemon_has_it() -> tuple[bool, str]:
        view, text = await d.route(1, "10.99.1.0/24")
        return view is not None, text

    text = await poll(daemon_has_it, f"{kind} has 10.99.1.0/24", 15)
    assert "65001" in text and "77" in text
    out = await pyspeaker(sock, "rib", "--neighbor", peer, "--out")
    assert "10.99.1.0/24" in [r["prefix"] for r in out]

    # reset with a shutdown communication: the daemon records it, the session comes back
    ups = len(rec.of(ft.SessionUp))
    await pyspeaker(sock, "neighbor", peer, "reset", "--message", "control api interop")

    async def daemon_saw_reset() -> tuple[bool, str]:
        seen = await d.last_error() + "\n" + d.log_text()
        return RESET_SEEN[kind] in seen and ("Administrative Reset" in seen or kind == "bird2"), seen

    await poll(daemon_saw_reset, f"{kind} recorded Cease/Administrative Reset with the text", 15)
    await rec.wait_for(lambda e: is_up(e) and len(rec.of(ft.SessionUp)) > ups, UP_TIMEOUT, "the session back")
    await established(d)
    n = await pyspeaker(sock, "neighbor", peer)
    assert n["established_count"] == 2 and n["notifications"]["sent"] == {"6/4": 1}
    assert n["notifications"]["last_sent"]["text"] == "Cease/Administrative Reset: control api interop"
