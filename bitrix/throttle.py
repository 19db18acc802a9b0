"""Client-side leaky bucket matching Bitrix24's request-rate limit.

Bitrix24 counts HTTP requests per portal (and source IP) in a leaky bucket: each request adds
1, the counter drains by ``rate`` per second, and a request arriving when the counter would
exceed ``burst`` gets 503 ``QUERY_LIMIT_EXCEEDED`` (2/s and 50 on ordinary plans, 5/s and 250
on Enterprise). A batch of 50 calls costs 1.

Policy of :class:`LeakyBucket`:

- The same model as the portal: a level that drains continuously at ``rate``; a request may go
  when ``level + 1 <= burst - headroom``. So a cold start sends ``burst - headroom`` requests at
  once, then one every ``1 / rate`` seconds.
- ``headroom`` (default 1 slot) absorbs network jitter: we time a request when we send it, the
  portal when it arrives. At the edge of the bucket requests leave exactly ``1 / rate`` apart,
  and one that arrives a few milliseconds "early" relative to its predecessor would overflow a
  bucket filled to the brim; one free slot tolerates up to ``1 / rate`` seconds of jitter.
- Waiters are served first come, first served without polling: each ``acquire()`` reserves its
  slot under a lock (the level may go above ``burst`` by the number of queued waiters) and then
  sleeps exactly until its slot, outside the lock. A cancelled waiter gives its slot back.
- :meth:`LeakyBucket.saturate` marks the bucket full. The client calls it when the portal
  answers ``QUERY_LIMIT_EXCEEDED`` anyway (another application on the same IP shares the
  portal's bucket), so that later requests go at ``rate`` until the portal's bucket drains.
- One bucket per portal: the client owns one and shares it between all its calls.
- ``clock`` and ``sleep`` are injectable so tests control time without sleeping.

Written here rather than taken from a library: aiolimiter's ``AsyncLimiter`` (not a project
dependency) has the same leaky-bucket model but reads the event loop's clock and offers no way
to mark the bucket full after a server 503; the whole policy fits in one small class.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

__all__ = ["Clock", "LeakyBucket", "Sleep"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class LeakyBucket:
    """A leaky bucket of ``burst`` requests draining at ``rate`` per second (``headroom`` free).

    Use ``async with bucket:`` or ``await bucket.acquire()`` before each HTTP request.
    """

    def __init__(
        self,
        rate: float = 2.0,
        burst: int = 50,
        *,
        headroom: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if headroom < 0:
            raise ValueError("headroom must not be negative")
        self.rate = float(rate)
        self.burst = int(burst)
        #: The level we let the bucket reach: ``burst - headroom``, but at least one request.
        self.capacity = max(1.0, self.burst - float(headroom))
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0
        self._updated = clock()
        self._lock = asyncio.Lock()
        #: Total seconds callers were told to wait (for stats and benchmarks).
        self.waited = 0.0

    def __repr__(self) -> str:
        return f"LeakyBucket(rate={self.rate}, burst={self.burst}, level={self.level:.2f})"

    def _drain(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._level = max(0.0, self._level - elapsed * self.rate)
        self._updated = now
        return now

    @property
    def level(self) -> float:
        """The current level, including slots reserved by queued waiters."""
        self._drain()
        return self._level

    def delay(self) -> float:
        """Seconds a request arriving now would wait (0 when it may go at once)."""
        self._drain()
        return max(0.0, (self._level + 1.0 - self.capacity) / self.rate)

    async def acquire(self) -> float:
        """Wait for a slot and take it. Returns the seconds waited."""
        async with self._lock:
            self._drain()
            wait = max(0.0, (self._level + 1.0 - self.capacity) / self.rate)
            self._level += 1.0
        if wait <= 0:
            return 0.0
        self.waited += wait
        try:
            await self._sleep(wait)
        except BaseException:
            # Cancelled while queued: give the slot back so it is not lost for good.
            self._drain()
            self._level = max(0.0, self._level - 1.0)
            raise
        return wait

    def saturate(self) -> None:
        """Mark the bucket full: the portal said QUERY_LIMIT_EXCEEDED, so its bucket is full."""
        self._drain()
        self._level = max(self._level, self.capacity)

    async def __aenter__(self) -> LeakyBucket:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
