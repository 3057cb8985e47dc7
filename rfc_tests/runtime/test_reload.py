"""Live reload on loopback with real sessions: a reflector under test (S) and client speakers.
Neighbors added and removed, policies changed by route refresh with no reset, a session
parameter resetting only its session, listen ranges, an invalid file refused as a whole, and
SIGHUP to ``pyspeaker run``."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyspeaker.config import ConfigError, parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.reload import ReloadError
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import IPV4_UNICAST, prefix
from pyspeaker.wire.notification import CEASE, CEASE_OTHER_CONFIG_CHANGE, CEASE_PEER_DECONFIGURED, Notification
from rfc_tests.loopback import until

TIMEOUT = 20.0
S, P1, P2, P3 = "127.0.8.1", "127.0.8.2", "127.0.8.3", "127.0.8.4"
DYN = "127.0.8.18"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, ft.Event]] = []
        self.changed = asyncio.Event()

    def __call__(self, address: str, event: ft.Event) -> None:
        self.events.append((address, event))
        self.changed.set()

    def of(self, kind: type) -> list[ft.Event]:
        return [e for _, e in self.events if isinstance(e, kind)]

    async def wait_for(self, pred: Callable[[ft.Event], bool], timeout: float = TIMEOUT) -> ft.Event:
        async def scan() -> ft.Event:
            seen = 0
            while True:
                for _, ev in self.events[seen:]:
                    if pred(ev):
                        return ev
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), timeout)


def neighbor(addr: str, extra: str = "") -> str:
    return f"""
[[neighbor]]
address = "{addr}"
remote_as = 65080
passive = true
rr_client = true
hold_time = 30
{extra}
"""


def s_config(body: str, policies: str = "") -> str:
    return f"""
[global]
asn = 65080
router_id = "{S}"
listen = ["{S}"]
port = 0
{body}
{policies}
"""


POLICY = """
[policy.no-one]
default = "accept"
[[policy.no-one.term]]
prefixes = ["10.81.1.0/24"]
action = "reject"
"""


def client(addr: str, port: int) -> str:
    return f"""
[global]
asn = 65080
router_id = "{addr}"
listen = ["{addr}"]
port = 0

