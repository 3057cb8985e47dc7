"""Checks shared by the daemon tests: pyspeaker's routes as the daemon shows them, and the
hold timer (freeze the daemon, see pyspeaker send 4/0 within the hold time, thaw it and see
the daemon record the expiry)."""

from __future__ import annotations

import asyncio

from pyspeaker.fsm import types as ft

from .daemons import Daemon, RouteView
from .netns import poll
from .pyside import OUR_COMMUNITIES, OUR_LARGE, OUR_MED, OUR_V4, OUR_V6, Recorder

HOLD = 9  # the hold time pyside.config_text configures
KEEPALIVE = 3


async def daemon_shows_our_routes(d: Daemon, label: str, timeout: float) -> list[RouteView]:
    """Poll the daemon until it shows pyspeaker's IPv4 and IPv6 routes (pyside.announcements_*)
    with their MED, communities, large communities and next hop. Returns the two views, for
    the caller's AS_PATH check (some daemons prepend their own AS in what they show)."""
    want_comms = {f"{a}:{b}" for a, b in OUR_COMMUNITIES}
    want_large = {f"{a}:{b}:{x}" for a, b, x in OUR_LARGE}
    views = []
    for afi, text, nh in ((1, OUR_V4, d.link.our4), (2, OUR_V6, d.link.our6)):

        async def probe(afi: int = afi, text: str = text) -> tuple[bool, object]:
            view, raw = await d.route(afi, text)
            return view is not None, view or raw

        view = await poll(probe, f"{label} shows {text} from pyspeaker", timeout)
        assert view.med == OUR_MED, view.raw
        assert view.communities == want_comms, view.raw
        assert view.large_communities == want_large, view.raw
        assert view.next_hop == nh, view.raw
        views.append(view)
    return views


async def freeze_until_hold_expiry(d: Daemon, rec: Recorder, label: str) -> float:
    """SIGSTOP the daemon; pyspeaker must end the session with 4/0 within the hold time
    (after the last KEEPALIVE, at most one keepalive interval before the freeze). Returns
    the seconds from the freeze to the NOTIFICATION. The daemon stays frozen."""
    loop = asyncio.get_running_loop()
    mark = len(rec.events)
    d.freeze()  # no more KEEPALIVEs (thawed by the caller, and always in teardown)
    frozen_at = loop.time()
    down = await rec.wait_for(
        lambda e: isinstance(e, ft.SessionDown), HOLD + 5, f"SessionDown after {label} froze", since=mark
    )
    elapsed = loop.time() - frozen_at
    assert isinstance(down, ft.SessionDown)
    assert down.sent is not None and (down.sent.code, down.sent.subcode) == (4, 0), down
    assert down.was_established
    assert HOLD - KEEPALIVE - 0.5 <= elapsed <= HOLD + 1.0, f"hold timer fired {elapsed:.2f} s after SIGSTOP"
    return elapsed


async def thaw_and_see_expiry_recorded(d: Daemon, label: str) -> str:
    """SIGCONT; the daemon either reads our NOTIFICATION first (BIRD, GoBGP, ExaBGP) or finds
    its own hold timer expired first and sends 4/0 itself (FRR): either way it must say so."""
    d.thaw()

    async def saw_it() -> tuple[bool, str]:
        got, evidence = await d.notification_received(4, 0)
        own, own_evidence = d.own_hold_timer_expired()
        return got or own, f"received 4/0: {got}\n{evidence}\nown hold timer: {own}\n{own_evidence}"

    return await poll(saw_it, f"{label} recorded the hold timer expiry once thawed", 10)


async def daemon_shows_route(d: Daemon, afi: int, prefix: str, label: str, timeout: float) -> RouteView:
    """Poll the daemon's RIB until it holds ``prefix`` as a usable route (next hop resolved);
    returns the view for the caller's attribute checks."""

    async def probe() -> tuple[bool, object]:
        view, raw = await d.rib_route(afi, prefix)
        return view is not None and view.valid, view or raw

    view: RouteView = await poll(probe, f"{label} shows {prefix}", timeout)
    return view


async def daemon_lost_route(d: Daemon, afi: int, prefix: str, label: str, timeout: float) -> None:
    """Poll the daemon's RIB until ``prefix`` is gone from it."""

    async def probe() -> tuple[bool, object]:
        view, raw = await d.rib_route(afi, prefix)
        return view is None, view or raw

    await poll(probe, f"{label} no longer has {prefix}", timeout)
