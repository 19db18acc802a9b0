"""The async Bitrix24 REST client (incoming webhook), built on httpx.

Usage::

    async with BitrixClient(settings.bitrix_webhook_url, rate=2.0, burst=50) as bx:
        me = (await bx.call("user.current")).result
        deals = await bx.list_all("crm.deal.list", {"select": ["ID", "TITLE"]})
        company = await bx.list_many({
            "deals": ListRequest("crm.deal.list", {"filter": {"CATEGORY_ID": 2}}, 490),
            "users": ListRequest("user.get", {"ACTIVE": True}, 90),
            "departments": ListRequest("department.get"),
        })

What it does for the caller:

- **Transport**: JSON POST bodies to ``<webhook>/<method>``, a meaningful User-Agent,
  redirects *not* followed (a 302 means the portal's domain was renamed:
  :class:`~bitrix.errors.BitrixPortalMoved`). Every failure is a
  :class:`~bitrix.errors.BitrixError`.
- **Rate limit**: one :class:`~bitrix.throttle.LeakyBucket` per client, shared by all its calls,
  matching the portal's bucket (``rate``/s, ``burst``), so the portal never has to say 503.
- **Retries** with exponential backoff and jitter (``max_retries``): 503 ``QUERY_LIMIT_EXCEEDED``
  for any method (the call did not run); connect failures for any method (the request never
  left); 5xx answers, non-JSON answers, timeouts and dropped connections for *read* methods only
  (``*.list``, ``*.get``, ``*.fields``, ``*.getchildren``, ``scope``, ``profile``,
  ``server.time``, ``app.info``, ``user.current``, and ``batch`` when every sub-command is a
  read) — a 500 on ``*.add`` may
  have created the record, so writes are never repeated.
- **Operating-time budget**: Bitrix sums each method's execution time per webhook over 10
  minutes and answers 429 ``OPERATION_TIME_LIMIT`` above ~480 s. The client remembers
  ``time.operating`` and ``time.operating_reset_at`` per method (also from batch
  ``result_time``); it slows down calls of a method whose figure is above 5/6 of
  ``operating_budget`` (400 of 480 s), waits for ``operating_reset_at`` before calling a
  method at or over the budget, and on a 429 waits for the remembered reset when that is
  within ``max_operating_wait`` seconds, else raises
  :class:`~bitrix.errors.BitrixOperationTimeLimit`.
- **Lists**: :meth:`BitrixClient.list_all` / :meth:`BitrixClient.list_many` fetch complete lists
  with as few HTTP requests as the API allows — up to 50 pages of 50 rows chained inside one
  ``batch`` through ``filter[>ID]=$result[<prev>][49][ID]`` (reference §3–4), so N rows of a list
  cost max(1, ⌈N / 2500⌉) requests, and several lists share batches.
- **Secrets**: the webhook URL embeds its secret code. It never appears in our logs, exception
  messages or reprs; httpx's own INFO request log (which prints full URLs) is silenced and
  filtered below.
- **Stats**: :attr:`BitrixClient.stats` (HTTP requests, retries, per-method operating seconds,
  last latency) for ``/health`` and the benchmarks.

Batch references (``$result[key]...``) only work between commands of the *same* HTTP request:
:meth:`BitrixClient.batch` splits more than 50 commands into sequential requests, and a command
cannot refer to one that went in an earlier request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from bitrix.errors import (
    BitrixAPIError,
    BitrixBadResponse,
    BitrixConfigError,
    BitrixConnectError,
    BitrixConnectionDropped,
    BitrixError,
    BitrixOperationTimeLimit,
    BitrixOverloaded,
    BitrixPortalMoved,
    BitrixQueryLimitExceeded,
    BitrixServerError,
    BitrixTimeoutError,
    BitrixTransportError,
    api_error,
    redact,
)
from bitrix.php import as_mapping, build_query
from bitrix.throttle import Clock, LeakyBucket, Sleep
from bitrix.values import as_int

__all__ = [
    "BATCH_LIMIT",
    "PAGE_SIZE",
    "BatchResult",
    "BitrixClient",
    "BitrixResponse",
    "ClientStats",
    "ListRequest",
    "is_read_method",
]

logger = logging.getLogger("bitrix.client")

#: Rows per page of every Bitrix list method; not configurable on the server (reference §3).
PAGE_SIZE = 50
#: Commands the server runs per batch request (``CRestUtil::BATCH_MAX_LENGTH``).
BATCH_LIMIT = 50

USER_AGENT = f"AudioBot/0.1 (Bitrix24 webhook client; httpx/{httpx.__version__})"

# Figures Bitrix24 does not publish per portal: the cloud budget is 480 s of execution time per
# method per 10 minutes (reference §6.2); the reference advises slowing down around 400 s, i.e.
# at 5/6 of the budget. Above that, calls of the method are delayed by up to _MAX_SLOWDOWN.
_SLOWDOWN_FROM = 400.0 / 480.0
_MAX_SLOWDOWN = 5.0
# A 429 is retried at most this many times per call, each after waiting for the reset.
_MAX_OPERATING_WAITS = 3
# Hard bound on list rounds (each round is one HTTP request): 10,000 × 2,500 rows.
_MAX_LIST_ROUNDS = 10_000


class _RedactWebhookFilter(logging.Filter):
    """Rewrites log records so a webhook's secret path never reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True


