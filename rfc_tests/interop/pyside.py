"""pyspeaker's side of an interop test: its configuration, an event recorder (the pattern of
rfc_tests/runtime/test_loopback_sessions.py), and the routes it announces."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspeaker.config import parse
from pyspeaker.fsm import types as ft
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, AsPath, AttrSet, Family, Update, build_attrs, pack, prefix

from .netns import Link

LOCAL_AS = 65001
DAEMON_AS = 65002

# what pyspeaker announces (the daemon must show these with the attributes)
OUR_V4 = "10.1.0.0/24"
OUR_V6 = "2001:db8:1::/48"
OUR_MED = 50
OUR_COMMUNITIES = ((65001, 100), (65001, 200))
OUR_LARGE = ((65001, 1, 1), (65001, 2, 3))


def config_text(
    link: Link,
    *,
    remote_as: int = DAEMON_AS,
    password: str | None = None,
    v6_session: bool = False,
    v4_session: bool = True,
    extra: str = "",
) -> str:
    """Listen on our end of the link; one neighbor (the daemon) carrying IPv4 + IPv6 over
    IPv4, or (``v6_session``) a second one over IPv6 for daemons that need it (BIRD 1.6)."""
    listen = [f'"{link.our4}"'] + ([f'"{link.our6}"'] if v6_session else [])
    neighbors = []
    pw = f'password = "{password}"\n' if password else ""
    if v4_session:
        fams = '["ipv4-unicast"]' if v6_session else '["ipv4-unicast", "ipv6-unicast"]'
        neighbors.append(
            f"""
[[neighbor]]
address = "{link.their4}"
remote_as = {remote_as}
families = {fams}
hold_time = 9
connect_retry = 1
connect_retry_max = 2
local_address = "{link.our4}"
{pw}{extra}"""
        )
    if v6_session:
        neighbors.append(
            f"""
[[neighbor]]
address = "{link.their6}"
remote_as = {remote_as}
families = ["ipv6-unicast"]
hold_time = 9
connect_retry = 1
connect_retry_max = 2
local_address = "{link.our6}"
{pw}{extra}"""
        )
    return f"""
[global]
asn = {LOCAL_AS}
router_id = "{link.our4}"
listen = [{", ".join(listen)}]
port = 179
{"".join(neighbors)}"""


@dataclass
class Received:
    """Routes pyspeaker learned, per (family, prefix text), with their attribute sets."""

    routes: dict[tuple[Family, str], AttrSet | None] = field(default_factory=dict)
    next_hops: dict[tuple[Family, str], list[str]] = field(default_factory=dict)


class Recorder:
    """Every (peer address, event) pyspeaker reports, with the loop time it came at."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ft.Event, float]] = []
        self.changed = asyncio.Event()
        self.received = Received()

    def __call__(self, address: str, event: ft.Event) -> None:
        self.events.append((address, event, asyncio.get_running_loop().time()))
        if isinstance(event, ft.UpdateReceived):
            self._learn(event.update)
        self.changed.set()

    def _learn(self, update: Update) -> None:
        for fam, prefixes in update.withdrawals().items():
            for p in prefixes:
                key = (fam, prefix.to_text(p, 4 if fam == IPV4_UNICAST else 16))
                self.received.routes.pop(key, None)
        for fam, prefixes in update.announced().items():
            for p in prefixes:
                key = (fam, prefix.to_text(p, 4 if fam == IPV4_UNICAST else 16))
                self.received.routes[key] = update.attrs
                if update.reach is not None and update.reach.family == fam:
                    self.received.next_hops[key] = [str(a) for a in update.reach.next_hops()]
                elif update.attrs is not None and update.attrs.next_hop is not None:
                    self.received.next_hops[key] = [str(update.attrs.next_hop)]

    def of(self, kind: type) -> list[ft.Event]:
        return [e for _, e, _ in self.events if isinstance(e, kind)]

    def timeline(self) -> str:
        if not self.events:
            return "(no events)"
        t0 = self.events[0][2]
        out = []
        for addr, ev, t in self.events:
            if isinstance(ev, ft.UpdateReceived):
                desc = f"UpdateReceived {ev.update!r}"[:300]
            elif isinstance(ev, ft.SessionUp):
                desc = f"SessionUp families={sorted(map(str, ev.negotiated.families))} hold={ev.negotiated.hold_time}"
            else:
                desc = repr(ev)[:300]
            out.append(f"  +{t - t0:7.3f}s {addr} {desc}")
        return "\n".join(out)

    async def wait_for(
        self,
        pred: Callable[[ft.Event], bool],
        timeout: float,
        what: str = "event",
        since: int = 0,
        address: str | None = None,
    ) -> ft.Event:
        """The first event (from index ``since``, from ``address`` if given) matching ``pred``;
        on timeout the message shows the timeline."""

        async def scan() -> ft.Event:
            seen = since
            while True:
                for addr, ev, _ in self.events[seen:]:
                    if (address is None or addr == address) and pred(ev):
                        return ev
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"{what}: not seen within {timeout} s; pyspeaker events:\n{self.timeline()}") from None

    async def wait_route(self, fam: Family, text: str, timeout: float) -> AttrSet:
        def has(_: ft.Event) -> bool:
            return (fam, text) in self.received.routes

        if (fam, text) not in self.received.routes:
            await self.wait_for(has, timeout, f"{fam} {text} from the daemon")
        attrs = self.received.routes[(fam, text)]
        assert attrs is not None
        return attrs


