"""The session's timers: absolute deadlines on the caller's clock, never read from a clock."""

from __future__ import annotations

from .types import Timer

# When several timers are due at once, they fire in this order (a Hold expiry ends the
# session before a Keepalive would be sent on it).
PRIORITY = {Timer.HOLD: 0, Timer.CONNECT_RETRY: 1, Timer.DELAY_OPEN: 2, Timer.KEEPALIVE: 3, Timer.IDLE_HOLD: 4}


class Timers:
    """Deadlines per timer. A timer is running when it has a deadline."""

    __slots__ = ("_deadlines",)

    def __init__(self) -> None:
        self._deadlines: dict[Timer, float] = {}

    def arm(self, timer: Timer, now: float, seconds: float) -> None:
        self._deadlines[timer] = now + seconds

    def cancel(self, *timers: Timer) -> None:
        for timer in timers:
            self._deadlines.pop(timer, None)

    def keep_only(self, allowed: frozenset[Timer]) -> None:
        for timer in [t for t in self._deadlines if t not in allowed]:
            del self._deadlines[timer]

    def running(self, timer: Timer) -> bool:
        return timer in self._deadlines

    def deadline(self, timer: Timer) -> float | None:
        return self._deadlines.get(timer)

    def earliest(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def due(self, now: float) -> list[tuple[float, Timer]]:
        """The timers whose deadline is ``<= now``, in firing order."""
        out = [(when, timer) for timer, when in self._deadlines.items() if when <= now]
        out.sort(key=lambda item: (item[0], PRIORITY[item[1]]))
        return out

    def snapshot(self) -> dict[Timer, float]:
        return dict(self._deadlines)
