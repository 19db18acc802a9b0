"""Issue 13, finding 5: the HTTP API resists abuse.

Raw sockets on loopback play the abusers (slow headers, half-open connections, garbage request
lines, too many connections); httpx plays a storm. Every wait is bounded by `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bitrix.demo import DemoCompany, build_demo
from handlers.http_api import API_KEY, ApiServer, create_api_app
from handlers.serving import rate_limit_noisy_logs
from tests.loop_stall import measure_loop_stall

from .conftest import AUTH, TODAY, Stack, api_stack


@pytest.fixture(scope="module")
def demo() -> DemoCompany:
    return build_demo(TODAY)


@pytest.fixture
async def stack(demo: DemoCompany, tmp_path: Path) -> AsyncIterator[Stack]:
    async with api_stack(demo, tmp_path) as running:
        yield running


async def _raw(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout):
            return await reader.read(-1)
    finally:
        writer.close()


def _split(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


@pytest.fixture
async def guarded(stack: Stack) -> AsyncIterator[ApiServer]:
    """A second listener on the same runtime with tight limits: 0.5 s for headers, 3 conns."""
    server = ApiServer(
        create_api_app(stack.runtime, stack.settings), max_connections=3, header_timeout=0.5
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /api/health HTTP/1.1\r\nHost: x\r\n", b"GET /api/hea"],
    ids=["half-open", "slow-headers", "slow-request-line"],
)
async def test_a_slow_or_silent_client_is_dropped(guarded: ApiServer, sent: bytes) -> None:
    # Closed by the server after the header timeout: read(-1) returns, nothing was answered.
    assert await _raw(guarded.port, sent, timeout=5.0) == b""


async def test_connections_over_the_cap_get_a_json_503_at_once(guarded: ApiServer) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", guarded.port) for _ in range(3)]
    try:
        # Let the server register the three connections before the fourth arrives.
        async with asyncio.timeout(5):
            while guarded.site is not None and len(guarded.site._runner.server.connections) < 3:  # type: ignore[union-attr]
                await asyncio.sleep(0)
        status, headers, body = _split(
            await _raw(guarded.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        )
        assert status == 503 and headers["server"] == "AudioBot"
        assert json.loads(body)["error"] == "busy"
    finally:
        for _, writer in idle:
            writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"DELETE /api/health HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"BREW /api/health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", 413),
        (b"\x16\x03\x01\x02\x00 garbage\r\n\r\n", 400),
        (b"GET /api/health HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 400),
    ],
    ids=["405", "unknown-method", "404", "413", "tls-garbage", "huge-header"],
)
async def test_every_layer_answers_json_without_a_banner(
    guarded: ApiServer, request_bytes: bytes, status: int
) -> None:
    got, headers, body = _split(await _raw(guarded.port, request_bytes))
    assert got == status, (got, body)
    assert headers["content-type"].startswith("application/json")
    assert headers["server"] == "AudioBot"
    assert "aiohttp" not in json.dumps(headers) and "Python" not in json.dumps(headers)
    assert set(json.loads(body)) >= {"error", "message"}


async def test_malformed_requests_are_logged_at_a_limited_rate(
    guarded: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(30):
        await _raw(guarded.port, b"\x16\x03\x01 not http\r\n\r\n")
    noisy = [
        r
        for r in caplog.records
        if r.name in ("handlers.serving", "aiohttp.server") and r.levelno >= logging.INFO
    ]
    assert len(noisy) <= 2, [r.getMessage() for r in noisy]
    assert not any(r.exc_info for r in noisy)  # no tracebacks for a client's garbage


async def test_a_storm_of_large_pages_renders_once_off_the_loop(stack: Stack) -> None:
    api = stack.server.app[API_KEY]
    url = "/api/cleaning/houses?limit=500"
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=stack.server.url, timeout=30.0, limits=limits) as http:
        first = await http.get(url, headers=AUTH)
        assert first.status_code == 200 and len(first.json()["items"]) == 490
        renders = api.renders
        async with measure_loop_stall() as stall:
            answers = await asyncio.gather(*(http.get(url, headers=AUTH) for _ in range(200)))
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["total"] for a in answers} == {490}
    assert api.renders == renders  # served from the rendered page, not built 200 times
    # The loop never blocked on building or serialising a page (generous on 2 shared cores).
    assert stall.worst < 0.5


def test_accept_errors_are_logged_at_a_limited_rate(caplog: pytest.LogCaptureFixture) -> None:
    rate_limit_noisy_logs()
    logger = logging.getLogger("asyncio")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        for _ in range(100):
            # What asyncio logs on every failed accept when the process is out of descriptors.
            logger.error("socket.accept() out of system resources", exc_info=None)
        logger.error("Task exception was never retrieved")  # everything else still passes
    messages = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert messages.count("socket.accept() out of system resources") <= 1
    assert "Task exception was never retrieved" in messages
