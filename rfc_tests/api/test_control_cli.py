"""The control API end to end: a Speaker on loopback with two raw peers, its control server
on a temporary Unix socket, and every CLI command run through ``pyspeaker.cli.main`` (in a
thread: the speaker runs on this test's loop), checked in ``--json`` for content and in the
table output for the key fields."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import io
import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyspeaker import cli
from pyspeaker.api.client import Client
from pyspeaker.api.server import ControlServer, start_control
from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import open as wopen
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from rfc_tests.conftest import attr, update
from rfc_tests.rawpeer import RawPeer

CONFIG = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[control]
socket = "{socket}"
mode = "0640"
group = "{group}"

[[neighbor]]
address = "127.0.5.1"
remote_as = 65000
description = "first client"
families = ["ipv4-unicast", "ipv6-unicast"]
passive = true
rr_client = true

[[neighbor]]
address = "127.0.5.2"
remote_as = 65000
families = ["ipv4-unicast", "ipv6-unicast"]
passive = true
rr_client = true
"""

P1, P2 = "127.0.5.1", "127.0.5.2"
# a group other than ours, if the host has one, so that the socket's group is seen to be set
GROUP = next((g for g in grp.getgrall() if g.gr_gid != os.getegid()), grp.getgrgid(os.getegid()))


def route_update(prefix: bytes, nh: str, local_pref: int = 100, communities: bytes = b"") -> bytes:
    attrs = attr(0x40, 1, b"\x00") + attr(0x40, 2, b"") + attr(0x40, 3, bytes(map(int, nh.split("."))))
    attrs += attr(0x40, 5, local_pref.to_bytes(4, "big"))
    if communities:
        attrs += attr(0xC0, 8, communities)
    return update(attrs=attrs, nlri=prefix)


@dataclass
class Lab:
    speaker: Speaker
    socket: str
    peers: dict[str, RawPeer]

    async def cli(self, *argv: str, socket: bool = True) -> tuple[int, str, str]:
        """``pyspeaker ARGV --socket ...`` in a thread; (status, stdout, stderr)."""
        args = [*argv, "--socket", self.socket] if socket else list(argv)
        return await asyncio.to_thread(run_cli, args)

    async def json(self, *argv: str) -> Any:
        status, out, err = await self.cli(*argv, "--json")
        assert status == 0, err
        return json.loads(out)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


GR = wopen.graceful_restart(120, [(IPV4_UNICAST, 0x80), (IPV6_UNICAST, 0x80)], notification=True)


async def connect(peer: RawPeer, port: int) -> None:
    await peer.connect(port, [GR])


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    sock = str(tmp_path / "ctl" / "pyspeaker.sock")
    speaker = Speaker(parse(CONFIG.format(socket=sock, group=GROUP.gr_name), str(tmp_path / "lab.toml")))
    await speaker.start()
    await start_control(speaker)
    peers = {P1: RawPeer(P1, "10.0.5.1"), P2: RawPeer(P2, "10.0.5.2")}
    try:
        for p in peers.values():
            await connect(p, speaker.port)
        yield Lab(speaker, sock, peers)
    finally:
        for p in peers.values():
            p.crash()
        await speaker.stop()


async def test_socket_mode_as_configured_and_removed_at_stop(lab: Lab) -> None:
    st = os.stat(lab.socket)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == GROUP.gr_gid
    await lab.speaker.stop()
    await asyncio.wait_for(_gone(lab.socket), 5)


async def _gone(path: str) -> None:
    while os.path.exists(path):
        await asyncio.sleep(0.01)


async def test_status(lab: Lab) -> None:
    result = await lab.json("status")
    assert result["asn"] == 65000 and result["router_id"] == "10.255.0.1"
    assert result["neighbors"] == 2 and result["established"] == 2
    status, out, _ = await lab.cli("status")
    assert status == 0 and out.strip() == "pyspeaker up: AS 65000, router id 10.255.0.1, 2/2 sessions established"
    status, out, err = await lab.cli("status", "--quiet")
    assert status == 0 and out == "" and err == ""


