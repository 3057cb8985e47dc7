"""Logging a recurring event once, then a count, so a flood cannot fill the log."""

from __future__ import annotations

import logging


class RateLimitedLog:
    """Logs the first occurrence per key, then at most one summary line per ``interval``."""

    __slots__ = ("_seen", "interval", "logger")

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._seen: dict[str, tuple[float, int]] = {}

    def warning(
        self, key: str, now: float, message: str, *args: object, extra: dict[str, object] | None = None
    ) -> bool:
        """Log unless this key was logged less than ``interval`` ago; return whether it logged."""
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.interval:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        if suppressed:
            message += f" ({suppressed} more since the last report)"
        self.logger.warning(message, *args, extra=extra)
        self._seen[key] = (now, 0)
        if len(self._seen) > 10_000:  # keys are peer addresses: forget the oldest
            for k in sorted(self._seen, key=lambda k: self._seen[k][0])[:5000]:
                del self._seen[k]
        return True