[[neighbor]]
address = "{S}"
remote_as = 65080
port = {port}
local_address = "{addr}"
hold_time = 30
connect_retry = 0.2
connect_retry_max = 1
"""


def routes_at(sp: Speaker) -> set[str]:
    loc = sp.router.locs.get(IPV4_UNICAST)
    if loc is None:
        return set()
    return {prefix.to_text(p, 4) for p, _ in loc.items() if _.source.address}


class Lab:
    def __init__(self, tmp: Path) -> None:
        self.file = tmp / "s.toml"
        self.s: Speaker | None = None
        self.clients: dict[str, tuple[Speaker, Recorder]] = {}

    async def start(self, text: str) -> Speaker:
        self.file.write_text(text)
        from pyspeaker.config import load

        self.s = Speaker(load(self.file))
        await self.s.start()
        return self.s

    async def client(self, addr: str) -> tuple[Speaker, Recorder]:
        assert self.s is not None
        rec = Recorder()
        c = Speaker(parse(client(addr, self.s.port), f"{addr}.toml"), rec)
        await c.start()
        self.clients[addr] = (c, rec)
        return c, rec

    async def up(self, addr: str) -> None:
        await self.clients[addr][1].wait_for(lambda e: isinstance(e, ft.SessionUp))

    async def close(self) -> None:
        for c, _ in self.clients.values():
            await c.stop()
        if self.s is not None:
            await self.s.stop()


@pytest.fixture
async def lab(tmp_path: Path):  # type: ignore[no-untyped-def]
    lab = Lab(tmp_path)
    yield lab
    await lab.close()


def assert_untouched(rec: Recorder) -> None:
    """The peer saw one OPEN exchange, and its session never went down since it came up. (A
    connection lost before that, while the two speakers were still starting, is not what
    these tests are about.)"""
    events = [e for _, e in rec.events]
    ups = [i for i, e in enumerate(events) if isinstance(e, ft.SessionUp)]
    assert len(ups) == 1, rec.events
    assert [e for e in events[ups[0] :] if isinstance(e, ft.SessionDown)] == [], rec.events


async def test_neighbors_added_and_removed_others_untouched(lab: Lab) -> None:
    s = await lab.start(s_config(neighbor(P1) + neighbor(P2)))
    c1, r1 = await lab.client(P1)
    c2, r2 = await lab.client(P2)
    c3, _r3 = await lab.client(P3)  # not configured yet: refused until the reload
    await lab.up(P1)
    await lab.up(P2)
    c1.originate("10.81.0.0/24", next_hop=P1)
    await until(lambda: "10.81.0.0/24" in routes_at(c2), "P1's route at P2")
    runner1 = s.peers[P1]

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P3)))
    done = await s.reload()

    assert done["added"] == [P3] and done["removed"] == [P2] and done["unchanged"] == 1
    assert done["reset"] == [] and done["refreshed"] == []
    down = await r2.wait_for(lambda e: isinstance(e, ft.SessionDown))
    assert isinstance(down, ft.SessionDown) and down.received is not None
    got = down.received.hard_reset_reason or down.received  # Hard Reset around it with N (RFC 8538 5)
    assert (got.code, got.subcode) == (CEASE, CEASE_PEER_DECONFIGURED)
    await lab.up(P3)
    await until(lambda: "10.81.0.0/24" in routes_at(c3), "P1's route at the new neighbor P3")
    assert P2 not in s.peers and s.router.peer(P2) is None
    # P1's session is the same one: no NOTIFICATION, no new OPEN, same runner
    assert_untouched(r1)
    assert s.peers[P1] is runner1
    stats = getattr(runner1, "stats", None)
    if stats is not None:
        assert stats.messages_in["open"] == 1 and stats.messages_out["open"] == 1


async def test_export_policy_change_is_applied_without_reset(lab: Lab) -> None:
    s = await lab.start(s_config(neighbor(P1) + neighbor(P2), POLICY))
    c1, r1 = await lab.client(P1)
    c2, r2 = await lab.client(P2)
    await lab.up(P1)
    await lab.up(P2)
    for i in range(3):
        c1.originate(f"10.81.{i}.0/24", next_hop=P1)
    want = {"10.81.0.0/24", "10.81.1.0/24", "10.81.2.0/24"}
    await until(lambda: routes_at(c2) == want, "the three routes at P2")

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2, 'export = "no-one"'), POLICY))
    done = await s.reload()
    assert done["refreshed"] == [P2] and done["reset"] == []
    await until(lambda: routes_at(c2) == want - {"10.81.1.0/24"}, "10.81.1.0/24 withdrawn from P2")
    # a change after the reload goes through the new group too
    c1.originate("10.81.3.0/24", next_hop=P1)
    await until(lambda: "10.81.3.0/24" in routes_at(c2), "a later route at P2")

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2), POLICY))
    done = await s.reload()
    assert done["refreshed"] == [P2]
    await until(lambda: routes_at(c2) == want | {"10.81.3.0/24"}, "10.81.1.0/24 back at P2")
    assert_untouched(r1)
    assert_untouched(r2)


async def test_import_policy_change_asks_for_the_routes_again(lab: Lab) -> None:
    s = await lab.start(s_config(neighbor(P1, 'import = "no-one"') + neighbor(P2), POLICY))
    c1, r1 = await lab.client(P1)
    c2, r2 = await lab.client(P2)
    await lab.up(P1)
    await lab.up(P2)
    for i in range(3):
        c1.originate(f"10.81.{i}.0/24", next_hop=P1)
    await until(lambda: routes_at(c2) == {"10.81.0.0/24", "10.81.2.0/24"}, "P1's routes but one at P2")

    # the refused route was not kept: only a ROUTE-REFRESH can bring it back
    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2), POLICY))
    done = await s.reload()
    assert done["refreshed"] == [P1] and done["reset"] == []
    await r1.wait_for(lambda e: isinstance(e, ft.RouteRefreshReceived))
    await until(lambda: "10.81.1.0/24" in routes_at(c2), "the route refused before, now accepted")
    assert routes_at(s) == {"10.81.0.0/24", "10.81.1.0/24", "10.81.2.0/24"}

    lab.file.write_text(s_config(neighbor(P1, 'import = "no-one"') + neighbor(P2), POLICY))
    await s.reload()
    await until(lambda: "10.81.1.0/24" not in routes_at(c2), "the route refused again, withdrawn")
    assert routes_at(s) == {"10.81.0.0/24", "10.81.2.0/24"}
    assert_untouched(r1)
    assert_untouched(r2)


async def test_session_parameter_change_resets_only_that_session(lab: Lab) -> None:
    s = await lab.start(s_config(neighbor(P1) + neighbor(P2)))
    _c1, r1 = await lab.client(P1)
    _c2, r2 = await lab.client(P2)
    await lab.up(P1)
    await lab.up(P2)

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2).replace("hold_time = 30", "hold_time = 20")))
    done = await s.reload()
    assert done["reset"] == [P2]
    assert done["changed"] == [{"address": P2, "fields": ["hold_time"]}]
    down = await r2.wait_for(lambda e: isinstance(e, ft.SessionDown))
    assert isinstance(down, ft.SessionDown) and down.received is not None
    assert (down.received.code, down.received.subcode) == (CEASE, CEASE_OTHER_CONFIG_CHANGE)
    up = await r2.wait_for(lambda e: isinstance(e, ft.SessionUp) and e is not r2.of(ft.SessionUp)[0])
    assert isinstance(up, ft.SessionUp) and up.negotiated.hold_time == 20
    assert_untouched(r1)


async def test_invalid_or_inapplicable_config_is_refused_as_a_whole(lab: Lab) -> None:
    s = await lab.start(s_config(neighbor(P1)))
    _c1, r1 = await lab.client(P1)
    await lab.up(P1)
    before = s.config

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2, "hold_tme = 30")))
    with pytest.raises(ConfigError) as info:
        await s.reload()
    assert "neighbor[1].hold_tme: unknown key" in str(info.value) and str(lab.file) in str(info.value)
    assert s.config is before and P2 not in s.peers

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2)).replace(f'router_id = "{S}"', 'router_id = "192.0.2.8"'))
    with pytest.raises(ReloadError) as refused:
        await s.reload()
    assert f"global.router_id: changed ({S} -> 192.0.2.8)" in str(refused.value)
    assert s.config is before and P2 not in s.peers

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2)).replace(f'listen = ["{S}"]', 'listen = ["127.0.8.9"]'))
    with pytest.raises(ReloadError, match=r"global\.listen"):
        await s.reload()
    assert s.config is before
    assert_untouched(r1)


async def test_listen_range_change_ends_sessions_out_of_range(lab: Lab) -> None:
    rng = """