async def test_neighbor_table_and_detail(lab: Lab) -> None:
    p1 = lab.peers[P1]
    await p1.send(route_update(b"\x18\xc6\x33\x64", P1))  # 198.51.100.0/24
    await lab.peers[P2].until(lambda: "198.51.100.0/24" in lab.peers[P2].routes)
    table = await lab.json("neighbor")
    by_addr = {n["address"]: n for n in table}
    assert set(by_addr) == {P1, P2}
    n1 = by_addr[P1]
    assert n1["state"] == "Established" and n1["remote_as"] == 65000
    assert n1["prefixes"]["ipv4-unicast"]["accepted"] == 1
    assert by_addr[P2]["prefixes"]["ipv4-unicast"]["advertised"] == 1
    status, out, _ = await lab.cli("neighbor")
    lines = out.splitlines()
    assert status == 0 and "Neighbor" in lines[0] and "ipv4-unicast rcv/acc/adv" in lines[0] and "GR" in lines[0]
    row1 = next(line for line in lines if line.startswith(P1))
    assert "Established" in row1 and "65000" in row1 and "1/1/0" in row1 and "yes" in row1
    row2 = next(line for line in lines if line.startswith(P2))
    assert "0/0/1" in row2

    detail = await lab.json("neighbor", P1)
    assert detail["description"] == "first client" and detail["rr_client"] is True
    assert detail["router_id"] == "10.0.5.1" and detail["uptime"] >= 0
    assert detail["timers"]["hold_time"] == 90 and detail["timers"]["keepalive_time"] == 30
    assert 0 < detail["timers"]["remaining"]["hold"] <= 90
    sent = {c["name"]: c for c in detail["capabilities"]["sent"]}
    received = {c["name"]: c for c in detail["capabilities"]["received"]}
    # byte-exact: what the peer sent, as the raw peer built it
    assert received["graceful-restart"]["raw"] == GR.raw.hex()
    assert received["graceful-restart"]["decoded"]["notification"] is True
    assert received["graceful-restart"]["decoded"]["restart_time"] == 120
    assert received["four-octet-as"]["raw"] == (65000).to_bytes(4, "big").hex()
    assert "multiprotocol" in sent and "graceful-restart" in sent
    assert detail["messages"]["received"]["update"] == 1 and detail["messages"]["received"]["open"] == 1
    assert detail["messages"]["sent"]["open"] == 1
    status, out, _ = await lab.cli("neighbor", P1)
    assert status == 0
    assert f"BGP neighbor {P1}, remote AS 65000, local AS 65000 (iBGP)" in out
    assert "Description: first client" in out and "Remote router ID: 10.0.5.1" in out
    assert f"graceful-restart (64) {GR.raw.hex()}" in out
    assert "Prefixes ipv4-unicast: received 1, accepted 1" in out


async def test_reset_brings_the_session_back(lab: Lab) -> None:
    p1 = lab.peers[P1]
    before = lab.speaker.peers[P1].stats.established_count
    status, out, err = await lab.cli("neighbor", P1, "reset", "--message", "new policy")
    assert status == 0, err
    assert out.strip().startswith(f"neighbor {P1}: reset")
    await p1.closed.wait()
    # Cease / Administrative Reset with the RFC 9003 text
    note = p1.notifications[-1]
    assert note[19:21] == b"\x06\x04" and note[21:] == bytes((len(b"new policy"),)) + b"new policy"
    p1.crash()
    await connect(p1, lab.speaker.port)  # a passive neighbor takes the peer's new connection
    detail = await lab.json("neighbor", P1)
    assert detail["state"] == "Established" and detail["established_count"] == before + 1
    last = detail["notifications"]["last_sent"]
    assert last["code"] == 6 and last["subcode"] == 4 and last["text"] == "Cease/Administrative Reset: new policy"
    assert detail["notifications"]["sent"] == {"6/4": 1}


async def test_shutdown_stays_down_until_enable(lab: Lab) -> None:
    p2 = lab.peers[P2]
    status, out, err = await lab.cli("neighbor", P2, "shutdown", "--message", "maintenance")
    assert status == 0, err
    await p2.closed.wait()
    note = p2.notifications[-1]
    assert note[19:21] == b"\x06\x02" and note[22:] == b"maintenance"
    p2.crash()
    # while shut down, the peer's connection is refused (closed before any OPEN is answered)
    refused = RawPeer(P2, "10.0.5.2")
    attempt = asyncio.ensure_future(refused.connect(lab.speaker.port, []))
    await asyncio.wait_for(refused.closed.wait(), 10)
    assert not refused.established.is_set() and not refused.opens
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await attempt
    refused.crash()
    detail = await lab.json("neighbor", P2)
    assert detail["state"] == "Idle" and detail["admin_state"] == "down"
    status, out, _ = await lab.cli("neighbor")
    assert "admin down" in next(line for line in out.splitlines() if line.startswith(P2))
    status, out, err = await lab.cli("neighbor", P2, "enable")
    assert status == 0 and "enabled" in out, err
    p2b = RawPeer(P2, "10.0.5.2")
    lab.peers[P2] = p2b
    await connect(p2b, lab.speaker.port)
    detail = await lab.json("neighbor", P2)
    assert detail["state"] == "Established" and detail["admin_state"] == "up"


