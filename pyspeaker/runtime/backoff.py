"""ConnectRetry with exponential backoff, jitter and a cap. A peer that is down must not
be hammered: hundreds of dead peers retried at a fixed interval have caused ARP storms."""

from __future__ import annotations

import random

_RNG = random.Random()  # jitter only: one generator for every peer (seeding one costs a system call)


class Backoff:
    """Delays of base, 2*base, 4*base... up to ``cap``, each with +-``jitter`` (fraction)."""

    __slots__ = ("_rng", "base", "cap", "failures", "jitter")

    def __init__(self, base: float, cap: float, jitter: float = 0.25, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0
        self._rng = rng or _RNG

    def next_delay(self) -> float:
        """The wait before the next attempt; counts one more failure."""
        delay: float = min(self.cap, self.base * float(2 ** min(self.failures, 32)))
        self.failures += 1
        spread = delay * self.jitter
        wait: float = delay + self._rng.uniform(-spread, spread)
        return max(0.0, min(self.cap * (1 + self.jitter), wait))

    def reset(self) -> None:
        self.failures = 0
