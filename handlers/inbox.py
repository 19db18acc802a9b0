"""Every update answered exactly once, across a ``kill -9``: the durable inbox.

Telegram forgets an update once the bot acknowledges it: in polling mode the ``offset`` of the
next getUpdates confirms the whole previous batch, in webhook mode the HTTP 200. aiogram
acknowledges before handling, so a bot killed between the two lost every update in flight.
Here each update is recorded in the state store (`bot.state`, table ``inbox``) *before* it is
acknowledged, marked answered when its handler chain finished, and handled again at the next
start when it was not::

    getUpdates → record the batch (one transaction) → dispatch each → mark answered
                 └ the next getUpdates (offset = acknowledgement) only after the commit
    webhook POST → record → HTTP 200 → dispatch in the background → mark answered
    start → unanswered updates dispatched first, in update_id order; too old ones apologised for

"Answered" means the handler chain returned or raised (a reply, a refusal, the flood notice,
the error sentence: the user heard back either way). An update already in the inbox is a
duplicate (Telegram redelivers what was not confirmed before a kill, and retries webhooks) and
is not dispatched again. The remaining window is between Telegram accepting a reply and the
``answered`` commit (a few milliseconds): a kill exactly there answers that update twice after
the restart; Telegram offers nothing that would make a reply and a local commit atomic.

Resumed updates older than ``INBOX_MAX_AGE_S`` (default an hour), or whose handling already
started `MAX_ATTEMPTS` times (a message that crashes the bot must not crash it forever), get
one short apology (`texts.LOST_ON_RESTART`) instead of an answer computed from stale context;
button presses that old are dropped (their spinner is long gone). Answered rows are kept
`KEEP_ANSWERED_S` (to recognise duplicates) and then pruned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.config import Settings
from bot.state import InboxItem, StateStore
from handlers import texts

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Handling started this many times without an answer: apologise instead of a fourth try."""
KEEP_ANSWERED_S = 24 * 3600.0
"""How long an answered update is remembered (Telegram's redeliveries come within minutes)."""
PRUNE_EVERY_S = 3600.0
"""How often answered rows older than `KEEP_ANSWERED_S` are deleted while the bot runs."""


def update_payload(update: Update) -> dict[str, Any]:
    """An update as Telegram sent it (JSON), to be parsed again with `Update.model_validate`."""
    return update.model_dump(mode="json", exclude_unset=True, by_alias=True)