async def test_rib_best_reason_and_stale(lab: Lab) -> None:
    p1, p2 = lab.peers[P1], lab.peers[P2]
    prefix = b"\x18\xcb\x00\x71"  # 203.0.113.0/24
    await p1.send(route_update(prefix, P1, local_pref=200, communities=b"\xfd\xe8\x00\x01"))
    await p2.send(route_update(prefix, P2, local_pref=100))
    await _until(lambda: len(lab.speaker.rib("203.0.113.0/24")) == 2)
    routes = await lab.json("rib", "203.0.113.0/24")
    assert [r["from"] for r in routes] == [P1, P2]
    best, other = routes
    assert best["best"] is True and best["reason"] == "local preference" and best["local_pref"] == 200
    assert best["communities"] == ["65000:1"] and best["next_hop"] == P1 and best["stale"] is False
    assert other["best"] is False
    # an address finds the longest prefix holding it
    assert [r["prefix"] for r in await lab.json("rib", "203.0.113.77")] == ["203.0.113.0/24", "203.0.113.0/24"]
    status, out, _ = await lab.cli("rib")
    best_line = next(line for line in out.splitlines() if line.startswith("*>"))
    assert "203.0.113.0/24" in best_line and P1 in best_line and "65000:1" in best_line
    assert "local preference" in best_line
    # the first peer restarts (TCP gone, no NOTIFICATION): its route is kept stale
    p1.crash()
    await _until(lambda: any(r["stale"] for r in lab.speaker.rib("203.0.113.0/24")))
    routes = await lab.json("rib", "203.0.113.0/24")
    assert routes[0]["from"] == P1 and routes[0]["stale"] is True
    status, out, _ = await lab.cli("rib", "203.0.113.0/24")
    assert status == 0
    assert "stale" in next(line for line in out.splitlines() if P1 in line)
    # Adj-RIB-In of a neighbor, Adj-RIB-Out of the other
    adj_in = await lab.json("rib", "--neighbor", P2, "--in")
    assert [r["prefix"] for r in adj_in] == ["203.0.113.0/24"] and adj_in[0]["from"] == P2
    adj_out = await lab.json("rib", "--neighbor", P2, "--out")
    assert [(r["prefix"], r["from"]) for r in adj_out] == [("203.0.113.0/24", P1)]
    # as reflected to a client (RFC 4456): ORIGINATOR_ID of the route's sender, our cluster id
    assert adj_out[0]["originator_id"] == "10.0.5.1" and adj_out[0]["cluster_list"] == ["10.255.0.1"]
    assert routes[0]["originator_id"] is None and routes[0]["cluster_list"] == []  # as received


