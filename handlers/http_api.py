"""The read-only HTTP API: the company's data as JSON, from the bot's own snapshot.

Endpoints (``docs/http-api.md`` has curl examples and sample answers)::

    GET /api/health                 open to monitoring; 200 ok/degraded, 503 down
    GET /api/cleaning/houses        ?limit=&offset=&brigade=&company=&street=
    GET /api/dashboard/employees    active people (fired users are excluded)
    GET /api/dashboard/departments  departments with parent, head and size
    GET /api/dashboard/statistics   totals, per brigade, field coverage (as the bot says them)

Every data endpoint answers from ``runtime.cache.get()`` — the same `CompanySnapshot` the bot
answers from — and says how old that data is (``data_age_s``, ``stale``). Data endpoints need
``Authorization: Bearer <API_TOKEN>``; without ``API_TOKEN`` configured they answer 403.

Every answer other than 200 is JSON ``{"error": code, "message": text}``, raised as one of::

    ApiError                    any non-200 answer of a data endpoint (status, code, message)
    ├── BadRequest              400 bad_request: a query value that cannot be used
    ├── Unauthorized            401 unauthorized: missing or wrong bearer token
    ├── Forbidden               403 api_disabled: no API_TOKEN configured
    └── Unavailable             503 bitrix_unavailable: no snapshot and Bitrix24 failed

Router errors (404 unknown path, 405 wrong method, 413 a body over the limit) and anything
unexpected (500, logged) are turned into the same JSON shape by a middleware, and the HTTP
parser's own refusals by `handlers.serving`, so a client never has to parse HTML or text.

Abuse: the listener is a `handlers.serving.GuardedSite` (header timeout, a connection cap,
rate-limited error logs, no version banner). Serialising a page of 500 houses takes
milliseconds of CPU; a storm of such requests must not stall the bot's Telegram answers, which
share this event loop. So each answer's data part is rendered at most once per snapshot, day
and query (`RENDER_CACHE` entries), off the event loop in a worker thread, at most
`RENDER_SLOTS` at a time; a storm of the same request costs one render.

Use it standalone (``python -m handlers.http_api``) or from the bot's process::

    server = await serve_api(runtime, settings)   # None when API_PORT=0
    ...
    await server.stop()
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import re
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from bitrix.address import street_key
from bitrix.cache import SnapshotUnavailable, SnapshotView
from bitrix.company import CompanySnapshot
from bitrix.models import Department, Employee, House
from bot.config import Settings
from bot.runtime import Runtime
from handlers.serving import (
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS,
    GuardedSite,
    harden,
    rate_limit_noisy_logs,
    runner_options,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_LINE_SIZE",
    "ApiError",
    "ApiServer",
    "BadRequest",
    "Forbidden",
    "Unauthorized",
    "Unavailable",
    "create_api_app",
    "main",
    "run_api",
    "serve_api",
]

# Named explicitly: under `python -m handlers.http_api` __name__ is "__main__".
log = logging.getLogger("handlers.http_api")

#: Houses per page when ``limit`` is not given, and the most one page may hold.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: Longest query value accepted (a street name with its town fits many times over).
MAX_VALUE_LENGTH = 200
#: Request-line limit of `ApiServer`. aiohttp's default (8190 bytes) answers longer lines with
#: a plain-text 400 before our code runs; with 32 KiB a 10 kB query value still reaches the
#: validation below and gets a JSON 400 that names the parameter.
MAX_LINE_SIZE = 32 * 1024

#: Rendered answers kept (per snapshot, day and query), and renders run at once.
RENDER_CACHE = 64
RENDER_SLOTS = 2
#: Data answers being sent at once, and the piece written before yielding to the loop.
SEND_SLOTS = 4
SEND_CHUNK = 64 * 1024
#: Request bodies accepted (the API is GET-only; anything bigger is a 413).
MAX_BODY = 64 * 1024

_JSON = "application/json"
_DIGITS = re.compile(r"\d{1,9}")
_INTEGER = re.compile(r"[+-]?\d{1,9}")
_TOWN_PREFIX = re.compile(r"^(?:г\.?|город)\s+", re.IGNORECASE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------------- errors
class ApiError(Exception):
    """A non-200 answer: HTTP ``status``, a stable ``code`` and an English ``message``."""

    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error", "message"}`` plus any extra keys."""
        return {"error": self.code, "message": self.message, **self.extra}


