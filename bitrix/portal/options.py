"""Switches of an emulated portal: credentials, scopes, limits, latency and special modes.

A `PortalOptions` instance is read on every request, so a test may change any field while the
portal runs (``portal.options.scopes = {"crm"}``) and the next request sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Scopes a fresh webhook of ours is granted: everything the bot reads and writes (disk: photos
#: attached to tasks).
DEFAULT_SCOPES: frozenset[str] = frozenset(
    {"crm", "user", "department", "task", "calendar", "disk"}
)

#: What `scope?full=true` lists: the scopes a typical cloud portal knows (a realistic subset).
ALL_SCOPES: tuple[str, ...] = (
    "bizproc",
    "calendar",
    "catalog",
    "crm",
    "department",
    "disk",
    "entity",
    "im",
    "imbot",
    "imopenlines",
    "intranet",
    "lists",
    "log",
    "mailservice",
    "placement",
    "sale",
    "sonet_group",
    "task",
    "telephony",
    "timeman",
    "user",
    "user_basic",
    "user_brief",
    "user.userfield",
)


@dataclass
class PortalOptions:
    """How an `EmulatedPortal` behaves. Every switch can be changed at run time.

    Limits default to off so ordinary tests are never throttled; turn them on per test.
    """

    #: The webhook's owner id and secret code: ``/rest/<user_id>/<token>/<method>``.
    user_id: int = 1
    token: str = "demo0webhook0key"
    #: Scopes granted to the webhook (``scope`` lists them; others answer insufficient_scope).
    scopes: set[str] = field(default_factory=lambda: set(DEFAULT_SCOPES))
    #: Whether the webhook owner is a portal administrator (`profile` ``ADMIN``).
    admin: bool = True

    #: Leaky bucket per portal (reference §6.1): each request adds 1, the level drains at
    #: ``bucket_rate`` per second, a request that would lift it above ``bucket_burst`` gets
    #: 503 QUERY_LIMIT_EXCEEDED.
    bucket: bool = False
    bucket_rate: float = 2.0
    bucket_burst: int = 50

    #: Per-method operating-time budget in seconds per 10 minutes (reference §6.2); ``None``
    #: is off (time is still accounted and reported as ``operating``).
    operating_budget: float | None = None
    #: Simulated execution seconds charged per call, so a test can exhaust a budget in a few
    #: calls; ``None`` charges the real measured time (under 0.1 s it is not recorded, as on
    #: the real portal). ``operating_costs`` overrides it per method (lower-case name).
    operating_cost: float | None = None
    operating_costs: dict[str, float] = field(default_factory=dict)

    #: Seconds added before every answer (network latency of a remote portal).
    latency: float = 0.0
    #: Answer every call with INVALID_REQUEST "Https required." (a webhook used over http).
    https_required: bool = False
    #: "Portal moved": when set (e.g. ``"https://new.bitrix24.ru"``), every request gets a
    #: 302 redirect to the same path on that base URL.
    moved_to: str | None = None

    #: Wall clock in Unix seconds: the bucket, the operating windows and ``time.start``.
    #: Inject a `ManualClock` so tests never sleep.
    clock: Callable[[], float] = time.time