# Loggers that can print a webhook URL: httpx's request line (INFO) and httpcore's DEBUG trace,
# which includes response headers such as a redirect's Location (the same secret path).
_HTTP_LOGGERS = ("httpx", "httpcore")
_HTTP_RECORD_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def _silence_httpx_url_logging() -> None:
    # httpx logs every request at INFO as 'HTTP Request: POST <full URL> "HTTP/1.1 200 OK"', and
    # a webhook URL contains its secret code. Raise httpx and httpcore to WARNING unless the
    # application configured them explicitly, and in any case redact records that still get
    # through (an app may turn them up to DEBUG while debugging something else). A filter only
    # sees records logged directly to its logger, hence one per httpcore module logger.
    for name in _HTTP_LOGGERS:
        parent = logging.getLogger(name)
        if parent.level == logging.NOTSET:
            parent.setLevel(logging.WARNING)
    for name in _HTTP_RECORD_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactWebhookFilter) for f in target.filters):
            target.addFilter(_RedactWebhookFilter())


_silence_httpx_url_logging()


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BitrixResponse:
    """One successful call: ``result`` plus the envelope's ``total``, ``next`` and ``time``.

    ``total`` is present on list methods (``0`` when paging with ``start=-1``); ``next`` only
    when another page exists; ``time`` is the server's timing object (possibly empty).
    """

    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)
    method: str = ""


@dataclass(slots=True)
class BatchResult:
    """The outcome of :meth:`BitrixClient.batch`, per command key.

    A key is in exactly one of ``results`` (it succeeded), ``errors`` (it failed; a
    :class:`~bitrix.errors.BitrixAPIError` with ``status=None``) or :attr:`skipped` (with
    ``halt``, commands after a failure do not run). ``batch[key]`` gives the key's
    :class:`BitrixResponse` or raises its error.
    """

    keys: tuple[str, ...] = ()
    methods: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BitrixAPIError] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    nexts: dict[str, int] = field(default_factory=dict)
    times: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def __getitem__(self, key: str) -> BitrixResponse:
        if key in self.errors:
            raise self.errors[key]
        if key not in self.results:
            raise KeyError(key)
        return BitrixResponse(
            result=self.results[key],
            total=self.totals.get(key),
            next=self.nexts.get(key),
            time=self.times.get(key, {}),
            method=self.methods.get(key, ""),
        )

    def __contains__(self, key: object) -> bool:
        return key in self.results or key in self.errors

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def result(self, key: str, default: Any = None) -> Any:
        """The key's ``result``, or ``default`` if it failed or did not run."""
        return self.results.get(key, default)

    def total(self, key: str) -> int | None:
        """The key's ``total`` (list methods only)."""
        return self.totals.get(key)

    def next(self, key: str) -> int | None:
        """The key's ``next`` (only when another page exists)."""
        return self.nexts.get(key)

    def time(self, key: str) -> Mapping[str, Any]:
        """The key's ``time`` object (empty for failed keys)."""
        return self.times.get(key, {})

    @property
    def skipped(self) -> tuple[str, ...]:
        """Keys that neither succeeded nor failed (not run because of ``halt``)."""
        return tuple(k for k in self.keys if k not in self.results and k not in self.errors)

    @property
    def ok(self) -> bool:
        """Whether every command succeeded."""
        return not self.errors and not self.skipped

    def raise_for_errors(self) -> None:
        """Raise the first failed command's error (in command order), if any."""
        for key in self.keys:
            if key in self.errors:
                raise self.errors[key]


@dataclass(frozen=True, slots=True)
class ListRequest:
    """One complete list to fetch with :meth:`BitrixClient.list_many`.

    ``expected_rows`` is a hint (e.g. the previous snapshot's row count) so the first batch
    allocates enough chained pages to fetch the list in one request.
    """

    method: str
    params: Mapping[str, Any] | None = None
    expected_rows: int | None = None


@dataclass(slots=True)
class ClientStats:
    """Counters for ``/health`` and the benchmarks."""

    #: HTTP requests sent (a batch is one; retries count).
    requests: int = 0
    #: Requests repeated after a retryable failure (incl. waits for an operating reset).
    retries: int = 0
    #: Latest ``time.operating`` per method: seconds used of its 10-minute budget.
    operating: dict[str, float] = field(default_factory=dict)
    #: Seconds of the last HTTP round trip.
    last_latency: float | None = None
    #: Seconds spent waiting in the client's leaky bucket.
    throttled_seconds: float = 0.0
    #: Times the client paused a method because of its operating-time budget.
    operating_waits: int = 0


# --- method traits --------------------------------------------------------------------------

