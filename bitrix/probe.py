"""A real round trip to Bitrix24: is the portal reachable, is the webhook valid, which scopes.

Used by `/health`, `GET /api/health` and `audiobot check-bitrix`. The earlier system's health
check only looked at whether a variable was set; this one calls the portal (`scope`, which
every webhook may call) and measures the latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bitrix.client import BitrixClient
from bitrix.errors import BitrixError

#: The scopes AudioBot needs and what each gives it (for messages to the portal admin).
NEEDED_SCOPES: dict[str, str] = {
    "crm": "дома (сделки), управляющие компании, поля",
    "user": "сотрудники",
    "department": "подразделения и бригады",
    "task": "задачи",
    "calendar": "календарь",
}

#: Scopes the write intents (confirmed writes into Bitrix24) need and what each lets the bot
#: write. A missing one disables only those writes: they are reported apart from
#: `NEEDED_SCOPES` and never make `ProbeResult.ok` false. Comment photos travel inside
#: ``crm.timeline.comment.add`` (FILES), so ``disk`` is needed only for files attached to tasks.
WRITE_SCOPES: dict[str, str] = {
    "crm": "комментарии и фото в карточке дома",
    "task": "задачи по дому",
    "calendar": "события календаря",
    "disk": "фото, приложенные к задачам (Диск)",
}


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe."""

    reachable: bool
    latency_s: float | None
    granted: tuple[str, ...] | None
    error: BitrixError | None

    @property
    def missing(self) -> tuple[str, ...]:
        """Needed scopes the webhook lacks (empty when unknown)."""
        if self.granted is None:
            return ()
        return tuple(s for s in NEEDED_SCOPES if s not in self.granted)

    @property
    def missing_for_writes(self) -> tuple[str, ...]:
        """Write scopes (`WRITE_SCOPES`) the webhook lacks (empty when unknown)."""
        if self.granted is None:
            return ()
        return tuple(s for s in WRITE_SCOPES if s not in self.granted)

    @property
    def ok(self) -> bool:
        """Reachable, accepted, and every needed scope granted."""
        return self.reachable and self.error is None and not self.missing


async def probe_portal(client: BitrixClient) -> ProbeResult:
    """Call `scope` once and report reachability, latency and the granted scopes."""
    started = time.perf_counter()
    try:
        response = await client.call("scope")
    except BitrixError as exc:
        answered = getattr(exc, "status", None) is not None
        return ProbeResult(
            reachable=answered,
            latency_s=time.perf_counter() - started if answered else None,
            granted=None,
            error=exc,
        )
    latency = time.perf_counter() - started
    result = response.result
    granted = tuple(str(s) for s in result) if isinstance(result, list) else ()
    return ProbeResult(reachable=True, latency_s=latency, granted=granted, error=None)
