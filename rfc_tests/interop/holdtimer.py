"""The hold-timer check shared by the daemon tests: freeze the daemon, see pyspeaker send
4/0 within the hold time, thaw it and see the daemon record the expiry."""

from __future__ import annotations

import asyncio

from pyspeaker.fsm import types as ft

from .daemons import Daemon
from .netns import poll
from .pyside import Recorder

HOLD = 9  # the hold time pyside.config_text configures
KEEPALIVE = 3


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
