"""What a REST method implementation of the emulated portal receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bitrix.portal.options import PortalOptions
from bitrix.portal.store import PortalStore

Params = dict[str, Any]
#: Runs one `batch` sub-command: ``(method, params) -> envelope``; raises `RestError`.
SubCall = Callable[[str, Params], dict[str, Any]]


@dataclass
class CallContext:
    """The portal state one method call sees."""

    store: PortalStore
    options: PortalOptions
    #: Unix seconds when the call started (the injected clock).
    now: float
    tz: ZoneInfo
    #: The ``start`` parameter, ``intval``'d and removed from the params as CRestServer does.
    start: int = 0
    #: True for a `batch` sub-command.
    in_batch: bool = False
    #: Set only for `batch` itself: how it runs its sub-commands.
    subcall: SubCall | None = None

    @property
    def moment(self) -> datetime:
        """``now`` as an aware datetime in the portal's time zone."""
        return datetime.fromtimestamp(self.now, self.tz)


@dataclass
class MethodOutput:
    """A method's answer: ``result`` plus the list keys ``total``/``next`` (``None`` = absent)."""

    result: Any
    total: int | None = None
    next: int | None = None


Handler = Callable[[CallContext, Params], MethodOutput]


@dataclass(frozen=True)
class MethodSpec:
    """A REST method: its handler and the scopes any one of which grants it.

    ``scopes=None`` is the basic/global scope every webhook has. ``metered=False`` keeps the
    call out of operating-time accounting (only `batch`: its sub-calls are metered instead).
    """

    name: str
    handler: Handler
    scopes: frozenset[str] | None = None
    metered: bool = True