[[listen_range]]
prefix = "{net}"
remote_as = 65080
rr_client = true
"""
    s = await lab.start(s_config(neighbor(P1) + rng.format(net="127.0.8.16/28")))
    _c1, r1 = await lab.client(P1)
    _cd, rd = await lab.client(DYN)
    await lab.up(P1)
    await lab.up(DYN)
    assert s.peers[DYN].dynamic

    # a range change that still holds the address: the session stays
    lab.file.write_text(s_config(neighbor(P1) + rng.format(net="127.0.8.0/27")))
    done = await s.reload()
    assert done["dynamic_ended"] == [] and done["ranges_added"] == ["127.0.8.0/27"]
    # the range goes: so does the session
    lab.file.write_text(s_config(neighbor(P1) + rng.format(net="127.0.8.32/28")))
    done = await s.reload()
    assert done["dynamic_ended"] == [DYN]
    down = await rd.wait_for(lambda e: isinstance(e, ft.SessionDown))
    assert isinstance(down, ft.SessionDown) and down.received is not None
    got = down.received.hard_reset_reason or down.received
    assert (got.code, got.subcode) == (CEASE, CEASE_PEER_DECONFIGURED)
    assert len(rd.of(ft.SessionUp)) == 1
    assert_untouched(r1)


def read_until(proc: subprocess.Popen[bytes], text: str, seen: list[str]) -> list[str]:
    """Lines of the process's stderr until one holds ``text`` (bounded in time); ``seen``
    keeps a partial last line between calls."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    deadline = time.monotonic() + TIMEOUT
    lines: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536).decode()
        if not chunk:
            break
        seen[0] += chunk
        *done, seen[0] = seen[0].split("\n")
        lines += done
        if any(text in line for line in done):
            return lines
    raise AssertionError(f"no line with {text!r} from pyspeaker run: {lines}")