class BadRequest(ApiError):
    """400: a query value that cannot be used (not a number, out of range, too long)."""

    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    """401: no bearer token, or a wrong one."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """403: the data endpoints are off because no API_TOKEN is configured."""

    status = 403
    code = "api_disabled"


class Unavailable(ApiError):
    """503: Bitrix24 failed and there is no snapshot to answer from."""

    status = 503
    code = "bitrix_unavailable"


def _json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # ensure_ascii=False: Russian text stays readable UTF-8 instead of \u escapes.
    response = web.Response(
        text=json.dumps(data, ensure_ascii=False),
        status=status,
        content_type=_JSON,
        charset="utf-8",
        headers=headers,
    )
    # Answers hold staff names; nothing in between should keep a copy.
    response.headers["Cache-Control"] = "no-store"
    # Instead of aiohttp's default, which tells scanners the exact Python and aiohttp versions.
    response.headers["Server"] = "AudioBot"
    return response


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as JSON ``{"error", "message"}``, whoever raised it; one DEBUG line per
    request for the operator (method, path and status — never headers or the query)."""
    started = time.perf_counter()
    response = await _answer(request, handler)
    log.debug(
        "%s %s -> %d in %.1f ms",
        request.method,
        request.path,
        response.status,
        (time.perf_counter() - started) * 1000,
    )
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        length = request.content_length
        if length is not None and length > MAX_BODY:
            # GET handlers never read a body, so aiohttp would not refuse it by itself.
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=length)
        return await handler(request)
    except ApiError as exc:
        return _json_response(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {}
        if isinstance(exc, web.HTTPMethodNotAllowed):
            headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
            message = (
                f"{request.method} is not allowed here; this read-only API answers "
                f"{', '.join(sorted(exc.allowed_methods))}"
            )
        elif exc.status == 404:
            message = f"no such endpoint: {request.path[:100]}; see docs/http-api.md"
        elif exc.status == 413:
            message = f"request body too large (at most {MAX_BODY} bytes; this API is GET-only)"
        else:
            message = exc.reason
        code = _HTTP_CODES.get(exc.status, exc.reason.lower().replace(" ", "_"))
        body = {"error": code, "message": message}
        return _json_response(body, status=exc.status, headers=headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        # The secret filter of `bot.logs` scrubs the traceback; the client learns nothing more.
        log.exception("HTTP API: unexpected error on %s %s", request.method, request.path)
        body = {"error": "internal_error", "message": "unexpected error; see the server log"}
        return _json_response(body, status=500)


# ---------------------------------------------------------------------- query values
def _value(query: MultiMapping[str], name: str) -> str | None:
    """One query value, stripped; ``None`` when absent or empty (an unset form field)."""
    values = query.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"{name} is given {len(values)} times; give it once")
    value = values[0].strip()
    if len(value) > MAX_VALUE_LENGTH:
        raise BadRequest(
            f"{name} is too long ({len(value)} characters, at most {MAX_VALUE_LENGTH})"
        )
    return value or None


def _int_value(
    query: MultiMapping[str], name: str, *, default: int | None, low: int, high: int | None
) -> int | None:
    value = _value(query, name)
    if value is None:
        return default
    if not _INTEGER.fullmatch(value):
        raise BadRequest(f"{name} must be a whole number, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be {bounds}, got {number}")
    return number


def _town_key(town: str) -> str:
    return " ".join(_TOWN_PREFIX.sub("", town.strip()).casefold().replace("ё", "е").split())


def _street_filter(value: str) -> Callable[[House], bool]:
    """``"Пушкина"`` matches that street in every town; ``"Кондрово, Пушкина"`` in one town.

    Compared like the bot compares streets: case-insensitive, ё = е, "ул."/"улица" ignored.
    """
    town: str | None = None
    street = value
    if "," in value:
        head, _, street = value.partition(",")
        town = _town_key(head)
        if not town:
            raise BadRequest(f"street {value!r}: the town before the comma is empty")
    key = street_key(street)
    if not key:
        raise BadRequest(f"street {value!r} has no street name")

    def match(house: House) -> bool:
        if house.address.street_key != key:
            return False
        return town is None or _town_key(house.address.town) == town

    return match


# ---------------------------------------------------------------------- JSON shapes
def _id(value: str) -> int | str:
    # Bitrix24 ids are decimal strings in REST answers; integers are what clients sort by.
    return int(value) if value.isdigit() else value


def _ref(entity_id: str | None, name: str | None) -> dict[str, Any] | None:
    return None if entity_id is None else {"id": _id(entity_id), "name": name}


def _house_json(house: House, snapshot: CompanySnapshot, today: date) -> dict[str, Any]:
    company = None
    if house.company_id is not None:
        known = snapshot.companies.get(house.company_id)
        company = _ref(house.company_id, known.name if known else None)
    visits = house.visits_in(today.year, today.month)
    return {
        "id": _id(house.id),
        "address": house.title,
        "full_address": house.full_address,
        "town": house.address.town,
        "street": house.address.street,
        "number": house.address.number,
        "brigade": house.brigade,
        "company": company,
        "apartments": house.apartments,
        "entrances": house.entrances,
        "floors": house.floors,
        "periodicity": house.periodicity(today.year, today.month),
        "visits": [
            {"date": v.day.isoformat(), "type": v.label, "kind": v.kind.value} for v in visits
        ],
    }


def _person_name(snapshot: CompanySnapshot, person_id: str | None) -> str | None:
    person = snapshot.person(person_id)
    return person.full_name if person else None


def _employee_json(person: Employee, snapshot: CompanySnapshot) -> dict[str, Any]:
    department = None
    if person.department_ids:
        # The first department is the person's main one (Bitrix24 lists it first).
        dep_id = person.department_ids[0]
        known = snapshot.departments.get(dep_id)
        department = _ref(dep_id, known.name if known else None)
    return {
        "id": _id(person.id),
        "name": person.full_name,
        "position": person.position or None,
        "department": department,
        "brigade": person.brigade,
        "active": person.active,
    }


def _department_json(dep: Department, snapshot: CompanySnapshot) -> dict[str, Any]:
    parent = None
    if dep.parent_id is not None:
        known = snapshot.departments.get(dep.parent_id)
        parent = _ref(dep.parent_id, known.name if known else None)
    return {
        "id": _id(dep.id),
        "name": dep.name,
        "parent": parent,
        "head": _ref(dep.head_id, _person_name(snapshot, dep.head_id)),
        "size": dep.size,
        "brigade": dep.brigade,
    }


def _freshness(view: SnapshotView) -> dict[str, Any]:
    return {
        "data_age_s": round(view.age_s, 1),
        "stale": view.stale,
        "fetched_at": view.fetched_at.isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------- the application
class _Api:
    """The endpoint handlers, bound to one runtime (no module-level state)."""

    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.runtime = runtime
        token = settings.api_token.get_secret_value() if settings.api_token else ""
        self._token = token.encode() if token else None
        self._rendered: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._slots = asyncio.Semaphore(RENDER_SLOTS)
        self._sending = asyncio.Semaphore(SEND_SLOTS)
        self.renders = 0

    async def _respond(
        self,
        request: web.Request,
        view: SnapshotView,
        key: tuple[Any, ...],
        build: Callable[[], dict[str, Any]],
    ) -> web.StreamResponse:
        """``build()``'s JSON with the view's freshness in front (see the module docstring).

        Rendered once per snapshot, day and ``key``, in a worker thread, and kept as UTF-8
        bytes; sent in `SEND_CHUNK` pieces by at most `SEND_SLOTS` requests at a time, so
        hundreds of waiting requests never wake in one loop turn and stall the bot.
        """
        snapshot = view.snapshot
        full_key = (id(snapshot), snapshot.fetched_at, snapshot.today, *key)
        payload = self._rendered.get(full_key)
        if payload is None:
            async with self._slots:
                payload = self._rendered.get(full_key)  # rendered while we waited?
                if payload is None:
                    payload = await asyncio.to_thread(
                        lambda: json.dumps(build(), ensure_ascii=False).encode()
                    )
                    self.renders += 1
                    self._rendered[full_key] = payload
                    while len(self._rendered) > RENDER_CACHE:
                        self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(full_key)
        async with self._sending:
            fresh = json.dumps(_freshness(view)).encode()
            body = fresh[:-1] + b", " + payload[1:] if payload != b"{}" else fresh
            response = web.StreamResponse(headers={"Cache-Control": "no-store"})
            response.content_type = _JSON
            response.charset = "utf-8"
            response.content_length = len(body)
            await response.prepare(request)
            try:
                for start in range(0, len(body), SEND_CHUNK):
                    await response.write(body[start : start + SEND_CHUNK])
                await response.write_eof()
            except ConnectionError:
                log.debug("HTTP API: the client left before the answer was sent")
            return response

    # -- access and data ---------------------------------------------------------------
    def _authorize(self, request: web.Request) -> None:
        if self._token is None:
            raise Forbidden(
                "the data endpoints are turned off: set API_TOKEN (a long random string) in "
                "the environment or .env and restart; /api/health is open without it"
            )
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized(
                "send the API token as 'Authorization: Bearer <API_TOKEN>'",
                headers={"WWW-Authenticate": 'Bearer realm="audiobot"'},
            )
        # aiohttp decodes header bytes that are not UTF-8 as surrogates; surrogateescape gives
        # the original bytes back instead of an encoding error (a 500).
        offered = given.strip().encode("utf-8", "surrogateescape")
        # Constant time, so response timing tells nothing about how much of a guess was right.
        if not hmac.compare_digest(offered, self._token):
            raise Unauthorized(
                "the API token is wrong",
                headers={"WWW-Authenticate": 'Bearer realm="audiobot", error="invalid_token"'},
            )

    async def _view(self) -> SnapshotView:
        try:
            return await self.runtime.cache.get()
        except SnapshotUnavailable as exc:
            cause = exc.cause
            raise Unavailable(
                f"no company data: Bitrix24 failed and there is no saved snapshot ({cause})",
                extra={
                    "bitrix24_error": cause.code or cause.kind,
                    "hint": cause.admin_hint,
                },
            ) from None

    # -- endpoints ---------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        """``GET /api/health``."""
        report = await self.runtime.health()
        status = 503 if report.status == "down" else 200
        return _json_response(report.to_json(), status=status)

    async def houses(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/cleaning/houses``."""
        self._authorize(request)
        query = request.query
        limit = _int_value(query, "limit", default=DEFAULT_LIMIT, low=0, high=MAX_LIMIT)
        offset = _int_value(query, "offset", default=0, low=0, high=None)
        brigade = _int_value(query, "brigade", default=None, low=0, high=None)
        company = _value(query, "company")
        if company is not None and not _DIGITS.fullmatch(company):
            raise BadRequest(f"company must be a company id (a whole number), got {company!r}")
        street = _value(query, "street")
        street_match = _street_filter(street) if street is not None else None
        assert limit is not None and offset is not None  # both have defaults
        view = await self._view()
        snapshot = view.snapshot

        def build() -> dict[str, Any]:
            houses = snapshot.houses_where(brigade=brigade, company_id=company)
            if street_match is not None:
                houses = [h for h in houses if street_match(h)]
            today = snapshot.today
            page = houses[offset : offset + limit]
            return {
                "month": f"{today.year:04d}-{today.month:02d}",
                "total": len(houses),
                "limit": limit,
                "offset": offset,
                "items": [_house_json(h, snapshot, today) for h in page],
            }

        return await self._respond(
            request, view, ("houses", limit, offset, brigade, company, street), build
        )

    async def employees(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/dashboard/employees``."""
        self._authorize(request)
        view = await self._view()
        snapshot = view.snapshot

        def build() -> dict[str, Any]:
            people = snapshot.people()
            return {
                "total": len(people),
                "items": [_employee_json(p, snapshot) for p in people],
            }

        return await self._respond(request, view, ("employees",), build)

    async def departments(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/dashboard/departments``."""
        self._authorize(request)
        view = await self._view()
        snapshot = view.snapshot

        def build() -> dict[str, Any]:
            tree = snapshot.department_tree()
            return {
                "total": len(tree),
                "items": [_department_json(d, snapshot) for d in tree],
            }

        return await self._respond(request, view, ("departments",), build)

    async def statistics(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/dashboard/statistics``."""
        self._authorize(request)
        view = await self._view()
        return await self._respond(
            request, view, ("statistics",), lambda: _statistics_json(view.snapshot)
        )


def _statistics_json(snapshot: CompanySnapshot) -> dict[str, Any]:
    stats = snapshot.statistics()
    today = snapshot.today
    totals = stats.totals
    return {
        "date": today.isoformat(),
        "month": f"{today.year:04d}-{today.month:02d}",
        "totals": {
            "houses": totals.houses,
            "apartments": totals.apartments,
            "entrances": totals.entrances,
            "floors": totals.floors,
            "employees": stats.employees,
            "brigades": stats.brigades,
            "companies": stats.companies,
            "houses_without_brigade": stats.houses_without_brigade,
            "houses_without_company": stats.houses_without_company,
        },
        "per_brigade": [
            {
                "brigade": number,
                "houses": t.houses,
                "apartments": t.apartments,
                "entrances": t.entrances,
                "floors": t.floors,
                "people": t.people,
            }
            for number, t in sorted(stats.per_brigade.items())
        ],
        "coverage": [
            {
                "field": c.field,
                "filled": c.filled,
                "total": c.total,
                "percent": round(c.percent, 1),
                "invalid": c.invalid,
            }
            for c in stats.coverage
        ],
    }


API_KEY = web.AppKey("api", _Api)
"""The `_Api` of an app made by `create_api_app` (its ``renders`` count)."""


def create_api_app(runtime: Runtime, settings: Settings) -> web.Application:
    """The API as an aiohttp application (serve it with `ApiServer` or mount it yourself)."""
    api = _Api(runtime, settings)
    # GET-only API: a small body limit keeps uploads to nowhere cheap to refuse.
    app = web.Application(middlewares=[_error_middleware], client_max_size=MAX_BODY)
    app.router.add_get("/api/health", api.health)
    app.router.add_get("/api/cleaning/houses", api.houses)
    app.router.add_get("/api/dashboard/employees", api.employees)
    app.router.add_get("/api/dashboard/departments", api.departments)
    app.router.add_get("/api/dashboard/statistics", api.statistics)
    app[API_KEY] = api  # tests and the storm benchmark read `renders`
    return harden(app)


# ---------------------------------------------------------------------- serving
class ApiServer:
    """An aiohttp runner and TCP site for the API app; ``async with`` or `start`/`stop`."""

    def __init__(
        self,
        app: web.Application,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.site: GuardedSite | None = None
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on ``host:port`` (0 = a free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("the API server is already running")
        rate_limit_noisy_logs()
        runner = web.AppRunner(
            self.app,
            handle_signals=False,
            shutdown_timeout=5.0,
            access_log=None,
            **runner_options(max_line_size=MAX_LINE_SIZE, header_timeout=self.header_timeout),
        )
        await runner.setup()
        try:
            site = GuardedSite(runner, self.host, self.port, max_connections=self.max_connections)
            await site.start()
            self.site = site
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("HTTP API listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop listening and finish open requests (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("HTTP API stopped")

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve_api(
    runtime: Runtime, settings: Settings, *, host: str | None = None, port: int | None = None
) -> ApiServer | None:
    """Start the API on ``API_HOST:API_PORT`` (or the given ``host``/``port``).

    Returns the running server (stop it with `ApiServer.stop`), or ``None`` when ``API_PORT``
    is 0 — the documented "off" switch. An explicit ``port=0`` picks a free port (tests).
    """
    chosen = settings.api_port if port is None else port
    if port is None and chosen == 0:
        log.info("HTTP API is off (API_PORT=0)")
        return None
    server = ApiServer(
        create_api_app(runtime, settings), host=host or settings.api_host, port=chosen
    )
    await server.start()
    if settings.api_token is None or not settings.api_token.get_secret_value():
        log.warning("API_TOKEN is not set: only /api/health answers, data endpoints give 403")
    return server


async def run_api(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """Serve only the API (with its own `Runtime`) until SIGINT/SIGTERM; the exit code."""
    if port is None and settings.api_port == 0:
        sys.stderr.write("API_PORT=0 turns the HTTP API off; set API_PORT or pass --port\n")
        return 2
    runtime = await Runtime.create(settings)
    try:
        await runtime.cache.start()
        server = await serve_api(runtime, settings, host=host, port=port)
        assert server is not None  # port 0 was refused above
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
                loop.add_signal_handler(sig, stop.set)
        sys.stderr.write(f"AudioBot HTTP API on {server.url}/api/health — Ctrl-C to stop\n")
        try:
            await stop.wait()
        finally:
            await server.stop()
    finally:
        await runtime.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handlers.http_api [--host H] [--port P]``: the API without the bot."""
    from bot.config import load_settings  # noqa: PLC0415 - the CLI's settings reader, on demand
    from bot.logs import configure_logging  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m handlers.http_api",
        description="Serve AudioBot's read-only HTTP API without the Telegram bot.",
    )
    parser.add_argument("--host", help="listen address (default: API_HOST)")
    parser.add_argument("--port", type=int, help="listen port (default: API_PORT; 0 = any free)")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    try:
        return asyncio.run(run_api(settings, host=args.host, port=args.port))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
