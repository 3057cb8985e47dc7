"""pyspeaker as a route reflector on loopback: clients that are pyspeaker speakers connect
from a listen range, their routes reach each other with the RFC 4456 attributes, and a
client's routes go when its session does; so does the reflector's state for it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from pyspeaker.config.load import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.sockopts import set_md5
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire.attrs import AttrSet
from pyspeaker.wire.family import Family
from pyspeaker.wire.prefix import to_text
from rfc_tests.loopback import reflector_toml

RR = reflector_toml("127.0.1.0/24")


def client_config(i: int, port: int, net: int = 1) -> str:
    return f"""
[global]
asn = 65000
router_id = "10.0.{net}.{i}"
listen = ["127.0.{net}.{i}"]
port = 0

[[neighbor]]
address = "127.0.0.1"
port = {port}
remote_as = 65000
local_address = "127.0.{net}.{i}"
families = ["ipv4-unicast", "ipv6-unicast"]
connect_retry = 0.2
"""


class Watch:
    """Routes each client holds, as events arrive; tests await conditions on it."""

    def __init__(self) -> None:
        self.routes: dict[int, dict[str, AttrSet | None]] = {}
        self.events: dict[int, list[ft.Event]] = {}
        self.changed = asyncio.Condition()

    def handler(self, i: int) -> Callable[[str, ft.Event], None]:
        def on_event(_address: str, event: ft.Event) -> None:
            self.events.setdefault(i, []).append(event)
            table = self.routes.setdefault(i, {})
            if isinstance(event, ft.UpdateReceived):
                u = event.update
                for fam, ps in u.withdrawals().items():
                    for p in ps:
                        table.pop(_text(fam, p), None)
                for fam, ps in u.announced().items():
                    for p in ps:
                        table[_text(fam, p)] = u.attrs
            asyncio.get_running_loop().create_task(self._notify())

        return on_event

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, ok: Callable[[], bool], timeout: float = 10.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ok), timeout)


def _text(fam: Family, p: bytes) -> str:
    return to_text(p, 4 if fam.afi == 1 else 16)


async def test_clients_from_a_listen_range_see_each_other() -> None:
    rr = Speaker(parse(RR, "rr.toml"))
    await rr.start()
    watch = Watch()
    clients: list[Speaker] = []
    try:
        for i in (1, 2, 3):
            c = Speaker(parse(client_config(i, rr.port), f"c{i}.toml"), watch.handler(i))
            await c.start()
            c.originate(f"10.{i}.0.0/26", next_hop=f"127.0.1.{i}")
            c.originate(f"2001:db8:{i}::/64", next_hop=f"fd00::{i}")
            clients.append(c)

        def others(i: int) -> set[str]:
            return {p for j in (1, 2, 3) if j != i for p in (f"10.{j}.0.0/26", f"2001:db8:{j}::/64")}

        await watch.until(lambda: all(set(watch.routes.get(i, {})) == others(i) for i in (1, 2, 3)))
        for i in (1, 2, 3):
            for j in (1, 2, 3):
                if j == i:
                    continue
                for prefix in (f"10.{j}.0.0/26", f"2001:db8:{j}::/64"):
                    attrs = watch.routes[i][prefix]
                    assert attrs is not None
                    assert str(attrs.originator_id) == f"10.0.1.{j}"
                    assert [str(x) for x in attrs.cluster_list] == ["10.255.0.1"]
        assert sorted(rr.peers) == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]

        await clients[0].stop("leaving")

        def own(j: int) -> set[str]:
            return {f"10.{j}.0.0/26", f"2001:db8:{j}::/64"}

        await watch.until(lambda: set(watch.routes[2]) == own(3) and set(watch.routes[3]) == own(2))
        assert not any(p.startswith("10.1.") or p.startswith("2001:db8:1:") for p in watch.routes[2])
        # the dynamic neighbor is forgotten once its session is over
        await watch.until(lambda: "127.0.1.1" not in rr.peers)
        assert all(st.address != "127.0.1.1" for st in rr.router.peers.values())
    finally:
        for c in clients:
            await c.stop()
        await rr.stop()


async def test_an_address_outside_every_range_is_refused() -> None:
    rr = Speaker(parse(RR, "rr.toml"))
    await rr.start()
    watch = Watch()
    stranger = Speaker(parse(client_config(9, rr.port, net=2), "s.toml"), watch.handler(9))
    try:
        await stranger.start()
        # the refused connection is seen by the stranger as a connection that failed or closed
        await watch.until(
            lambda: any(isinstance(e, ft.StateChanged) and e.old is ft.State.CONNECT for e in watch.events.get(9, []))
        )
        assert not any(isinstance(e, ft.SessionUp) for e in watch.events.get(9, []))
        assert rr.peers == {} and rr.router.peers == {}
    finally:
        await stranger.stop()
        await rr.stop()


async def _md5_connect(port: int, source: str, key: str) -> bool:
    """Whether a TCP connection signed with ``key`` from ``source`` is answered (a SYN with a
    wrong or missing signature is dropped by the kernel: it times out)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    set_md5(sock, "127.0.0.1", key)
    sock.bind((source, 0))
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 1.5)
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


async def test_tcp_md5_for_a_whole_listen_range() -> None:
    rr = Speaker(parse(reflector_toml("127.0.1.0/24", range_extra='password = "range-key"'), "rr.toml"))
    await rr.start()
    watch = Watch()
    good = Speaker(
        parse(client_config(5, rr.port).replace("connect_retry", 'password = "range-key"\nconnect_retry'), "g"),
        watch.handler(5),
    )
    try:
        await good.start()
        await watch.until(lambda: any(isinstance(e, ft.SessionUp) for e in watch.events.get(5, [])))
        assert rr.router.peer("127.0.1.5") is not None
        assert not await _md5_connect(rr.port, "127.0.1.6", "wrong")
        assert await _md5_connect(rr.port, "127.0.1.7", "range-key")
    finally:
        await good.stop()
        await rr.stop()


def test_the_reflector_under_uvloop() -> None:
    """`pyspeaker run` uses uvloop, whose transports are not asyncio.Transport subclasses:
    the same scenario on a uvloop event loop."""
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_clients_from_a_listen_range_see_each_other())
