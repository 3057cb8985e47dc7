"""ConnectRetry backoff and the rate-limited refusal log: pure, on fake time."""

from __future__ import annotations

import logging
import random

import pytest

from pyspeaker.runtime.backoff import Backoff
from pyspeaker.runtime.ratelimit import RateLimitedLog


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    b = Backoff(1.0, 60.0, jitter=0.25, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    for n, d in enumerate(delays):
        nominal = min(60.0, 2.0**n)
        assert nominal * 0.75 <= d <= nominal * 1.25
    assert max(delays) <= 75.0
    assert len({round(d, 6) for d in delays[-5:]}) == 5  # jitter: capped retries do not line up


def test_backoff_spreads_many_peers_apart() -> None:
    """Hundreds of dead peers must not retry in lock step."""
    firsts = [Backoff(5.0, 120.0, rng=random.Random(i)).next_delay() for i in range(300)]
    assert max(firsts) - min(firsts) > 2.0


def test_backoff_reset_starts_over() -> None:
    b = Backoff(2.0, 30.0, jitter=0.0)
    assert [b.next_delay() for _ in range(5)] == [2.0, 4.0, 8.0, 16.0, 30.0]
    b.reset()
    assert b.next_delay() == 2.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(0.0, 10.0)
    with pytest.raises(ValueError):
        Backoff(10.0, 1.0)


def test_refusals_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLog(logging.getLogger("test.refusals"), interval=60.0)
    with caplog.at_level(logging.WARNING):
        results = [log.warning("10.0.0.9", t, "refused %s", "10.0.0.9") for t in (0.0, 1.0, 2.0, 59.0)]
        assert results == [True, False, False, False]
        assert log.warning("10.0.0.9", 61.0, "refused %s", "10.0.0.9")
        assert log.warning("10.0.0.8", 61.5, "refused %s", "10.0.0.8")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["refused 10.0.0.9", "refused 10.0.0.9 (3 more since the last report)", "refused 10.0.0.8"]