async def _until(ok: Any, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not ok():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


async def test_route_add_and_del_reach_a_peer(lab: Lab) -> None:
    p2 = lab.peers[P2]
    status, out, err = await lab.cli(
        "route",
        "add",
        "192.0.2.0/24",
        "--next-hop",
        "127.0.0.1",
        "--community",
        "65000:7",
        "65000:8",
        "--large-community",
        "65000:1:2",
        "--med",
        "5",
        "--local-pref",
        "150",
    )
    assert status == 0 and "announced 192.0.2.0/24" in out, err
    await p2.until(lambda: "192.0.2.0/24" in p2.routes)
    attrs = p2.routes["192.0.2.0/24"]
    assert b"\xfd\xe8\x00\x07\xfd\xe8\x00\x08" in attrs and (65000).to_bytes(4, "big") + (1).to_bytes(4, "big") in attrs
    listed = await lab.json("route", "list")
    assert listed[0]["prefix"] == "192.0.2.0/24" and listed[0]["med"] == 5 and listed[0]["local_pref"] == 150
    status, out, err = await lab.cli("route", "del", "192.0.2.0/24")
    assert status == 0 and "withdrawn 192.0.2.0/24" in out, err
    await p2.until(lambda: "192.0.2.0/24" not in p2.routes)
    status, _, err = await lab.cli("route", "del", "192.0.2.0/24")
    assert status == 1 and err.strip() == "pyspeaker: route del 192.0.2.0/24: no route of this speaker for that prefix"


async def test_events_stream_session_and_route_events(lab: Lab) -> None:
    events: list[dict[str, Any]] = []

    def follow() -> None:
        with Client(lab.socket) as c:
            for e in c.subscribe(routes=True):
                events.append(e)
                if e.get("type") == "up":
                    return

    task = asyncio.ensure_future(asyncio.to_thread(follow))
    await _until(lambda: len(lab.speaker._route_feed.queues) == 1)
    await lab.peers[P1].send(route_update(b"\x18\xc6\x33\x65", P1))  # 198.51.101.0/24
    await _until(lambda: any(e.get("type") == "best" for e in events))
    await lab.peers[P1].send(update(withdrawn=b"\x18\xc6\x33\x65"))
    await _until(lambda: any(e.get("type") == "withdrawn" for e in events))
    lab.speaker.neighbor_reset(P1, "events")
    await lab.peers[P1].closed.wait()
    lab.peers[P1].crash()
    await connect(lab.peers[P1], lab.speaker.port)
    await asyncio.wait_for(task, 10)
    kinds = [e["type"] for e in events]
    best = next(e for e in events if e["type"] == "best")
    assert best["prefix"] == "198.51.101.0/24" and best["peer"] == P1 and best["route"]["next_hop"] == P1
    assert kinds.index("best") < kinds.index("withdrawn") < kinds.index("down") < kinds.index("up")
    states = [(e["old"], e["new"]) for e in events if e["type"] == "state"]
    assert ("Established", "Idle") in states and states[-1][1] == "Established"
    down = next(e for e in events if e["type"] == "down")
    assert down["peer"] == P1 and down["sent"]["subcode"] == 4 and down["sent"]["shutdown_message"] == "events"
    # nobody listens any more: the router's hook is off again
    await _until(lambda: lab.speaker.router.on_change is None)


async def test_events_cli_prints_lines(lab: Lab) -> None:
    task = asyncio.ensure_future(lab.cli("events", "--count", "1"))
    await _until(lambda: len(lab.speaker._route_feed.queues) == 1)
    lab.speaker.route_add("10.99.0.0/16", "127.0.0.1")
    lab.speaker.schedule_flush()
    status, out, err = await asyncio.wait_for(task, 10)
    assert status == 0, err
    assert "route 10.99.0.0/16 best via 127.0.0.1 from local" in out


async def test_errors_are_one_line_and_status_1(lab: Lab, tmp_path: Path) -> None:
    status, out, err = await lab.cli("neighbor", "127.0.5.9")
    assert status == 1 and out == ""
    assert err.strip() == f"pyspeaker: unknown neighbor 127.0.5.9 (neighbors: {P1}, {P2})"
    status, _, err = await lab.cli("rib", "10.0.0.0/33")
    assert status == 1 and err.strip() == "pyspeaker: not a prefix or address: '10.0.0.0/33'"
    status, _, err = await lab.cli("route", "add", "banana", "--next-hop", "127.0.0.1")
    assert status == 1 and err.strip() == "pyspeaker: not a prefix: 'banana'"
    status, _, err = await lab.cli("neighbor", "not-an-address", "reset")
    assert status == 1 and err.strip() == "pyspeaker: not an IP address: 'not-an-address'"
    missing = str(tmp_path / "nothing.sock")
    status, _, err = await lab.cli("status", "--socket", missing, socket=False)
    assert status == 1 and len(err.strip().splitlines()) == 1 and "no such socket" in err
    assert "Traceback" not in err
    status, out, err = await lab.cli("status", "--quiet", "--socket", missing, socket=False)
    assert status == 1 and out == "" and err == ""
    # reload: the speaker without Speaker.reload() says so in one line
    if not hasattr(lab.speaker, "reload"):
        status, _, err = await lab.cli("reload")
        assert status == 1 and err.strip() == "pyspeaker: reload is not supported by this speaker"


async def test_env_socket_and_refused(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSPEAKER_SOCKET", lab.socket)
    status, out, _ = await lab.cli("status", socket=False)
    assert status == 0 and "2/2 sessions established" in out
    # a socket file nobody answers on: refused, one line
    import socket as so

    dead = str(tmp_path / "dead.sock")
    s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    s.bind(dead)
    s.close()
    status, _, err = await lab.cli("status", "--socket", dead, socket=False)
    assert status == 1 and err.strip() == f"pyspeaker: {dead}: connection refused (no speaker is answering there)"


async def test_second_server_on_a_live_socket_is_refused(lab: Lab) -> None:
    from pyspeaker.api.server import ControlError

    other = ControlServer(lab.speaker, unix=lab.socket)
    with pytest.raises(ControlError, match="another speaker is answering there"):
        await other.start()
    # the first one still answers
    status, _, _ = await lab.cli("status", "--quiet")
    assert status == 0


async def test_reload_through_the_cli(tmp_path: Path) -> None:
    """``pyspeaker reload``: the speaker reads its file again (a neighbor added to it appears);
    a file that no longer loads is refused in one line, naming the key."""
    if not hasattr(Speaker, "reload"):
        pytest.skip("this speaker has no reload()")
    from pyspeaker.config import load

    sock = str(tmp_path / "r.sock")
    path = tmp_path / "reload.toml"
    text = CONFIG.format(socket=sock, group=GROUP.gr_name)
    path.write_text(text)
    speaker = Speaker(load(str(path)))
    await speaker.start()
    await start_control(speaker)
    try:
        path.write_text(text + '\n[[neighbor]]\naddress = "127.0.5.3"\nremote_as = 65000\npassive = true\n')
        status, out, err = await asyncio.to_thread(run_cli, ["reload", "--socket", sock])
        assert status == 0 and out.startswith("reloaded"), err
        status, out, err = await asyncio.to_thread(run_cli, ["neighbor", "--json", "--socket", sock])
        assert "127.0.5.3" in [n["address"] for n in json.loads(out)]
        path.write_text(text.replace("asn = 65000", 'asn = "x"'))
        status, out, err = await asyncio.to_thread(run_cli, ["reload", "--socket", sock])
        assert status == 1 and len(err.strip().splitlines()) == 1 and "global.asn" in err
    finally:
        await speaker.stop()


RANGE_CONFIG = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[[listen_range]]
prefix = "127.0.6.0/24"
remote_as = 65000
families = ["ipv4-unicast"]
rr_client = true
"""


async def test_shutdown_of_a_listen_range_peer_holds_until_enable(tmp_path: Path) -> None:
    sock = str(tmp_path / "range.sock")
    speaker = Speaker(parse(RANGE_CONFIG, "range.toml"))
    await speaker.start()
    await speaker.serve_control(sock)  # the embedded way
    peer = RawPeer("127.0.6.1", "10.0.6.1")
    try:
        await peer.connect(speaker.port, [])
        n = (await asyncio.to_thread(run_cli, ["neighbor", "127.0.6.1", "--json", "--socket", sock]))[1]
        assert json.loads(n)["listen_range"] == "127.0.6.0/24" and json.loads(n)["dynamic"] is True
        status, _, err = await asyncio.to_thread(run_cli, ["neighbor", "127.0.6.1", "shutdown", "--socket", sock])
        assert status == 0, err
        await peer.closed.wait()
        peer.crash()
        again = RawPeer("127.0.6.1", "10.0.6.1")
        attempt = asyncio.ensure_future(again.connect(speaker.port, []))
        await asyncio.wait_for(again.closed.wait(), 10)  # refused: shut down, not forgotten
        assert not again.opens
        attempt.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await attempt
        again.crash()
        status, out, _ = await asyncio.to_thread(run_cli, ["status", "--json", "--socket", sock])
        assert json.loads(out)["admin_down"] == ["127.0.6.1"]
        status, _, err = await asyncio.to_thread(run_cli, ["neighbor", "127.0.6.1", "enable", "--socket", sock])
        assert status == 0, err
        peer = RawPeer("127.0.6.1", "10.0.6.1")
        await peer.connect(speaker.port, [])
        assert speaker.peers["127.0.6.1"].state.value == "Established"
    finally:
        peer.crash()
        await speaker.stop()