class InboxDispatcher(Dispatcher):
    """aiogram's `Dispatcher`, recording updates in the inbox before acknowledging them.

    Polling: `_listen_updates` is aiogram's update reader (`Dispatcher._polling` iterates it
    and starts a task per update, in order; `handlers.middlewares.ChatSequencer` keeps each
    chat's order). aiogram offers no hook between "getUpdates returned" and "the next
    getUpdates acknowledges", so the reader is overridden here: it is aiogram's loop (backoff
    included) plus the inbox. Everything else — startup and shutdown hooks, the concurrency
    limit, ``stop_polling`` — stays aiogram's. tests/bot/test_inbox.py fails if aiogram stops
    calling it. Webhook mode records in `handlers.app.WebhookHandler`. Both modes end in
    `feed_update`, which marks the update answered.
    """

    def __init__(
        self,
        *,
        inbox: StateStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings=settings, **kwargs)
        self.inbox = inbox
        self.max_age_s = settings.inbox_max_age_s
        self._settings = settings
        self._clock = clock
        self._pruned_at: float | None = None

    # ------------------------------------------------------------------ recording
    async def record(self, payloads: list[dict[str, Any]]) -> set[int]:
        """Record a batch (one transaction); returns the update ids seen for the first time."""
        new = set(await self.inbox.record_updates(payloads))
        now = time.monotonic()
        if self._pruned_at is None or now - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = now
            pruned = await self.inbox.prune_inbox(KEEP_ANSWERED_S)
            if pruned:
                log.info("inbox: forgot %d answered update(s) older than a day", pruned)
        duplicates = len(payloads) - len(new)
        if duplicates:
            log.info("inbox: %d update(s) already recorded were not dispatched again", duplicates)
        return new

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """Handle the update, then mark it answered (also when a handler raised)."""
        try:
            result = await super().feed_update(bot, update, **kwargs)
        except Exception:
            await self._answered(update.update_id)
            raise
        await self._answered(update.update_id)
        return result

    async def _answered(self, update_id: int) -> None:
        try:
            await self.inbox.mark_answered(update_id)
        except Exception:  # the answer went out; a failed mark only risks a repeat
            log.exception("inbox: could not mark update %s answered", update_id)

    # ------------------------------------------------------------------ resuming
    async def resume(self, bot: Bot) -> list[dict[str, Any]]:
        """The unanswered updates of earlier runs to handle now, oldest first.

        Too old ones (or tried `MAX_ATTEMPTS` times) are apologised for and marked answered
        here instead; each returned one counts one more attempt.
        """
        items = await self.inbox.unanswered()
        if not items:
            return []
        now = self._clock()
        resumed = []
        for item in items:
            too_old = now - item.received_at > self.max_age_s
            if too_old or item.attempts >= MAX_ATTEMPTS:
                await self._apologise(bot, item, too_old=too_old)
                await self.inbox.mark_answered(item.update_id)
            else:
                await self.inbox.start_attempt(item.update_id)
                resumed.append(item.payload)
        log.warning(
            "inbox: %d update(s) unanswered at the last stop; %d handled now, %d apologised for",
            len(items),
            len(resumed),
            len(items) - len(resumed),
        )
        return resumed

    async def _apologise(self, bot: Bot, item: InboxItem, *, too_old: bool) -> None:
        why = "too old" if too_old else f"tried {item.attempts} times"
        message = item.payload.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(chat, dict):
            log.warning("inbox: dropped unanswered update %s (%s)", item.update_id, why)
            return
        chat_id = int(chat["id"])
        if chat.get("type") != "private" and chat_id not in self._settings.allowed_chat_ids:
            log.warning("inbox: dropped update %s of group %s (%s)", item.update_id, chat_id, why)
            return
        sent = datetime.fromtimestamp(float(message.get("date") or item.received_at), tz=UTC)
        stamp = sent.astimezone(self._settings.tz).strftime("%H:%M")
        log.warning("inbox: update %s %s; the sender is asked to repeat", item.update_id, why)
        try:
            await bot.send_message(chat_id, texts.LOST_ON_RESTART.format(time=stamp))
        except TelegramAPIError as error:
            log.info("inbox: could not apologise in chat %s: %s", chat_id, error.message)

    # ------------------------------------------------------------------ polling
    async def _listen_updates(  # type: ignore[override]
        self,
        bot: Bot,
        polling_timeout: int = 30,
        backoff_config: BackoffConfig = DEFAULT_BACKOFF_CONFIG,
        allowed_updates: list[str] | None = None,
    ) -> AsyncGenerator[Update, None]:
        """aiogram's update reader with the inbox (see the class docstring)."""
        for payload in await self.resume(bot):
            yield Update.model_validate(payload, context={"bot": bot})
        backoff = Backoff(config=backoff_config)
        get_updates = GetUpdates(timeout=polling_timeout, allowed_updates=allowed_updates)
        kwargs: dict[str, Any] = {}
        if bot.session.timeout:
            # As aiogram: wait longer than the long poll itself before calling it a timeout.
            kwargs["request_timeout"] = int(bot.session.timeout + polling_timeout)
        failed = False
        while True:
            try:
                updates = await bot(get_updates, **kwargs)
                # Committed before the next getUpdates acknowledges the batch. If this fails
                # (a full disk), the same batch is fetched again after the backoff.
                new = await self.record([update_payload(u) for u in updates])
            except Exception as error:
                failed = True
                log.error("getting or recording updates: %s: %s", type(error).__name__, error)
                await backoff.asleep()
                continue
            if failed:
                log.info("updates flow again (after %d tries)", backoff.counter)
                backoff.reset()
                failed = False
            if updates:
                get_updates.offset = updates[-1].update_id + 1
            for update in updates:
                if update.update_id in new:
                    yield update
