"""Serving aiohttp apps to strangers: the limits both of our HTTP listeners share.

The HTTP API (`handlers.http_api`) and the Telegram webhook listener (`handlers.app`) run on
aiohttp. Its defaults suit a trusted network, not a port scanners and abusers reach, so every
listener here is started through `GuardedSite` and `harden`:

- **slow and half-open clients** are dropped: aiohttp's keep-alive timer starts when a
  connection opens and closes it if no complete request head arrived by then, so
  ``keepalive_timeout=HEADER_TIMEOUT_S`` (`runner_options`) is the header read timeout and the
  idle timeout between requests; handlers that read a body bound it with `BODY_TIMEOUT_S`;
- **concurrent connections** are capped (`MAX_CONNECTIONS`): a connection over the cap gets a
  one-line JSON 503 and is closed at once, before any parsing;
- **errors at accept and in request parsing** are logged at most once per
  `LOG_INTERVAL_S` per kind (`RateLimitFilter`), with a count of what was suppressed, so a
  flood of garbage cannot fill the disk with tracebacks;
- **every answer is JSON** ``{"error", "message"}``, whichever layer produced it: the HTTP
  parser's 400 (a broken request line, headers too large), the router's 404/405, a body over
  the size limit (413), a crash (500); no answer carries aiohttp's ``Server`` banner.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger(__name__)

#: Seconds a connection may take to send a complete request head (and may then stay idle).
HEADER_TIMEOUT_S = 10.0
#: Seconds a handler may take to read a request body.
BODY_TIMEOUT_S = 10.0
#: Connections served at once per listener; more are refused with 503 at accept.
MAX_CONNECTIONS = 256
#: Seconds between two log lines of one kind of noisy error.
LOG_INTERVAL_S = 60.0
#: What the ``Server`` header says instead of the Python and aiohttp versions.
SERVER_NAME = "AudioBot"


def runner_options(
    *, max_line_size: int = 8190, header_timeout: float = HEADER_TIMEOUT_S
) -> dict[str, Any]:
    """Keyword arguments for `web.AppRunner` that set the timeouts above."""
    return {
        "keepalive_timeout": header_timeout,
        # After an error answer aiohttp reads what is left of the body for this long at most.
        "lingering_time": 2.0,
        "max_line_size": max_line_size,
        "max_field_size": 8190,
        "max_headers": 64,
    }


def json_error(status: int, code: str, message: str) -> web.Response:
    """A JSON error answer with our ``Server`` header."""
    response = web.Response(
        text=json.dumps({"error": code, "message": message}),
        status=status,
        content_type="application/json",
    )
    response.headers["Server"] = SERVER_NAME
    response.headers["Cache-Control"] = "no-store"
    return response


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


class _JsonErrors(RequestHandler):
    """aiohttp's per-connection protocol, with its last-resort error answers in JSON."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """An unparseable request (400, 413 for a too long line) or a crash (500), as JSON."""
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent; cannot answer the error")
        if status >= 500:
            self.log_exception("HTTP error handling a request", exc_info=exc)
            text = "unexpected error; see the server log"
        else:
            # A malformed request is the client's problem: one rate-limited line, no traceback.
            log.info("refused a malformed request (%d): %s", status, message or exc)
            text = str(message or "bad request")[:200]
        response = json_error(status, _code(status), text)
        response.force_close()
        return response


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


def harden(app: web.Application) -> web.Application:
    """No version banner on any answer the application produces."""
    app.on_response_prepare.append(_on_prepare)
    return app


_BUSY_BODY = b'{"error": "busy", "message": "too many connections; retry later"}\n'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Server: " + SERVER_NAME.encode() + b"\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class _Busy(asyncio.Protocol):
    """A connection over the cap: say 503 and hang up, without reading anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_BUSY)
        transport.close()


class GuardedSite(web.TCPSite):
    """A `web.TCPSite` whose connections are capped and whose parser errors answer JSON."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self.max_connections = max_connections
        self.refused = 0

    def _factory(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self.max_connections:
            self.refused += 1
            log.warning(
                "refused a connection: %d open, the cap is %d (MAX_CONNECTIONS)",
                len(server.connections),
                self.max_connections,
            )
            return _Busy()
        # What `Server.__call__` does, with our subclass (aiohttp has no hook for the class).
        return _JsonErrors(server, loop=server._loop, **server._kwargs)

    async def start(self) -> None:
        """As `web.TCPSite.start`, with our protocol factory in front of aiohttp's."""
        self._runner._reg_site(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


class RateLimitFilter(logging.Filter):
    """Let one record per (logger, message template) through per ``interval`` seconds.

    Installed on the loggers that a flood of bad connections makes talk: asyncio's accept
    errors ("socket.accept() out of system resource"), aiohttp's request errors and our own
    refusals. The next record let through says how many were suppressed.
    """

    def __init__(
        self, interval: float = LOG_INTERVAL_S, *, only: tuple[str, ...] | None = None
    ) -> None:
        super().__init__()
        self.interval = interval
        #: Message prefixes to limit (None: all); other records always pass.
        self.only = only
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.only is not None and not str(record.msg).startswith(self.only):
            return True
        key = (record.name, str(record.msg)[:80])
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        self._last[key] = (now, 0)
        if len(self._last) > 1000:
            self._last.clear()
        if suppressed:
            record.msg = f"{record.msg} (and {suppressed} more like it suppressed)"
        return True


_FILTER = RateLimitFilter()
#: asyncio logs much else that must never be dropped: only its accept errors are limited.
_ACCEPT_FILTER = RateLimitFilter(only=("socket.accept()", "Error on transport creation"))


def rate_limit_noisy_logs() -> None:
    """Install the rate limits on the loggers floods make noisy (idempotent)."""
    pairs = [("asyncio", _ACCEPT_FILTER), ("aiohttp.server", _FILTER), (__name__, _FILTER)]
    for name, limit in pairs:
        logger = logging.getLogger(name)
        if limit not in logger.filters:
            logger.addFilter(limit)