def test_sighup_reloads_pyspeaker_run(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text(s_config(""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyspeaker", "run", "--config", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        banner = proc.stdout.readline().decode()
        partial = [""]
        assert "pyspeaker AS 65080" in banner
        conf.write_text(s_config(neighbor(P1)))
        proc.send_signal(signal.SIGHUP)
        lines = read_until(proc, "reload of", partial)
        assert any(f"added {P1}" in line for line in lines), lines
        conf.write_text(s_config(neighbor(P1)).replace(f'router_id = "{S}"', 'router_id = "192.0.2.8"'))
        proc.send_signal(signal.SIGHUP)
        lines += read_until(proc, "global.router_id", partial)
        assert f"global.router_id: changed ({S} -> 192.0.2.8)" in "".join(lines)
        assert proc.poll() is None  # still running on the old configuration
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)


def test_plan_keeps_unchanged_policies_and_refuses_start_only_globals() -> None:
    from pyspeaker.runtime.reload import plan

    old = parse(s_config(neighbor(P1, 'import = "no-one"') + neighbor(P2), POLICY), "s.toml")
    same = plan(old, parse(s_config(neighbor(P1, 'import = "no-one"') + neighbor(P2), POLICY), "s.toml"))
    assert same.changed == {} and same.unchanged == 2 and same.added == [] and same.removed == []
    assert same.config.neighbors[0].import_policy is old.neighbors[0].import_policy  # groups stay shared
    edited = POLICY.replace("10.81.1.0/24", "10.81.2.0/24")
    p = plan(old, parse(s_config(neighbor(P1, 'import = "no-one"') + neighbor(P2), edited), "s.toml"))
    assert list(p.changed) == [P1] and p.changed[P1][2] == ["import_policy"]
    with pytest.raises(ReloadError, match=r"global\.mrt_dump: changed"):
        plan(
            old,
            parse(
                s_config(neighbor(P1) + neighbor(P2), POLICY).replace("port = 0", 'port = 0\nmrt_dump = "/tmp/x"'),
                "s.toml",
            ),
        )
    p = plan(
        old,
        parse(
            s_config(neighbor(P1) + neighbor(P2), POLICY).replace(
                "port = 0", 'port = 0\ngraceful_stop = "notification"'
            ),
            "s.toml",
        ),
    )
    assert p.global_changed == ["global.graceful_stop"]


async def test_a_neighbor_shut_down_by_the_operator_stays_down(lab: Lab) -> None:
    s = await lab.start(s_config(neighbor(P1) + neighbor(P2)))
    _c1, r1 = await lab.client(P1)
    _c2, r2 = await lab.client(P2)
    await lab.up(P1)
    await lab.up(P2)
    s.peers[P2].stop(Notification.shutdown("maintenance"))  # what `pyspeaker neighbor P2 shutdown` does
    await r2.wait_for(lambda e: isinstance(e, ft.SessionDown))

    lab.file.write_text(s_config(neighbor(P1) + neighbor(P2).replace("hold_time = 30", "hold_time = 20")))
    done = await s.reload()
    assert done["changed"] == [{"address": P2, "fields": ["hold_time"]}] and done["reset"] == []
    runner = s.peers[P2]
    assert not runner.running and runner.state is ft.State.IDLE
    assert s.neighbor_config[P2].hold_time == 20  # the new settings, for when it is enabled
    assert_untouched(r1)


async def test_metrics_endpoint_comes_and_goes_with_reload(lab: Lab) -> None:
    pytest.importorskip("prometheus_client", reason="prometheus-client is not installed")
    s = await lab.start(s_config(neighbor(P1)))
    assert s.metrics_server is None
    lab.file.write_text(s_config(neighbor(P1)) + f'\n[metrics]\nlisten = "{S}:0"\n')
    done = await s.reload()
    assert done["metrics"] is True and done["unchanged"] == 1
    assert s.metrics_server is not None
    port = s.metrics_server.port
    reader, writer = await asyncio.open_connection(S, port)
    writer.write(b"GET /metrics HTTP/1.1\r\n\r\n")
    body = (await asyncio.wait_for(reader.read(), TIMEOUT)).decode()
    writer.close()
    assert body.startswith("HTTP/1.1 200") and 'pyspeaker_sessions{state="Active"} 1.0' in body
    lab.file.write_text(s_config(neighbor(P1)))
    await s.reload()
    assert s.metrics_server is None
    with pytest.raises(OSError):
        await asyncio.open_connection(S, port)
