"""The portal's two limits and a clock tests can drive.

- `LeakyBucket`: the request-rate limit. Every HTTP request adds 1 to a level that drains at
  ``rate`` per second; a request that would lift it above ``burst`` is refused (503
  QUERY_LIMIT_EXCEEDED) and, being refused, adds nothing. A `batch` is one request.
- `OperatingMeter`: seconds of execution per method over a sliding 10-minute window. The real
  limiter keeps ten one-minute buckets; here every charge expires exactly 600 s after it was
  made, and ``reset_at`` is when the oldest live charge expires (the real ``operating_reset_at``:
  "first call in the oldest minute + 600 s").

Both take the current time as an argument, so the portal can feed them an injected clock.
"""

from __future__ import annotations

from collections import deque

#: The operating-time window: 10 minutes (reference §6.2).
OPERATING_WINDOW = 600.0


class ManualClock:
    """A clock that only moves when told to: inject it as `PortalOptions.clock` in tests."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now += seconds

    def set(self, now: float) -> None:
        """Jump to ``now`` (Unix seconds)."""
        self._now = now


class LeakyBucket:
    """Request-rate limit: a leaky bucket whose level drains at ``rate`` per second."""

    def __init__(self) -> None:
        self._level = 0.0
        self._last: float | None = None

    def _drain(self, now: float, rate: float) -> None:
        if self._last is not None:
            self._level = max(0.0, self._level - max(0.0, now - self._last) * rate)
        self._last = now

    def admit(self, now: float, rate: float, burst: int) -> bool:
        """Count one request; ``False`` (and nothing counted) when it would overflow."""
        self._drain(now, rate)
        if self._level + 1 > burst:
            return False
        self._level += 1
        return True

    def level(self, now: float, rate: float) -> float:
        """The current level after draining up to ``now``."""
        self._drain(now, rate)
        return self._level

    def reset(self) -> None:
        """Empty the bucket."""
        self._level = 0.0
        self._last = None


class OperatingMeter:
    """Execution seconds per method over a sliding 10-minute window."""

    def __init__(self) -> None:
        self._charges: dict[str, deque[tuple[float, float]]] = {}

    def _live(self, method: str, now: float) -> deque[tuple[float, float]]:
        charges = self._charges.setdefault(method, deque())
        while charges and charges[0][0] + OPERATING_WINDOW <= now:
            charges.popleft()
        return charges

    def charge(self, method: str, now: float, seconds: float) -> None:
        """Record ``seconds`` of execution of ``method`` made at ``now``."""
        if seconds > 0:
            self._live(method, now).append((now, seconds))

    def used(self, method: str, now: float) -> float:
        """Seconds ``method`` has used in the last 10 minutes."""
        return sum(seconds for _, seconds in self._live(method, now))

    def reset_at(self, method: str, now: float) -> int | None:
        """Unix time when the oldest live charge expires, or ``None`` without charges."""
        charges = self._live(method, now)
        if not charges:
            return None
        return int(charges[0][0] + OPERATING_WINDOW)

    def reset(self) -> None:
        """Forget every charge."""
        self._charges.clear()
