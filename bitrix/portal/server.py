"""An emulated Bitrix24 portal: the incoming-webhook REST API over real HTTP (aiohttp).

Usage in async code (tests)::

    async with EmulatedPortal(sample_store(TODAY), PortalOptions(bucket=True)) as portal:
        url = portal.webhook_url      # http://127.0.0.1:<port>/rest/1/<token>/
        ...                           # call f"{url}crm.deal.list" with any HTTP client
        assert portal.count("crm.deal.list") == 1

In synchronous code (CLI commands, the embedded default portal)::

    with PortalThread(store) as portal:   # its own thread and event loop
        print(portal.webhook_url)

Request pipeline, in the real portal's order:

1. record the request; read params: URL query and body merged, the body winning (top-level
   keys); JSON bodies (invalid JSON is silently ``{}``), PHP-style form and multipart bodies;
2. added ``latency``; injected faults (`Fault`); ``moved_to`` → 302;
3. anything not ``/rest/<uid>/<token>/<method>[.json][/]`` → 401 NO_AUTH_FOUND;
4. leaky bucket → 503 QUERY_LIMIT_EXCEEDED; unknown method → 404 ERROR_METHOD_NOT_FOUND;
5. ``https_required`` → 401 INVALID_REQUEST; wrong user id or token → 401
   INVALID_CREDENTIALS; a fired webhook owner → 401 authorization_error; scope → 401
   insufficient_scope; operating budget → 429 OPERATION_TIME_LIMIT;
6. the method; the envelope passes through `bitrix.php.php_array` (empty containers ``[]``).

Switches live in `PortalOptions` (`portal.options`) and may change at run time. Faults:
`EmulatedPortal.inject_fault` (HTML 502, dropped connection, hang until `release_hung`, JSON
500, 503 QUERY_LIMIT_EXCEEDED, and ``DROP_AFTER``: the call runs — a write is stored — and then
the connection drops without the answer), each for the next ``count`` requests (optionally of
one method) after skipping ``after`` matching ones — ``after=n-1`` is "a 500 on the n-th
request". Observability: every HTTP request is a `RecordedRequest` in `EmulatedPortal.requests`;
`count` and `calls` count them, `reset` clears them.

The aiohttp access log is disabled: request paths carry the webhook's secret code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

from aiohttp import web

from bitrix.php import parse_pairs, parse_query, php_array
from bitrix.portal.calls import MethodSpec
from bitrix.portal.engine import PortalEngine
from bitrix.portal.errors import AuthError, LimitError, RestError
from bitrix.portal.limits import LeakyBucket, OperatingMeter
from bitrix.portal.methods import METHODS
from bitrix.portal.options import PortalOptions
from bitrix.portal.store import PortalStore

logger = logging.getLogger("bitrix.portal")

_WEBHOOK_PATH = re.compile(r"^/rest/(?P<uid>[^/]+)/(?P<token>[^/]+)/(?P<method>[^/]*)/?$")
_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_HTML_302 = (
    "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n"
    "<center><h1>302 Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_REST_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "origin, content-type, accept",
    "X-Content-Type-Options": "nosniff",
}


class Fault(StrEnum):
    """Failures the portal can inject instead of answering."""

    #: An nginx "502 Bad Gateway" HTML page (text/html).
    HTML_502 = "html502"
    #: Close the connection without any response.
    DROP = "drop"
    #: Hold the request until `EmulatedPortal.release_hung` (then answer normally) or stop.
    HANG = "hang"
    #: HTTP 500 ``{"error": "INTERNAL_SERVER_ERROR", ...}``.
    ERROR_500 = "error500"
    #: HTTP 503 ``QUERY_LIMIT_EXCEEDED`` "Too many requests" without running the method, as
    #: the portal's leaky bucket answers (reference §6.1) — without having to fill the bucket.
    QUERY_LIMIT = "query_limit"
    #: Run the call (a write is applied and stored), then close the connection without
    #: sending the answer: the "written, but the answer was lost" case a client must recover
    #: from by looking the object up, never by writing again.
    DROP_AFTER = "drop_after"


@dataclass
class RecordedRequest:
    """One HTTP request the portal received, for tests to assert on."""

    http_method: str
    #: The Bitrix method, lower case without ``.json``; ``None`` for a non-webhook path.
    method: str | None
    #: Parsed parameters (query and body merged).
    params: dict[str, Any]
    #: HTTP status answered; ``None`` while held or when the connection was dropped.
    status: int | None = None
    #: The ``error`` code of an error answer (``""`` for classic crm errors).
    error: str | None = None
    #: The injected fault this request met, if any.
    fault: Fault | None = None
    #: For `batch`: the sub-methods run, lower case, in order.
    sub_methods: list[str] = field(default_factory=list)


@dataclass
class _PendingFault:
    kind: Fault
    method: str | None
    remaining: int
    skip: int


def _json_body(payload: Any) -> bytes:
    return json.dumps(php_array(payload), ensure_ascii=False, separators=(",", ":")).encode()


def _rest_response(status: int, payload: Any, *, seconds: float = 0.0) -> web.Response:
    headers = {
        **_REST_HEADERS,
        "Content-Type": "application/json; charset=utf-8",
        "X-Bitrix-Rest-Time": f"{seconds:.10f}",
        "X-Bitrix-Rest-User-Time": f"{seconds:.10f}",
        "X-Bitrix-Rest-System-Time": f"{0.0:.10f}",
    }
    return web.Response(status=status, body=_json_body(payload), headers=headers)


async def read_params(request: web.Request) -> dict[str, Any]:
    """The request's parameters as the portal's PHP reads them (CRestUtil::getRequestData).

    URL query and body are merged with ``array_replace`` semantics: top-level body keys win.
    """
    query = parse_query(request.rel_url.raw_query_string)
    if not request.can_read_body:
        return query
    content_type = request.content_type
    body: dict[str, Any] = {}
    if content_type == "multipart/form-data":
        form = await request.post()
        pairs = [
            (k, v if isinstance(v, str) else getattr(v, "filename", "")) for k, v in form.items()
        ]
        body = parse_pairs(pairs)
    else:
        raw = (await request.read()).decode("utf-8", errors="replace").strip()
        if content_type == "application/json":
            try:
                decoded = json.loads(raw) if raw else {}
            except ValueError:
                decoded = {}  # Invalid JSON silently becomes an empty array.
            if isinstance(decoded, Mapping):
                body = {str(k): v for k, v in decoded.items()}
            elif isinstance(decoded, list):
                body = {str(i): v for i, v in enumerate(decoded)}
        elif raw:
            body = parse_query(raw)
    return {**query, **body}


class EmulatedPortal:
    """A Bitrix24 portal on loopback serving ``store`` through the webhook REST API.

    ``store`` and ``options`` are live: changes are seen by the next request. Start with
    `start` or ``async with``; the URL is `webhook_url`.
    """

    def __init__(
        self,
        store: PortalStore | None = None,
        options: PortalOptions | None = None,
        *,
        methods: Mapping[str, MethodSpec] | None = None,
    ) -> None:
        self._bucket = LeakyBucket()
        self._meter = OperatingMeter()
        self._engine = PortalEngine(
            store if store is not None else PortalStore(),
            options if options is not None else PortalOptions(),
            methods if methods is not None else METHODS,
            self._meter,
        )
        self._records: list[RecordedRequest] = []
        self._faults: list[_PendingFault] = []
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"
        self._release: asyncio.Event | None = None
        self._changed: asyncio.Condition | None = None
        self._hung = 0
        self._stopping = False

    # ------------------------------------------------------------------ configuration

    @property
    def store(self) -> PortalStore:
        """The data served (mutable)."""
        return self._engine.store

    @store.setter
    def store(self, store: PortalStore) -> None:
        self._engine.store = store

    @property
    def options(self) -> PortalOptions:
        """The switches (mutable; replace or change fields at run time)."""
        return self._engine.options

    @options.setter
    def options(self, options: PortalOptions) -> None:
        self._engine.options = options

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = a free port); returns `webhook_url`."""
        if self._runner is not None:
            raise RuntimeError("the emulated portal is already running")
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        self._changed = asyncio.Condition()
        self._stopping = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._host = host
        address = runner.addresses[0]
        self._port = int(address[1])
        logger.info("emulated Bitrix24 portal listening on %s:%s", host, self._port)
        return self.webhook_url

    async def stop(self) -> None:
        """Stop listening; held (hung) requests are dropped."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        if self._release is not None:
            self._release.set()
        await runner.cleanup()
        logger.info("emulated Bitrix24 portal stopped")

    async def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ready: Callable[[str], object] | None = None,
    ) -> None:
        """Start, call ``ready(webhook_url)``, serve until cancelled (Ctrl-C), then stop.

        For a foreground command: ``asyncio.run(portal.serve_forever(host, port, ready=print))``.
        """
        url = await self.start(host, port)
        try:
            if ready is not None:
                ready(url)
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> EmulatedPortal:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The listening port."""
        if self._port is None:
            raise RuntimeError("the emulated portal is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running portal."""
        return f"http://{self._host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        """The incoming-webhook URL: ``http://127.0.0.1:<port>/rest/<user_id>/<token>/``."""
        return f"{self.base_url}/rest/{self.options.user_id}/{self.options.token}/"

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self._port is not None else "not started"
        return f"<EmulatedPortal {where} user={self.options.user_id}>"

    # ------------------------------------------------------------------ observability

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every HTTP request received since the last `reset`, oldest first (a copy)."""
        with self._lock:
            return list(self._records)

    @property
    def request_count(self) -> int:
        """HTTP requests received since the last `reset`."""
        with self._lock:
            return len(self._records)

    def count(self, method: str | None = None) -> int:
        """HTTP requests, or those whose URL named ``method`` (``"batch"`` counts batches)."""
        wanted = method.lower() if method else None
        with self._lock:
            return sum(1 for r in self._records if wanted is None or r.method == wanted)

    def calls(self, method: str) -> int:
        """Calls of ``method``: direct HTTP requests plus `batch` sub-commands."""
        wanted = method.lower()
        with self._lock:
            return sum((r.method == wanted) + r.sub_methods.count(wanted) for r in self._records)

    def reset(self) -> None:
        """Forget the recorded requests (counters back to zero)."""
        with self._lock:
            self._records.clear()

    def reset_limits(self) -> None:
        """Empty the leaky bucket and forget all operating time."""
        self._bucket.reset()
        self._meter.reset()

    def operating(self, method: str) -> float:
        """Seconds ``method`` has used in the current 10-minute window."""
        return self._meter.used(method.lower(), float(self.options.clock()))

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` requests were received (``TimeoutError`` after)."""
        await self._wait(lambda: self.request_count >= count, timeout)

    async def wait_for_hung(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` requests are being held by a HANG fault."""
        await self._wait(lambda: self._hung >= count, timeout)

    @property
    def hung(self) -> int:
        """Requests currently held by a HANG fault."""
        return self._hung

    async def _wait(self, predicate: Any, timeout: float) -> None:
        if self._changed is None:
            raise RuntimeError("the emulated portal is not started")
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # ------------------------------------------------------------------ faults

    def inject_fault(
        self,
        kind: Fault | str,
        *,
        count: int = 1,
        method: str | None = None,
        after: int = 0,
    ) -> None:
        """Make the next ``count`` requests (of ``method`` only, if given) fail with ``kind``.

        ``after`` matching requests are answered normally first: ``after=4`` fails the 5th.
        """
        fault = _PendingFault(Fault(kind), method.lower() if method else None, count, after)
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Drop every pending fault (held requests stay held; see `release_hung`)."""
        with self._lock:
            self._faults.clear()

    def release_hung(self) -> None:
        """Let every request held by a HANG fault proceed and answer normally.

        Safe to call from any thread.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._swap_release()
        else:
            loop.call_soon_threadsafe(self._swap_release)

    def _swap_release(self) -> None:
        if self._release is not None:
            self._release.set()
        self._release = asyncio.Event()

    def _take_fault(self, method: str | None) -> Fault | None:
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.method is not None and fault.method != method:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                elif chosen is None:
                    chosen = fault.kind
                    fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining > 0]
        return chosen

    # ------------------------------------------------------------------ request handling

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest(request.method, None, {})
        match = _WEBHOOK_PATH.match(request.path)
        if match:
            name = match["method"].lower()
            record.method = name.removesuffix(".json")
        with self._lock:
            self._records.append(record)
        await self._notify()
        record.params = await read_params(request)
        response = await self._respond(request, record, match)
        if response is None:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        record.status = response.status
        return response

    async def _respond(
        self, request: web.Request, record: RecordedRequest, match: re.Match[str] | None
    ) -> web.Response | None:
        options = self.options
        if options.latency > 0:
            await asyncio.sleep(options.latency)
        fault = self._take_fault(record.method)
        record.fault = fault
        if fault is Fault.DROP:
            return None
        if fault is Fault.HTML_502:
            return web.Response(status=502, text=_HTML_502, content_type="text/html")
        if fault is Fault.ERROR_500:
            record.error = "INTERNAL_SERVER_ERROR"
            body = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
            return _rest_response(500, body)
        if fault is Fault.QUERY_LIMIT:
            record.error = "QUERY_LIMIT_EXCEEDED"
            body = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
            return _rest_response(503, body)
        if fault is Fault.HANG and not await self._hold():
            return None
        if options.moved_to:
            location = options.moved_to.rstrip("/") + str(request.rel_url)
            return web.Response(
                status=302,
                text=_HTML_302,
                content_type="text/html",
                headers={"Location": location},
            )
        began = time.perf_counter()
        try:
            envelope = self._process(record, match)
            seconds = time.perf_counter() - began
            response = _rest_response(200, envelope, seconds=seconds)
        except RestError as error:
            record.error = error.code
            logger.debug("%s -> %s %s", record.method, error.status, error.code or '""')
            return _rest_response(error.status, error.body())
        except Exception:
            # A bug in the emulator: answer like a broken portal instead of aiohttp's text page.
            logger.exception("emulated method %s failed", record.method)
            record.error = "INTERNAL_SERVER_ERROR"
            body = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
            return _rest_response(500, body)
        if fault is Fault.DROP_AFTER:
            logger.debug("%s -> applied, answer dropped", record.method)
            return None
        logger.debug("%s -> 200 in %.1f ms", record.method, seconds * 1000)
        return response

    async def _hold(self) -> bool:
        """Hold a request until released (``True``) or the portal stops (``False``)."""
        release = self._release
        if release is None:
            return False
        self._hung += 1
        await self._notify()
        try:
            await release.wait()
        finally:
            self._hung -= 1
        return not self._stopping

    def _process(self, record: RecordedRequest, match: re.Match[str] | None) -> dict[str, Any]:
        options = self.options
        if match is None or record.method is None:
            raise AuthError("NO_AUTH_FOUND", "Wrong authorization data")
        if options.bucket and not self._bucket.admit(
            float(options.clock()), options.bucket_rate, options.bucket_burst
        ):
            raise LimitError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
        spec = self._engine.lookup(record.method)
        if options.https_required:
            raise AuthError("INVALID_REQUEST", "Https required.")
        if match["uid"] != str(options.user_id) or match["token"] != options.token:
            raise AuthError("INVALID_CREDENTIALS", "Invalid request credentials")
        owner = self.store.users.get(options.user_id)
        if owner is not None and owner.get("ACTIVE") is False:
            raise AuthError("authorization_error", "Unable to authorize user")
        self._engine.check_scope(spec)
        return self._engine.run(spec, record.params, trace=record.sub_methods)


class PortalThread:
    """An `EmulatedPortal` running in a background thread with its own event loop.

    For synchronous code (CLI commands, the embedded default portal)::

        portal = PortalThread(store)
        url = portal.start()
        ...
        portal.stop()

    `portal` is the underlying `EmulatedPortal` (its options and counters; faults and
    `EmulatedPortal.release_hung` are safe to use from this thread).
    """

    def __init__(
        self,
        store: PortalStore | None = None,
        options: PortalOptions | None = None,
        *,
        startup_timeout: float = 10.0,
    ) -> None:
        self.portal = EmulatedPortal(store, options)
        self._startup_timeout = startup_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the thread and the portal; returns the webhook URL."""
        if self._thread is not None:
            raise RuntimeError("the portal thread is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="emulated-bitrix24", daemon=True)
        thread.start()
        ready.wait(self._startup_timeout)
        self._loop, self._thread = loop, thread
        future = asyncio.run_coroutine_threadsafe(self.portal.start(host, port), loop)
        try:
            return future.result(self._startup_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the portal, the loop and the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self.portal.stop(), loop)
            with contextlib.suppress(Exception):
                future.result(self._startup_timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(self._startup_timeout)
            if not thread.is_alive():
                loop.close()
            self._loop = self._thread = None

    @property
    def webhook_url(self) -> str:
        """The running portal's webhook URL."""
        return self.portal.webhook_url

    def __enter__(self) -> PortalThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
