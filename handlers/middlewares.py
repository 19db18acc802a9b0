"""Middlewares: who may talk to the bot, how often, in which order; Telegram's 429 retried.

Update middlewares, registered as *outer* middlewares on ``dp.update`` in this order (outer ones
run for every update, before any filter; aiogram's own error and user-context middlewares run
before them, so ``event_from_user``/``event_chat`` are known and exceptions reach the error
handler):

1. `AccessMiddleware` — in a group or channel, first the chat: answers there are visible to
   every member, so a chat not in ``ALLOWED_CHAT_IDS`` gets nothing with data, whoever asks
   (admins included), only one polite refusal with the chat's id per ``refusal_interval_s``;
   then the person: ``ALLOWED_USER_IDS``, ``ADMIN_IDS``, and people signed in by phone as an
   active Bitrix24 employee (`bot.identity`; the employee goes to handlers as ``asker``). A
   stranger in a private chat gets the sign-in prompt with the «📱 Поделиться номером»
   button (on /start, and once per ``refusal_interval_s`` otherwise) and nothing else; only
   the contact they share passes, to `handlers.signin`. Without ``LINK_BY_PHONE``, or in a
   group, a stranger gets one polite refusal with their numeric id per
   ``refusal_interval_s``. Someone whose employee was deactivated or removed in Bitrix24 is
   told once that access ended (the link is dropped then). In groups only
   updates meant for the bot (a command, a mention, a reply to it, a button press) are refused
   aloud, so colleagues chatting are not interrupted. Every refused update is logged (user and
   chat id, update type, never the content).
2. `FloodMiddleware` — a token bucket per user (``FLOOD_RATE`` messages per second,
   ``FLOOD_BURST`` at once); over it, the message is dropped with one "слишком часто" per
   ``notice_interval_s``. Button presses count in a bucket of their own, `BUTTON_FACTOR` times
   as generous: paging quickly through the bot's own list is normal use, but a script pressing
   a page button hundreds of times a second is a flood like any other (each press costs an
   edit of the message at Telegram, under the bot's own rate limit).
3. `ChatSequencer` — one update at a time per chat, in arrival order (aiogram runs updates as
   concurrent tasks, so two quick messages could otherwise be answered out of order). Button
   presses that only page through the bot's own message go in a second, per-chat button lane:
   ordered among themselves, never stuck behind a voice note being recognised. Presses that ask
   the brain (clarifying choices) keep their place among the chat's messages; when they have to
   wait, the press is answered at once («Принято…») so the app's spinner stops and Telegram's
   deadline for ``answerCallbackQuery`` is not missed. It also adds the brain's
   ``conversation`` key (and ``query_answered``) to the handler data and tracks work in flight
   so shutdown can wait for it.

Session middleware: `RetryAfterMiddleware` retries a request Telegram refused with 429
(``TelegramRetryAfter``) after the ``retry_after`` it asked for — aiogram does not retry by
itself — a bounded number of times and only for bounded waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, TelegramObject, Update, User

from bot.config import Settings
from bot.identity import Identities, LinkState
from bot.safe_text import printable
from handlers import texts
from handlers.context import conversation_key
from handlers.filters import Addressed
from handlers.signin import signin_keyboard

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
Clock = Callable[[], float]


class _Recent:
    """A bounded map of key → last time, oldest evicted first (strangers, flooders)."""

    def __init__(self, max_size: int) -> None:
        self._items: OrderedDict[int, float] = OrderedDict()
        self._max_size = max_size

    def due(self, key: int, now: float, interval: float) -> bool:
        """Whether ``interval`` has passed since ``key`` was last marked; marks it if so."""
        last = self._items.get(key)
        if last is not None and now - last < interval:
            return False
        self._items[key] = now
        self._items.move_to_end(key)
        while len(self._items) > self._max_size:
            self._items.popitem(last=False)
        return True


async def _tell(bot: Bot, update: Update, text: str, *, alert: bool = False) -> None:
    """Say ``text`` to whoever sent ``update`` (a message, or a button press); never raises."""
    try:
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id, text=text, show_alert=alert)
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, text)
    except TelegramAPIError as error:
        # The person may have blocked the bot, or the button press expired; nothing to do.
        log.info("could not notify user of update %s: %s", update.update_id, error.message)


async def _addressed(bot: Bot, update: Update) -> bool:
    """Whether an update in a group is meant for the bot (a refusal there is then in order)."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None:
        return False
    if (message.text or "").startswith("/"):
        return True
    return bool(await Addressed()(message, bot))


