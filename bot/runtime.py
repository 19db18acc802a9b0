"""Everything a command needs, built once from `Settings` and passed in — no globals.

`Runtime.create` connects to Bitrix24 (or, when `BITRIX_WEBHOOK_URL` is not set, starts the
embedded emulated portal with the demo company in a background thread and says so once on
stderr), wires the client, loader, snapshot cache, assistant and state store (`bot.state`),
and optionally loads the speech model. `audiobot ask`, `chat`, `run` and the HTTP API all use it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from bitrix.cache import CompanyCache
from bitrix.client import BitrixClient
from bitrix.clock import Clock
from bitrix.company import MappingOptions
from bitrix.demo import build_demo_store
from bitrix.errors import BitrixConfigError
from bitrix.loader import CompanyLoader
from bitrix.portal import PortalOptions, PortalThread
from bitrix.writes import BitrixWriter
from bot.actions import Actions
from bot.brain import Assistant
from bot.config import Settings
from bot.health import HealthReport, collect_health
from bot.speech.models import resolve_model_path
from bot.speech.service import SpeechService
from bot.state import StateStore, open_state

log = logging.getLogger(__name__)

#: Raises `BitrixConfigError` for a malformed webhook URL.
validate_webhook = BitrixClient.parse_webhook

#: Seconds a health probe waits for Bitrix24 before calling it unreachable.
PROBE_TIMEOUT = 5.0
#: Seconds a health report is reused (monitors may poll often; the portal's budget is shared).
HEALTH_CACHE_SECONDS = 10.0

EMBEDDED_NOTICE = (
    "BITRIX_WEBHOOK_URL is not set: using the embedded emulated Bitrix24 portal with the demo "
    "company ({url_host}). Set BITRIX_WEBHOOK_URL to use your portal."
)


def mapping_options(settings: Settings) -> MappingOptions:
    """The field-mapping configuration from settings."""
    return MappingOptions(
        category_id=settings.bitrix_houses_category_id,
        pipeline_name=settings.bitrix_houses_pipeline_name,
        brigade_source=settings.bitrix_brigade_source,
        overrides=settings.field_overrides,
    )


def start_embedded_portal(
    settings: Settings, *, clock: Clock, notice: TextIO | Literal["stderr"] | None = "stderr"
) -> PortalThread:
    """Start the demo portal, dated around ``clock``'s today, on a free loopback port.

    ``notice`` is where the one-line notice goes: ``"stderr"`` is `sys.stderr` *as it is at
    the call* (a default of ``sys.stderr`` itself would keep the stream of import time).
    """
    if notice == "stderr":
        notice = sys.stderr
    store = build_demo_store(clock.today(), timezone=settings.timezone)
    portal = PortalThread(store, PortalOptions())
    url = portal.start("127.0.0.1", 0)
    if notice is not None:
        host = url.split("/rest/", 1)[0]
        print(EMBEDDED_NOTICE.format(url_host=host), file=notice)
    return portal


def snapshot_path(settings: Settings, webhook_url: str) -> Path:
    """Where the last good snapshot of this portal lives (one file per portal and webhook)."""
    digest = hashlib.sha256(webhook_url.encode()).hexdigest()[:12]
    return settings.cache_dir / f"company-{digest}.json"


@dataclass
class Runtime:
    """The wired application (see the module docstring)."""

    settings: Settings
    #: The product's one clock; everything that needs "now" or "today" got it from here.
    clock: Clock
    client: BitrixClient
    probe_client: BitrixClient
    loader: CompanyLoader
    cache: CompanyCache
    assistant: Assistant
    speech: SpeechService | None = None
    portal: PortalThread | None = None
    #: Links, preferences, marks, confirmations, journal; opened on first use.
    state: StateStore = field(default_factory=lambda: open_state("sqlite:///:memory:"))
    started_at: float = field(default_factory=time.monotonic)
    #: How long a health report is reused (tests that change the portal's state use 0).
    health_cache_seconds: float = HEALTH_CACHE_SECONDS
    _health: tuple[float, HealthReport] | None = field(default=None, repr=False)
    _health_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        speech: bool = False,
        notice: TextIO | Literal["stderr"] | None = "stderr",
        clock: Clock | None = None,
    ) -> Runtime:
        """Wire everything; ``speech`` loads the Vosk model too (seconds, in a thread).

        ``clock`` is the product's one clock (tests pass a `FixedClock`); by default the
        machine's, shifted to ``DEMO_DATE`` when that is set.
        """
        clock = clock or settings.clock()
        portal = None
        if settings.bitrix_webhook_url is None:
            portal = await asyncio.to_thread(
                start_embedded_portal, settings, clock=clock, notice=notice
            )
            webhook = portal.webhook_url
            path = None  # the demo company is regenerated on every start; nothing to keep
        else:
            webhook = settings.bitrix_webhook_url.get_secret_value()
            path = snapshot_path(settings, webhook)
        try:
            validate_webhook(webhook)  # before anything starts
        except BitrixConfigError:
            if portal is not None:
                await asyncio.to_thread(portal.stop)
            raise
        client = BitrixClient(
            webhook,
            rate=settings.bitrix_rate,
            burst=settings.bitrix_burst,
            timeout=settings.bitrix_timeout,
        )
        # Health checks must answer fast when Bitrix24 is down (monitors time out in seconds):
        # a second client that never retries, sharing the same leaky bucket.
        probe_client = BitrixClient(
            webhook,
            timeout=min(settings.bitrix_timeout, PROBE_TIMEOUT),
            max_retries=0,
            limiter=client.limiter,
        )
        options = mapping_options(settings)
        loader = CompanyLoader(client, tz=settings.tz, options=options, clock=clock)
        cache = CompanyCache(
            loader.fetch,
            tz=settings.tz,
            options=options,
            clock=clock,
            ttl=settings.bitrix_cache_ttl,
            path=path,
        )
        state = open_state(settings.state_url)
        actions = Actions(
            state=state,
            writer=BitrixWriter(client),
            tz=settings.tz,
            now=clock.now,
            portal_url=webhook,
            enabled=settings.write_enabled,
            confirm_ttl_s=settings.confirm_ttl,
            photo_window_s=settings.photo_window_s,
            problem_responsible_id=settings.problem_responsible_id,
            calendar_section_id=settings.bitrix_calendar_section_id,
            photo_folder_id=settings.bitrix_photo_folder_id,
        )
        # What was just written shows up in the next answers: refresh the snapshot now.
        actions.on_written = actions.refresh_soon(cache.refresh)
        assistant = Assistant(cache, tz=settings.tz, actions=actions)
        service = None
        if speech:
            service = await asyncio.to_thread(
                SpeechService.from_settings,
                settings,
                reuse_recognizers=settings.speech_reuse_recognizers,
            )
        return cls(
            settings=settings,
            clock=clock,
            client=client,
            probe_client=probe_client,
            loader=loader,
            cache=cache,
            assistant=assistant,
            speech=service,
            portal=portal,
            state=state,
        )

    @property
    def embedded(self) -> bool:
        """Whether the embedded demo portal stands in for Bitrix24."""
        return self.portal is not None

    async def health(self) -> HealthReport:
        """The health report, probing Bitrix24 at most every `HEALTH_CACHE_SECONDS`.

        `/api/health` is open to monitors: without this, a burst of checks would spend the
        portal's request budget that the bot needs (one probe in flight, a short-lived cache).
        """
        async with self._health_lock:
            cached = self._health
            if cached is not None and time.monotonic() - cached[0] < self.health_cache_seconds:
                return cached[1]
            report = await collect_health(
                client=self.probe_client,
                cache=self.cache,
                speech=self.speech,
                started_at=self.started_at,
                embedded_portal=self.embedded,
                model_path=resolve_model_path(self.settings),
            )
            self._health = (time.monotonic(), report)
            return report

    async def load_speech(self) -> SpeechService:
        """Load the speech model now if this command has not (the chat's first ``/voice``)."""
        if self.speech is None:
            self.speech = await asyncio.to_thread(
                SpeechService.from_settings,
                self.settings,
                reuse_recognizers=self.settings.speech_reuse_recognizers,
            )
            self._health = None  # the next report must say what was just loaded
        return self.speech

    async def aclose(self) -> None:
        """Stop background work and release connections, the model and the portal."""
        if self.assistant.actions is not None:
            await self.assistant.actions.drain()
        await self.cache.stop()
        await self.state.close()
        await self.client.aclose()
        await self.probe_client.aclose()
        if self.speech is not None:
            self.speech.close()
        if self.portal is not None:
            await asyncio.to_thread(self.portal.stop)
