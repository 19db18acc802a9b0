"""Measure how long the asyncio event loop stalls while some work runs.

Shared by the speech and bot tests and by `bench/voice.py`: a blocking call on the
loop (a Vosk decode, an ffmpeg wait) shows up as a tick that arrives late.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

TICK_SECONDS = 0.005


@dataclass
class LoopStall:
    """The longest extra delay (seconds) a ticker saw beyond its own period."""

    worst: float = 0.0


@asynccontextmanager
async def measure_loop_stall(max_ticks: int = 1_000_000) -> AsyncIterator[LoopStall]:
    """Tick every 5 ms inside the block; `worst` holds the longest late tick on exit."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stall = LoopStall()

    async def tick() -> None:
        last = loop.time()
        for _ in range(max_ticks):  # bounded; the stop event ends it long before
            if stop.is_set():
                return
            await asyncio.sleep(TICK_SECONDS)
            now = loop.time()
            stall.worst = max(stall.worst, now - last - TICK_SECONDS)
            last = now

    ticking = asyncio.create_task(tick())
    try:
        yield stall
    finally:
        stop.set()
        await asyncio.wait_for(ticking, timeout=5)