async def start_speaker(text: str) -> tuple[Speaker, Recorder]:
    rec = Recorder()
    speaker = Speaker(parse(text, "interop.toml"), rec)
    await speaker.start()
    return speaker, rec


def our_attrs(next_hop: str | None) -> AttrSet:
    return build_attrs(
        origin=0,
        as_path=AsPath.sequence(LOCAL_AS),
        next_hop=next_hop,
        med=OUR_MED,
        communities=[(a << 16) | b for a, b in OUR_COMMUNITIES],
        large_communities=list(OUR_LARGE),
    )


def announcements_v4(link: Link) -> list[bytes]:
    return pack.announce_ipv4(our_attrs(link.our4).raw, [prefix.parse(OUR_V4)])


def announcements_v6(link: Link) -> list[bytes]:
    nh = ipaddress.IPv6Address(link.our6).packed
    return pack.announce_mp(IPV6_UNICAST, nh, our_attrs(None).raw, [prefix.parse(OUR_V6)])


def community_texts(attrs: AttrSet) -> set[str]:
    return {f"{c >> 16}:{c & 0xFFFF}" for c in attrs.communities}


def large_texts(attrs: AttrSet) -> set[str]:
    return {f"{a}:{b}:{c}" for a, b, c in attrs.large_communities}


# -- pyspeaker as an iBGP route reflector ----------------------------------------------------------
RR_ROUTER_ID = "10.77.0.1"
RR_CLUSTER_ID = "10.77.0.254"  # not the router id, so CLUSTER_LIST shows which one is used
V4_ONLY = ("ipv4-unicast",)
V6_ONLY = ("ipv6-unicast",)
DUAL = ("ipv4-unicast", "ipv6-unicast")


def _families(families: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{f}"' for f in families) + "]"


def client_neighbor(address: str, local_address: str, families: tuple[str, ...] = DUAL, extra: str = "") -> str:
    """A ``[[neighbor]]`` block for an iBGP route reflector client that pyspeaker dials
    (``extra``: more lines of that block, e.g. ``restart_time = 5``)."""
    return f"""
[[neighbor]]
address = "{address}"
remote_as = {LOCAL_AS}
families = {_families(families)}
rr_client = true
hold_time = 9
connect_retry = 1
connect_retry_max = 2
local_address = "{local_address}"
{extra}"""


def client_range(prefix: str, families: tuple[str, ...] = DUAL) -> str:
    """A ``[[listen_range]]`` block: iBGP route reflector clients accepted from ``prefix``."""
    return f"""
[[listen_range]]
prefix = "{prefix}"
remote_as = {LOCAL_AS}
families = {_families(families)}
rr_client = true
hold_time = 9
"""


def reflector_config(listen: list[str], blocks: list[str], extra_global: str = "") -> str:
    """pyspeaker in AS 65001 with router id 10.77.0.1 and cluster id 10.77.0.254, listening on
    ``listen``, with the given ``[[neighbor]]``/``[[listen_range]]`` blocks (``extra_global``:
    more lines of ``[global]``, e.g. ``state_file = "..."``)."""
    return f"""
[global]
asn = {LOCAL_AS}
router_id = "{RR_ROUTER_ID}"
cluster_id = "{RR_CLUSTER_ID}"
listen = [{", ".join(f'"{a}"' for a in listen)}]
port = 179
{extra_global}
{"".join(blocks)}"""
