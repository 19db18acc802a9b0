"""Helpers for the Bitrix client's tests: virtual time and a recording ``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bitrix.php import parse_query

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
