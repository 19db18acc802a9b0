"""Helpers for the Bitrix client's tests: virtual time and a recording ``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
import heapq
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bitrix.php import parse_query
from bitrix.portal import ManualClock

T = TypeVar("T")

#: The secret code in every test webhook URL; tests assert it never leaks.
SECRET = "s3cr3tW3bh00kC0de"
WEBHOOK = f"https://portal.example.bitrix24.ru/rest/7/{SECRET}/"


class FakeTime:
    """Injectable clocks and sleep: ``sleep`` records the delay and moves both clocks on.

    ``clock`` stands for ``time.monotonic`` and ``wall`` for ``time.time``; they advance
    together.
    """

    def __init__(self, wall: float = 1_750_000_000.0) -> None:
        self.offset = wall
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.offset + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def envelope(
    result: Any,
    *,
    total: int | str | None = None,
    next_: int | None = None,
    operating: float | None = None,
    reset_at: float | None = None,
) -> dict[str, Any]:
    """A success body as Bitrix sends it."""
    timing: dict[str, Any] = {
        "start": 1750000000.1,
        "finish": 1750000000.2,
        "duration": 0.1,
        "processing": 0.05,
        "date_start": "2025-06-15T18:06:40+03:00",
        "date_finish": "2025-06-15T18:06:40+03:00",
    }
    if operating is not None:
        timing["operating"] = operating
    if reset_at is not None:
        timing["operating_reset_at"] = reset_at
    body: dict[str, Any] = {"result": result, "time": timing}
    if total is not None:
        body["total"] = total
    if next_ is not None:
        body["next"] = next_
    return body


@dataclass
class Seen:
    """One request the mock received."""

    method: str
    body: dict[str, Any]
    headers: httpx.Headers
    path: str

    @property
    def commands(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """For a batch: key → (method, parsed params) of each command."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for key, command in dict(self.body.get("cmd") or {}).items():
            method, _, query = str(command).partition("?")
            out[str(key)] = (method, parse_query(query))
        return out


Handler = Callable[[Seen], httpx.Response | Exception]


@dataclass
class MockPortal:
    """A scripted portal behind ``httpx.MockTransport``.

    Answers come from ``script`` (consumed in order; an ``Exception`` is raised as the transport
    error) and then from ``handler``.
    """

    handler: Handler | None = None
    script: list[httpx.Response | Exception] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def queue(self, *answers: httpx.Response | Exception) -> None:
        self.script.extend(answers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        method = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        seen = Seen(method=method, body=body, headers=request.headers, path=request.url.path)
        self.seen.append(seen)
        answer: httpx.Response | Exception
        if self.script:
            answer = self.script.pop(0)
        elif self.handler is not None:
            answer = self.handler(seen)
        else:
            answer = httpx.Response(200, json=envelope(True))
        if isinstance(answer, Exception):
            raise answer
        return answer


def json_response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, json=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )


def error_response(status: int, code: str, description: str = "") -> httpx.Response:
    return json_response(status, {"error": code, "error_description": description})


def html_response(status: int, text: str = "Bad Gateway") -> httpx.Response:
    page = f"<html><head><title>{status}</title></head><body><h1>{text}</h1></body></html>"
    return httpx.Response(status, text=page, headers={"Content-Type": "text/html"})


def batch_response(
    results: dict[str, Any] | list[Any],
    *,
    errors: dict[str, Any] | list[Any] | None = None,
    totals: dict[str, int] | None = None,
    nexts: dict[str, int] | None = None,
    times: dict[str, Any] | None = None,
) -> httpx.Response:
    """A batch answer with PHP empty-array shapes (``[]`` for empty sections)."""

    def php(section: Any) -> Any:
        return section if section else []

    return json_response(
        200,
        envelope(
            {
                "result": php(results),
                "result_error": php(errors),
                "result_total": php(totals),
                "result_next": php(nexts),
                "result_time": php(times),
            }
        ),
    )


def contains_secret(texts: Iterable[str]) -> bool:
    return any(SECRET in text for text in texts)


class VirtualTime:
    """One virtual clock shared by the portal (its `ManualClock`) and the client.

    Pass ``clock``/``wall``/``sleep`` to `BitrixClient` and the `ManualClock` to
    `PortalOptions.clock`: a client ``sleep(d)`` moves the portal's time on by ``d``, so rate
    limits and operating windows play out exactly, without real waiting. The client computes a
    wait and calls ``sleep`` without yielding in between, so every sleep starts at the current
    virtual time and the clock only moves forward.
    """

    def __init__(self, manual: ManualClock | None = None) -> None:
        self.manual = manual if manual is not None else ManualClock()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return float(self.manual())

    def wall(self) -> float:
        return float(self.manual())

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.manual.advance(max(0.0, seconds))
        await asyncio.sleep(0)


class SteppedTime:
    """Virtual time that moves one sleeper at a time, for exact rate-limit tests.

    ``sleep(d)`` parks the caller until virtual time ``now + d``. `drive` wakes the parked
    sleepers in time order: it sets the shared `ManualClock` to the earliest target, wakes
    that sleeper, and waits for ``settled()`` (e.g. "the portal received the request that
    sleeper sends") before moving on — so each request reaches the portal at exactly its
    virtual send time, as on a real timeline.
    """

    def __init__(self, manual: ManualClock | None = None) -> None:
        self.manual = manual if manual is not None else ManualClock()
        self.start = float(self.manual())
        self.woken = 0
        self._parked: list[tuple[float, int, asyncio.Event]] = []
        self._sequence = 0

    def clock(self) -> float:
        return float(self.manual())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.Event()
        self._sequence += 1
        heapq.heappush(self._parked, (self.clock() + seconds, self._sequence, wake))
        await wake.wait()

    async def drive(
        self,
        work: Awaitable[T],
        settled: Callable[[int], Awaitable[None]],
        *,
        max_steps: int = 10_000,
    ) -> T:
        """Run ``work`` to completion, waking sleepers one by one (``settled(woken)`` between)."""
        task = asyncio.ensure_future(work)
        for _ in range(max_steps):
            # Let every runnable task reach its next sleep or I/O before choosing who wakes.
            for _ in range(50):
                await asyncio.sleep(0)
            if task.done():
                return task.result()
            if not self._parked:
                await asyncio.wait({task}, timeout=0.05)
                continue
            target, _, wake = heapq.heappop(self._parked)
            if target > self.clock():
                self.manual.set(target)
            wake.set()
            self.woken += 1
            await settled(self.woken)
        task.cancel()
        raise AssertionError("SteppedTime.drive: too many steps")