async def _dismiss(bot: Bot, update: Update) -> None:
    """Stop a pressed button's spinner (Telegram requires an answer to every callback query)."""
    if update.callback_query is None:
        return
    try:
        await bot.answer_callback_query(update.callback_query.id)
    except TelegramAPIError as error:
        log.info("could not answer callback of update %s: %s", update.update_id, error.message)


class AccessMiddleware(BaseMiddleware):
    """Lets only allowed users, in private chats or allowed groups, through (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        identities: Identities | None = None,
        refusal_interval_s: float = 3600.0,
        max_tracked: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._settings = settings
        self._identities = identities
        self._interval = refusal_interval_s
        self._refused = _Recent(max_tracked)
        self._refused_chats = _Recent(max_tracked)
        self._clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        bot: Bot = data["bot"]
        in_group = chat is not None and chat.type != "private"
        if chat is not None and in_group and chat.id not in self._settings.allowed_chat_ids:
            await self._refuse_chat(bot, event, chat, user)
            return None
        linked = False
        if user is not None and self._identities is not None:
            check = await self._identities.check(user.id)
            data["asker"] = check.employee
            if check.state is LinkState.REVOKED:
                name = check.employee.full_name if check.employee else "сотрудника"
                text = printable(texts.REVOKED.format(name=name, user_id=user.id))
                await _tell(bot, event, text)
                if not self._settings.is_allowed(user.id):
                    return None
            linked = check.state in (LinkState.ACTIVE, LinkState.UNVERIFIED)
        if user is not None and (linked or self._settings.is_allowed(user.id)):
            return await handler(event, data)
        kind = event.event_type
        if user is None:
            log.info("ignored update %s (%s) without a sender", event.update_id, kind)
            return None
        if (
            self._identities is not None
            and self._settings.link_by_phone
            and not in_group
            and event.message is not None
        ):
            return await self._sign_in(handler, event, data, bot, user)
        log.warning("access refused: user %s, %s update %s", user.id, kind, event.update_id)
        # In a group, strangers chatting among themselves get no refusal (the bot would spam
        # the group); only what is addressed to the bot is answered.
        if (not in_group or await _addressed(bot, event)) and self._refused.due(
            user.id, self._clock(), self._interval
        ):
            if event.callback_query is not None:
                await _tell(bot, event, texts.REFUSAL_SHORT.format(user_id=user.id), alert=True)
            else:
                await _tell(bot, event, texts.REFUSAL.format(user_id=user.id))
        else:
            await _dismiss(bot, event)
        return None

    async def _sign_in(
        self, handler: Handler, update: Update, data: dict[str, Any], bot: Bot, user: User
    ) -> Any:
        """A stranger in a private chat: the shared contact passes, anything else is prompted."""
        message = update.message
        if message is not None and message.contact is not None:
            return await handler(update, data)
        log.warning(
            "access refused: user %s is not signed in (%s update %s); sign-in offered",
            user.id,
            update.event_type,
            update.update_id,
        )
        asked_start = message is not None and (message.text or "").startswith("/start")
        if message is not None and (
            self._refused.due(user.id, self._clock(), self._interval) or asked_start
        ):
            try:
                await bot.send_message(
                    message.chat.id,
                    texts.SIGNIN.format(user_id=user.id),
                    reply_markup=signin_keyboard(),
                )
            except TelegramAPIError as error:
                log.info("could not offer sign-in to user %s: %s", user.id, error.message)
        else:
            await _dismiss(bot, update)
        return None

    async def _refuse_chat(self, bot: Bot, update: Update, chat: Chat, user: User | None) -> None:
        """A group not on ``ALLOWED_CHAT_IDS``: no data, one refusal per chat per interval."""
        kind = update.event_type
        sender = user.id if user is not None else None
        if not await _addressed(bot, update):
            log.info(
                "ignored %s update %s in group %s (not in ALLOWED_CHAT_IDS)",
                kind,
                update.update_id,
                chat.id,
            )
            return
        log.warning(
            "access refused: group %s is not in ALLOWED_CHAT_IDS (user %s, %s update %s)",
            chat.id,
            sender,
            kind,
            update.update_id,
        )
        if not self._refused_chats.due(chat.id, self._clock(), self._interval):
            await _dismiss(bot, update)
        elif update.callback_query is not None:
            await _tell(bot, update, texts.GROUP_REFUSAL_SHORT.format(chat_id=chat.id), alert=True)
        else:
            await _tell(bot, update, texts.GROUP_REFUSAL.format(chat_id=chat.id))


@dataclass
class _Bucket:
    tokens: float
    at: float


BUTTON_FACTOR = 4
"""How much more rate and burst button presses get than messages (see the module docstring)."""


class FloodMiddleware(BaseMiddleware):
    """Per-user token bucket for messages: ``rate`` per second on average, ``burst`` at once."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        notice_interval_s: float = 30.0,
        max_tracked: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("flood control needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._buckets: OrderedDict[tuple[int, bool], _Bucket] = OrderedDict()
        self._noticed = _Recent(max_tracked)
        self._notice_interval = notice_interval_s
        self._max_tracked = max_tracked
        self._clock = clock
        self.dropped = 0

    def _take(self, user_id: int, *, button: bool = False) -> bool:
        now = self._clock()
        factor = BUTTON_FACTOR if button else 1
        burst, rate = self._burst * factor, self._rate * factor
        key = (user_id, button)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(burst, now)
            while len(self._buckets) > self._max_tracked:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        assert isinstance(event, Update)
        button = event.callback_query is not None
        counted = event.message is not None or button
        if user is None or not counted or self._take(user.id, button=button):
            return await handler(event, data)
        self.dropped += 1
        log.info(
            "flood control: dropped %s update %s of user %s",
            event.event_type,
            event.update_id,
            user.id,
        )
        bot: Bot = data["bot"]
        if self._noticed.due(user.id, self._clock(), self._notice_interval):
            await _tell(bot, event, texts.FLOOD)
        return None


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def _always_in_order(query: CallbackQuery) -> bool:
    return True


async def _answer_now(bot: Bot, query: CallbackQuery) -> None:
    """Answer a button press that has to wait its turn; never raises."""
    try:
        await bot.answer_callback_query(query.id, text=texts.BUTTON_QUEUED)
    except TelegramAPIError as error:
        log.info("could not answer a queued button press: %s", error.message)


class ChatSequencer(BaseMiddleware):
    """Runs one chat's updates one at a time, in arrival order; counts work in flight.

    Each chat has two lanes: its messages (and the button presses for which
    ``keeps_message_order`` is true), and its other button presses (see the module docstring).
    aiogram starts a task per update in arrival order; each task reaches this middleware
    without suspending before it, and `asyncio.Lock` wakes waiters first-in first-out, so the
    order per lane is the order of arrival. Locks live only while a lane has work queued.
    """

    def __init__(
        self, *, keeps_message_order: Callable[[CallbackQuery], bool] = _always_in_order
    ) -> None:
        self._keeps_message_order = keeps_message_order
        self._slots: dict[Hashable, _Slot] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._answering: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Updates being handled or waiting for their chat's turn."""
        return self._in_flight

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        data["conversation"] = conversation_key(chat, user)
        chat_key: Hashable = chat.id if chat is not None else ("user", user.id if user else 0)
        query = event.callback_query if isinstance(event, Update) else None
        in_message_order = query is None or self._keeps_message_order(query)
        key: Hashable = chat_key if in_message_order else ("buttons", chat_key)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        elif query is not None and in_message_order:
            # Something runs before this press (maybe a voice note: seconds to minutes), and
            # Telegram drops an unanswered callback query after a short while ("query is too
            # old"). Answered from a task, so this update still queues up without suspending.
            task = asyncio.create_task(_answer_now(data["bot"], query))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
            data["query_answered"] = True
        slot.users += 1
        self._in_flight += 1
        self._idle.clear()
        try:
            async with slot.lock:
                return await handler(event, data)
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[key]
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no update is being handled (at most ``timeout`` s); True if idle."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
                if self._answering:
                    await asyncio.wait(set(self._answering))
        except TimeoutError:
            log.warning(
                "shutdown: %d update(s) still in flight after %.0f s", self._in_flight, timeout
            )
            return False
        return True


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Retries requests Telegram answered with 429, after the ``retry_after`` it asked for.

    At most ``max_retries`` times per request, and only when the wait is at most
    ``max_wait_s`` (a flood wait of minutes means the bot should give up and say so, not hang).
    """

    def __init__(
        self,
        *,
        max_retries: int = 3,
        max_wait_s: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self.retries = 0

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(self.max_retries + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt >= self.max_retries or error.retry_after > self.max_wait_s:
                    raise
                self.retries += 1
                log.warning(
                    "Telegram flood control on %s: retrying in %d s (%d/%d)",
                    type(method).__name__,
                    error.retry_after,
                    attempt + 1,
                    self.max_retries,
                )
                await self._sleep(error.retry_after)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