# ``.getchildren``: disk.folder.getchildren, read by `bitrix.writes` to find an upload.
_READ_SUFFIXES = (".list", ".get", ".fields", ".getlist", ".getchildren")
_READ_METHODS = frozenset(
    {"scope", "profile", "server.time", "app.info", "user.current", "methods", "method.get"}
)


def _command_method(command: str) -> str:
    return command.split("?", 1)[0].strip().lower()


def is_read_method(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether ``method`` only reads, so a failed attempt may be repeated safely.

    ``batch`` is a read when every sub-command in ``params["cmd"]`` is.
    """
    name = method.strip().lower()
    if name == "batch":
        commands = as_mapping((params or {}).get("cmd"))
        return bool(commands) and all(
            isinstance(c, str) and is_read_method(_command_method(c)) for c in commands.values()
        )
    return name in _READ_METHODS or name.endswith(_READ_SUFFIXES)


Style = Literal["chain", "classic", "single", "raw"]


@dataclass(frozen=True, slots=True)
class _Traits:
    """How a list method pages (reference §3 and the brief's per-method table)."""

    style: Style
    id_field: str | None = "ID"
    wrapper: str | None = None
    filter_key: str = "filter"
    id_filter: str = ">ID"
    order: Mapping[str, Any] | None = None
    #: Caller params that would break our paging (compared case-insensitively).
    reserved: frozenset[str] = frozenset({"start"})


_CRM_CHAIN = _Traits(
    "chain", order={"order": {"ID": "ASC"}}, reserved=frozenset({"start", "order"})
)
_TRAITS: dict[str, _Traits] = {
    "user.get": _Traits(
        "chain",
        filter_key="FILTER",
        order={"SORT": "ID", "ORDER": "ASC"},
        reserved=frozenset({"start", "sort", "order"}),
    ),
    "tasks.task.list": _Traits(
        "chain",
        id_field="id",
        wrapper="tasks",
        order={"order": {"ID": "asc"}},
        reserved=frozenset({"start", "order"}),
    ),
    "crm.item.list": _Traits(
        "chain",
        id_field="id",
        wrapper="items",
        id_filter=">id",
        order={"order": {"id": "ASC"}},
        reserved=frozenset({"start", "order"}),
    ),
    # No ID filter or stable ID order on these: classic `start` paging.
    "department.get": _Traits("classic"),
    "crm.category.list": _Traits("classic", id_field="id", wrapper="categories"),
    "crm.status.list": _Traits("classic", order={"order": {"ID": "ASC"}}),
    "crm.address.list": _Traits("classic", id_field=None),
    "calendar.event.get": _Traits("single"),
    # Not lists at all: the whole result is one record (a map of field descriptors). Allowed
    # in list_many so metadata rides in the same batch as the lists it describes.
    "crm.deal.fields": _Traits("raw", id_field=None),
    "crm.company.fields": _Traits("raw", id_field=None),
    "crm.contact.fields": _Traits("raw", id_field=None),
    "scope": _Traits("raw", id_field=None),
}

# user.get reads top-level keys as the filter only when there is no FILTER (reference §7.8),
# so top-level filter keys are moved into FILTER; these are its non-filter parameters.
_USER_GET_PARAMS = frozenset(
    {"sort", "order", "admin_mode", "image_resize", "start", "filter", "select"}
)


def _traits_for(method: str) -> _Traits:
    name = method.lower()
    if name in _TRAITS:
        return _TRAITS[name]
    if name.endswith(".userfield.list"):
        # FB leaves crm.deal.userfield.list unordered too: its default order is SORT, ID.
        return _Traits("classic")
    if name.startswith("crm.") and name.endswith(".list"):
        return _CRM_CHAIN
    return _Traits("classic")


def _find_key(params: Mapping[str, Any], name: str) -> str | None:
    for key in params:
        if key.lower() == name:
            return key
    return None


# --- the list engine's per-list state ------------------------------------------------------


@dataclass(slots=True)
class _ListState:
    name: str
    index: int
    method: str
    traits: _Traits
    params: dict[str, Any]
    filter_params: dict[str, Any]
    expected_rows: int | None
    last_id: int = 0
    offset: int = 0
    total: int | None = None
    first_done: bool = False
    done: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    wait_until: float | None = None
    operating_waits: int = 0

    def add(self, row: Any) -> None:
        if not isinstance(row, Mapping):
            return
        record = dict(row)
        id_field = self.traits.id_field
        if id_field is not None and id_field in record:
            key = str(record[id_field])
            if key in self.seen:
                return
            self.seen.add(key)
        self.rows.append(record)

    def pages_wanted(self) -> int | None:
        """Pages this list wants in the next round; None = as many as there is room for."""
        if self.traits.style in ("single", "raw"):
            return 1
        if not self.first_done:
            if self.expected_rows is not None:
                margin = max(PAGE_SIZE, self.expected_rows // 10)
                return max(1, math.ceil((self.expected_rows + margin) / PAGE_SIZE))
            return None if self.traits.style == "chain" else 1
        if self.total is None:
            return 1
        fetched = self.offset if self.traits.style == "classic" else len(self.rows)
        return max(1, math.ceil((self.total - fetched) / PAGE_SIZE))


def _rows_of(result: Any, wrapper: str | None) -> list[Any]:
    value = result
    if isinstance(value, Mapping):
        if wrapper is not None and wrapper in value:
            value = value[wrapper]
        elif len(value) == 1:
            # Single-key wrappers of other methods ({"items": [...]}) unwrap the same way.
            (only,) = value.values()
            if isinstance(only, list | Mapping):
                value = only
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(as_mapping(value).values()) if value else []
    return []


def _html_snippet(text: str) -> str:
    # Only a short, human-readable hint of an error page for the operator; no HTML parser needed.
    stripped = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    stripped = re.sub(r"<[^>]+>", " ", stripped)
    return " ".join(stripped.split())[:160]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


_WEBHOOK_PATH = re.compile(r"/rest/(\d+)/([^/]+)(?:/[^/]*)?/?")


# --- the client -----------------------------------------------------------------------------


class BitrixClient:
    """Async client for one Bitrix24 portal through an incoming webhook.

    ``webhook_url`` is ``https://PORTAL/rest/USER_ID/CODE/`` (a method name after it is
    ignored). ``rate``/``burst`` configure the client's leaky bucket, ``timeout`` the per-request
    httpx timeout, ``max_retries`` the retries after the first attempt, ``max_operating_wait`` the
    longest wait for an ``OPERATION_TIME_LIMIT`` reset. ``transport`` replaces httpx's network
    transport (tests: ``httpx.MockTransport``). ``clock`` (monotonic), ``wall_clock`` (Unix time,
    compared with the portal's ``operating_reset_at``), ``sleep`` and ``rand`` (jitter) are
    injectable for tests.
    """

    def __init__(
        self,
        webhook_url: str | SecretStr,
        *,
        rate: float = 2.0,
        burst: int = 50,
        timeout: float = 60.0,
        max_retries: int = 5,
        max_operating_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        operating_budget: float = 480.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        limiter: LeakyBucket | None = None,
    ) -> None:
        raw = (
            webhook_url.get_secret_value()
            if isinstance(webhook_url, SecretStr)
            else str(webhook_url)
        ).strip()
        base, host, user_id, secret = self.parse_webhook(raw)
        self._secret = secret
        self._host = host
        self._user_id = user_id
        self._max_retries = max(0, int(max_retries))
        self._max_operating_wait = float(max_operating_wait)
        self._operating_budget = float(operating_budget)
        self._backoff_base = float(backoff_base)
        self._backoff_cap = float(backoff_cap)
        self._timeout = float(timeout)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._rand = rand
        self._limiter = limiter or LeakyBucket(rate, burst, clock=clock, sleep=sleep)
        self._reset_at: dict[str, float] = {}
        self.stats = ClientStats()
        self._http = httpx.AsyncClient(
            base_url=base,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    @staticmethod
    def parse_webhook(raw: str) -> tuple[str, str, int, str]:
        """Split a webhook URL into (base, host, user id, secret code); raises
        `BitrixConfigError` when it is not one."""
        problem: str | None = None
        try:
            url = httpx.URL(raw)
        except (httpx.InvalidURL, TypeError, ValueError):
            url = None
            problem = "not a URL"
        match = _WEBHOOK_PATH.fullmatch(url.path) if url is not None else None
        if url is not None and (url.scheme not in {"http", "https"} or not url.host):
            problem = "scheme must be https (or http for a local emulator) with a host"
        elif url is not None and match is None:
            problem = "path must be /rest/USER_ID/CODE/"
        if problem is not None or url is None or match is None:
            # Raised outside the except block: httpx.InvalidURL may quote the URL.
            raise BitrixConfigError(f"invalid webhook URL: {problem}")
        user_id, secret = int(match.group(1)), match.group(2)
        port = f":{url.port}" if url.port else ""
        host = url.host
        base = f"{url.scheme}://{host}{port}/rest/{user_id}/{secret}/"
        return base, host, user_id, secret

    # -- public surface ------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The portal's host name (no secret)."""
        return self._host

    @property
    def user_id(self) -> int:
        """The id of the employee who created the webhook."""
        return self._user_id

    @property
    def limiter(self) -> LeakyBucket:
        """The client's leaky bucket (one per portal, shared by all calls)."""
        return self._limiter

    def __repr__(self) -> str:
        return f"BitrixClient(host={self._host!r}, user_id={self._user_id})"

    async def __aenter__(self) -> BitrixClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> BitrixResponse:
        """Call one REST method and return its envelope; raise a ``BitrixError`` on failure."""
        body = dict(params or {})
        payload = await self._send(method, body)
        return self._envelope(method, payload)

    async def batch(
        self,
        commands: Mapping[str, tuple[str, Mapping[str, Any] | None] | str]
        | Sequence[tuple[str, Mapping[str, Any] | None] | str],
        *,
        halt: bool = False,
    ) -> BatchResult:
        """Run commands through ``batch``, ≤ 50 per HTTP request (more go in later requests).

        ``commands`` maps a key to ``(method, params)`` or to a ready ``"method?query"``
        string; a sequence is keyed ``"0"``, ``"1"``, …. References (``$result[key]...``) only
        resolve within one HTTP request, i.e. within each run of 50 commands. With ``halt``,
        the first failure stops the rest (later keys end up in :attr:`BatchResult.skipped`).
        """
        items = self._normalize_commands(commands)
        outcome = BatchResult(keys=tuple(k for k, _ in items))
        for start in range(0, len(items), BATCH_LIMIT):
            chunk = items[start : start + BATCH_LIMIT]
            await self._batch_chunk(chunk, halt, outcome)
            if halt and outcome.errors:
                break
        return outcome

    async def list_all(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        expected_rows: int | None = None,
    ) -> list[dict[str, Any]]:
        """Fetch a complete list (all pages), in as few HTTP requests as the API allows."""
        lists = await self.list_many({"rows": ListRequest(method, params, expected_rows)})
        return lists["rows"]

    async def list_many(
        self, requests: Mapping[str, ListRequest]
    ) -> dict[str, list[dict[str, Any]]]:
        """Fetch several complete lists, packing their pages into shared batches.

        ID-chained lists (``crm.*.list``, ``user.get``, ``tasks.task.list``) fetch their first
        page with ``start=0`` (which reports ``total``) and the following pages as ``start=-1``
        pages chained through ``filter[>ID]``; once ``total`` is known, later batches carry
        exactly the pages still needed. Other lists use classic ``start`` offsets
        (``department.get``, ``crm.status.list``, ``crm.category.list``, userfield lists) or one
        call (``calendar.event.get``). Metadata methods whose result is one record
        (``crm.deal.fields``, ``scope``) may ride along: their "list" is that one record (a
        non-mapping result comes as ``{"result": value}``). Rows are deduplicated by id and
        keep server order.

        Raises ``ValueError`` if a paged list is given ``start``, or an ID-chained list
        ``order`` (``SORT``/``ORDER`` for ``user.get``): the client owns paging and order. A
        page that fails raises its ``BitrixError`` (an ``OPERATION_TIME_LIMIT`` page is
        retried after the reset when that is within ``max_operating_wait``). Rows added to the
        portal while a list is being fetched may be missed; rows are never duplicated.
        """
        states = [
            self._prepare_list(name, index, request)
            for index, (name, request) in enumerate(requests.items())
        ]
        for _round in range(_MAX_LIST_ROUNDS):
            active = [s for s in states if not s.done]
            if not active:
                break
            await self._wait_for_list_resets(active)
            plan = self._plan_round(active)
            commands = {key: command for _state, pages in plan for key, command, _ in pages}
            outcome = BatchResult(keys=tuple(commands))
            await self._batch_chunk(list(commands.items()), False, outcome)
            for state, pages in plan:
                self._consume(state, pages, outcome)
        return {state.name: state.rows for state in states}

    # -- list engine ---------------------------------------------------------------------

    def _prepare_list(self, name: str, index: int, request: ListRequest) -> _ListState:
        traits = _traits_for(request.method)
        params = dict(request.params or {})
        for key in params:
            if key.lower() in traits.reserved:
                raise ValueError(
                    f"{request.method}: do not pass {key!r}; list_all/list_many own paging"
                    + (" and order (ID ascending)" if traits.style == "chain" else "")
                )
        filter_params: dict[str, Any] = {}
        lower_bound = 0
        if traits.style == "chain":
            filter_key = _find_key(params, traits.filter_key.lower())
            if filter_key is not None:
                raw_filter = params.pop(filter_key)
                filter_params = dict(as_mapping(raw_filter))
            if request.method.lower() == "user.get":
                for key in list(params):
                    if key.lower() not in _USER_GET_PARAMS:
                        filter_params[key] = params.pop(key)
            bound_key = _find_key(filter_params, traits.id_filter.lower())
            if bound_key is not None:
                lower_bound = as_int(filter_params.pop(bound_key)) or 0
            select_key = _find_key(params, "select")
            id_field = traits.id_field or "ID"
            if select_key is not None and isinstance(params[select_key], list | tuple):
                selected = list(params[select_key])
                wanted = {str(s).lower() for s in selected}
                if id_field.lower() not in wanted and "*" not in wanted:
                    params[select_key] = [*selected, id_field.upper()]
        elif traits.order is not None and _find_key(params, "order") is None:
            params.update(traits.order)
        return _ListState(
            name=name,
            index=index,
            method=request.method,
            traits=traits,
            params=params,
            filter_params=filter_params,
            expected_rows=request.expected_rows,
            last_id=lower_bound,
        )

    def _plan_round(
        self, active: list[_ListState]
    ) -> list[tuple[_ListState, list[tuple[str, str, int]]]]:
        """Share one batch's 50 slots between lists; returns (state, [(key, command, start)])."""
        slots = BATCH_LIMIT
        alloc: dict[int, int] = {}
        for state in active:
            if slots == 0:
                break
            alloc[state.index] = 1
            slots -= 1
        wants = {s.index: s.pages_wanted() for s in active if s.index in alloc}
        for index, want in wants.items():
            if want is not None and slots:
                extra = min(want - 1, slots)
                alloc[index] += extra
                slots -= extra
        open_ended = [i for i, want in wants.items() if want is None]
        for position, index in enumerate(open_ended):
            share = slots // len(open_ended) + (1 if position < slots % len(open_ended) else 0)
            alloc[index] += share
        return [(s, self._pages(s, alloc[s.index])) for s in active if s.index in alloc]

    def _pages(self, state: _ListState, count: int) -> list[tuple[str, str, int]]:
        traits = state.traits
        pages: list[tuple[str, str, int]] = []
        if traits.style in ("single", "raw"):
            key = f"l{state.index}p0"
            return [(key, self._command(state.method, state.params), 0)]
        if traits.style == "classic":
            for page in range(count):
                start = state.offset + page * PAGE_SIZE
                params = {**state.params, "start": start}
                pages.append(
                    (f"l{state.index}p{page}", self._command(state.method, params), start)
                )
            return pages
        id_path = (f"[{traits.wrapper}]" if traits.wrapper else "") + f"[{PAGE_SIZE - 1}]"
        id_path += f"[{traits.id_field}]"
        previous: str | None = None
        for page in range(count):
            key = f"l{state.index}p{page}"
            bound: Any = state.last_id if previous is None else f"$result[{previous}]{id_path}"
            start = 0 if previous is None and not state.first_done else -1
            params = {
                **state.params,
                **(traits.order or {}),
                traits.filter_key: {**state.filter_params, traits.id_filter: bound},
                "start": start,
            }
            pages.append((key, self._command(state.method, params), start))
            previous = key
        return pages

    @staticmethod
    def _command(method: str, params: Mapping[str, Any]) -> str:
        query = build_query(params)
        return f"{method}?{query}" if query else method

    def _consume(
        self, state: _ListState, pages: list[tuple[str, str, int]], outcome: BatchResult
    ) -> None:
        traits = state.traits
        progressed = False
        for position, (key, _command, start) in enumerate(pages):
            if key in outcome.errors:
                error = outcome.errors[key]
                if self._can_wait_for(error, state):
                    break
                raise error
            if key not in outcome.results:
                raise BitrixBadResponse(
                    "batch answer lacks a requested command", method=state.method
                )
            if traits.style == "raw":
                result = outcome.results[key]
                state.add(result if isinstance(result, Mapping) else {"result": result})
                state.done = True
                return
            rows = _rows_of(outcome.results[key], traits.wrapper)
            if traits.style == "single":
                for row in rows:
                    state.add(row)
                state.done = True
                return
            if position == 0 and not state.first_done:
                state.total = outcome.totals.get(key)
                state.first_done = True
            if traits.style == "classic":
                if state.total is not None and start >= state.total:
                    # Old CDBResult lists repeat their last page past the end; ignore it.
                    state.done = True
                    break
                for row in rows:
                    state.add(row)
                state.offset = start + PAGE_SIZE
                progressed = True
                if len(rows) < PAGE_SIZE:
                    state.done = True
                    break
                if state.total is None:
                    following = outcome.nexts.get(key)
                    if following is None or following <= start:
                        state.done = True
                        break
                    state.offset = following
                continue
            # chain
            last = None
            if rows and isinstance(rows[-1], Mapping) and traits.id_field:
                last = as_int(rows[-1].get(traits.id_field))
            if last is None or last <= state.last_id:
                # An empty page, or the last ID did not advance (the filter was ignored, or a
                # reference past the end resolved to garbage): the list is complete.
                state.done = True
                break
            for row in rows:
                state.add(row)
            state.last_id = last
            progressed = True
            if len(rows) < PAGE_SIZE:
                state.done = True
                break
        if state.done:
            return
        if state.wait_until is not None:
            return
        if state.total is not None:
            fetched = state.offset if traits.style == "classic" else len(state.rows)
            if fetched >= state.total:
                state.done = True
                return
        if not progressed:
            # Defensive: a round that fetched nothing must not repeat forever.
            state.done = True

    def _can_wait_for(self, error: BitrixAPIError, state: _ListState) -> bool:
        """For a page that hit OPERATION_TIME_LIMIT: schedule a wait if the reset is near."""
        if not isinstance(error, BitrixOperationTimeLimit) or error.reset_at is None:
            return False
        wait = error.reset_at - self._wall_clock()
        if wait > self._max_operating_wait or state.operating_waits >= _MAX_OPERATING_WAITS:
            return False
        state.operating_waits += 1
        state.wait_until = error.reset_at
        return True

    async def _wait_for_list_resets(self, active: list[_ListState]) -> None:
        waits = [s.wait_until for s in active if s.wait_until is not None]
        if not waits:
            return
        delay = max(waits) - self._wall_clock()
        for state in active:
            state.wait_until = None
        if delay > 0:
            logger.warning(
                "list paused %.1f s until the operating-time budget resets (OPERATION_TIME_LIMIT)",
                delay,
            )
            self.stats.operating_waits += 1
            self.stats.retries += 1
            await self._sleep(delay + 1.0)

    # -- batch ----------------------------------------------------------------------------

    @staticmethod
    def _normalize_commands(
        commands: Mapping[str, tuple[str, Mapping[str, Any] | None] | str]
        | Sequence[tuple[str, Mapping[str, Any] | None] | str],
    ) -> list[tuple[str, str]]:
        pairs: list[tuple[str, Any]]
        if isinstance(commands, Mapping):
            pairs = [(str(k), v) for k, v in commands.items()]
        elif isinstance(commands, str | bytes):
            raise TypeError("commands must be a mapping or a sequence of commands")
        else:
            pairs = [(str(i), v) for i, v in enumerate(commands)]
        items: list[tuple[str, str]] = []
        for key, value in pairs:
            if not key or re.search(r"[\[\]?&=\s$]", key):
                raise ValueError(f"batch key {key!r} must not contain []?&=$ or spaces")
            if isinstance(value, str):
                command = value
            elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
                command = BitrixClient._command(value[0], value[1] or {})
            else:
                raise TypeError(f"batch command {key!r}: expected (method, params) or a string")
            items.append((key, command))
        return items

    async def _batch_chunk(
        self, chunk: Sequence[tuple[str, str]], halt: bool, outcome: BatchResult
    ) -> None:
        cmd = dict(chunk)
        methods = {key: _command_method(command) for key, command in chunk}
        outcome.methods.update(methods)
        payload = await self._send("batch", {"halt": 1 if halt else 0, "cmd": cmd})
        self._envelope("batch", payload)
        body = payload.get("result")
        if not isinstance(body, Mapping):
            body = {}
        results = as_mapping(body.get("result"))
        errors = as_mapping(body.get("result_error"))
        totals = as_mapping(body.get("result_total"))
        nexts = as_mapping(body.get("result_next"))
        times = as_mapping(body.get("result_time"))
        for key in cmd:
            method = methods[key]
            if key in times and isinstance(times[key], Mapping):
                outcome.times[key] = dict(times[key])
                self._note_time(method, times[key])
            if key in errors:
                raw = errors[key]
                body_err = raw if isinstance(raw, Mapping) else {"error": str(raw)}
                outcome.errors[key] = api_error(
                    method, body_err, status=None, reset_at=self._reset_at.get(method)
                )
            elif key in results:
                outcome.results[key] = results[key]
            total = as_int(totals.get(key))
            if total is not None:
                outcome.totals[key] = total
            following = as_int(nexts.get(key))
            if following is not None:
                outcome.nexts[key] = following

    # -- transport -----------------------------------------------------------------------

    def _envelope(self, method: str, payload: Mapping[str, Any]) -> BitrixResponse:
        timing = payload.get("time")
        timing = dict(timing) if isinstance(timing, Mapping) else {}
        self._note_time(method, timing)
        return BitrixResponse(
            result=payload.get("result"),
            total=as_int(payload.get("total")),
            next=as_int(payload.get("next")),
            time=timing,
            method=method.lower(),
        )

    def _note_time(self, method: str, timing: Mapping[str, Any]) -> None:
        name = method.lower()
        operating = _number(timing.get("operating"))
        if operating is not None:
            self.stats.operating[name] = operating
        reset_at = _number(timing.get("operating_reset_at"))
        if reset_at is not None:
            self._reset_at[name] = reset_at

    def _methods_of(self, method: str, body: Mapping[str, Any]) -> list[str]:
        if method.lower() != "batch":
            return [method.lower()]
        commands = as_mapping(body.get("cmd"))
        return sorted({_command_method(c) for c in commands.values() if isinstance(c, str)})

    async def _pace_operating(self, methods: Sequence[str]) -> None:
        """Slow down or wait before calling methods close to their operating-time budget."""
        now = self._wall_clock()
        soft = self._operating_budget * _SLOWDOWN_FROM
        delay = 0.0
        for method in methods:
            used = self.stats.operating.get(method)
            reset_at = self._reset_at.get(method)
            if used is None or used < soft:
                continue
            if reset_at is not None and reset_at <= now:
                continue  # the figure predates the last reset; the next answer refreshes it
            if used >= self._operating_budget:
                if reset_at is not None and reset_at - now <= self._max_operating_wait:
                    delay = max(delay, reset_at - now)
                continue
            fraction = (used - soft) / (self._operating_budget - soft)
            delay = max(delay, _MAX_SLOWDOWN * fraction)
        if delay > 0:
            logger.warning(
                "%s near the operating-time budget; pausing %.1f s", ",".join(methods), delay
            )
            self.stats.operating_waits += 1
            await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * (2.0**attempt))
        return ceiling / 2 + self._rand() * ceiling / 2

    async def _send(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one request with limiter, retries and error mapping; return the JSON payload."""
        read = is_read_method(method, body)
        methods = self._methods_of(method, body)
        attempt = 0
        operating_waits = 0
        while True:
            await self._pace_operating(methods)
            self.stats.throttled_seconds += await self._limiter.acquire()
            outcome = await self._attempt(method, body)
            if not isinstance(outcome, BitrixError):
                return outcome
            error = outcome
            delay: float | None = None
            if isinstance(error, BitrixOperationTimeLimit):
                reset_at = self._reset_at.get(method.lower())
                wait = None if reset_at is None else reset_at - self._wall_clock()
                if (
                    wait is not None
                    and wait <= self._max_operating_wait
                    and operating_waits < _MAX_OPERATING_WAITS
                ):
                    operating_waits += 1
                    self.stats.operating_waits += 1
                    delay = max(0.0, wait) + 1.0
                else:
                    raise BitrixOperationTimeLimit(
                        error.description,
                        method=method,
                        code=error.code,
                        status=error.status,
                        extra=error.extra,
                        reset_at=reset_at,
                    )
            elif attempt < self._max_retries and self._retryable(error, read):
                delay = self._backoff(attempt)
                attempt += 1
                if isinstance(error, BitrixQueryLimitExceeded):
                    self._limiter.saturate()
            if delay is None:
                raise error
            self.stats.retries += 1
            logger.warning(
                "%s failed (%s); retry in %.2f s (%d/%d)",
                method,
                error.code or error.kind,
                delay,
                attempt,
                self._max_retries,
            )
            await self._sleep(delay)

    @staticmethod
    def _retryable(error: BitrixError, read: bool) -> bool:
        if isinstance(error, BitrixQueryLimitExceeded | BitrixConnectError):
            return True
        if isinstance(error, BitrixOverloaded):
            return False
        if isinstance(error, BitrixTransportError | BitrixBadResponse | BitrixServerError):
            return read
        return read and isinstance(error, BitrixAPIError) and (error.status or 0) >= 500

    async def _attempt(self, method: str, body: Mapping[str, Any]) -> dict[str, Any] | BitrixError:
        """One HTTP request. Errors are returned, not raised, so they carry no httpx context."""
        started = self._clock()
        failure: BitrixError | None = None
        response: httpx.Response | None = None
        try:
            response = await self._http.post(method, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            failure = BitrixConnectError(
                f"cannot connect to {self._host}", method=method, cause=self._describe(exc)
            )
        except httpx.TimeoutException as exc:
            failure = BitrixTimeoutError(
                f"no answer within {self._timeout:g} s", method=method, cause=self._describe(exc)
            )
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            failure = BitrixConnectionDropped(
                "connection closed without a complete answer",
                method=method,
                cause=self._describe(exc),
            )
        except httpx.HTTPError as exc:
            failure = BitrixTransportError(
                "request failed", method=method, cause=self._describe(exc)
            )
        elapsed = self._clock() - started
        self.stats.requests += 1
        if failure is not None or response is None:
            logger.debug("%s failed after %.0f ms: %s", method, elapsed * 1000, failure)
            return failure or BitrixTransportError("no response", method=method)
        self.stats.last_latency = elapsed
        commands = len(as_mapping(body.get("cmd"))) if method.lower() == "batch" else 0
        logger.debug(
            "%s %d %.0f ms%s",
            method,
            response.status_code,
            elapsed * 1000,
            f" ({commands} commands)" if commands else "",
        )
        return self._parse(method, response)

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return redact(f"{type(exc).__name__}: {text}", (self._secret,))

    def _parse(self, method: str, response: httpx.Response) -> dict[str, Any] | BitrixError:
        status = response.status_code
        content_type = response.headers.get("content-type")
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            new_host: str | None = None
            if location:
                try:
                    new_host = httpx.URL(location).host or None
                except httpx.InvalidURL:
                    new_host = None
            return BitrixPortalMoved(
                f"redirect to {new_host or 'another address'}",
                method=method,
                status=status,
                location_host=new_host,
            )
        payload: Any = None
        decoded = True
        try:
            payload = json.loads(response.content)
        except ValueError:
            decoded = False
        if not decoded or not isinstance(payload, dict):
            snippet = _html_snippet(response.text) if response.content else "empty body"
            return BitrixBadResponse(
                redact(snippet, (self._secret,)),
                method=method,
                status=status,
                content_type=content_type,
            )
        if "error" in payload and "result" not in payload:
            extra_free = {
                k: redact(v, (self._secret,)) if isinstance(v, str) else v
                for k, v in payload.items()
            }
            return api_error(
                method, extra_free, status=status, reset_at=self._reset_at.get(method.lower())
            )
        if status >= 400 or "result" not in payload:
            return BitrixBadResponse(
                "JSON answer without result or error",
                method=method,
                status=status,
                content_type=content_type,
            )
        return payload
