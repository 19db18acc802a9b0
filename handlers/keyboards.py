"""Inline buttons and the server-side state behind them.

Telegram gives a button at most 64 bytes of ``callback_data`` (and Cyrillic costs two bytes a
letter), so a button carries only a short random key and a number; the list pages or the
clarifying choices it refers to stay here, in a bounded LRU with a time limit. A pressed button
whose key has expired (restart, old message) gets a polite "ask again".
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.nlu.frame import Choice
from handlers import texts

MAX_ENTRIES = 500
"""Stored lists and questions; a paged list of 500 houses is ~20 KB, so this bounds memory."""
TTL_S = 24 * 3600.0
"""A day: long enough to page through yesterday's list, short enough to not answer stale data."""
BUTTON_LABEL_LIMIT = 60
"""Characters shown on a choice button before it is shortened (long labels wrap badly)."""


class PageButton(CallbackData, prefix="pg"):
    """A list page button: ``pg:<key>:<page>`` (page numbers from 0)."""

    key: str
    page: int


class ChoiceButton(CallbackData, prefix="ch"):
    """A clarifying choice: ``ch:<key>:<index>``."""

    key: str
    index: int


class WriteButton(CallbackData, prefix="wr"):
    """✅ / ❌ under a write preview: ``wr:<key>:<1|0>`` (the key is the state store's, so the
    buttons keep working after a restart, unlike lists and choices)."""

    key: str
    yes: bool


def asks_the_brain(query: CallbackQuery) -> bool:
    """Whether a button press must keep its place among the chat's messages.

    A clarifying choice is a request to the brain and becomes the conversation's context, so it
    is answered after the messages sent before it (`handlers.middlewares.ChatSequencer`). Page
    buttons only edit the bot's own message and are answered at once, even while a voice note is
    being recognised.
    """
    prefixes = tuple(
        f"{button.__prefix__}{button.__separator__}" for button in (ChoiceButton, WriteButton)
    )
    # A ✅ must come after the photos sent before it, so it waits its turn like a message.
    return (query.data or "").startswith(prefixes)


@dataclass(frozen=True)
class PagedList:
    """A list answer laid out as pages."""

    pages: tuple[str, ...]


@dataclass(frozen=True)
class ChoiceSet:
    """A clarifying question's options (the buttons stay usable: one may try each option)."""

    choices: tuple[Choice, ...]


Entry = PagedList | ChoiceSet
E = TypeVar("E", PagedList, ChoiceSet)


class KeyboardStore:
    """Bounded, expiring storage of what inline buttons refer to (see the module docstring)."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, entry: Entry) -> str:
        """Store ``entry``; returns its key (8 URL-safe characters)."""
        key = secrets.token_urlsafe(6)
        while key in self._entries:  # pragma: no cover - 48 random bits
            key = secrets.token_urlsafe(6)
        self._entries[key] = (self._clock(), entry)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return key

    def get(self, key: str, kind: type[E]) -> E | None:
        """The entry under ``key`` if it exists, has not expired and is of ``kind``."""
        found = self._entries.get(key)
        if found is None:
            return None
        stored_at, entry = found
        if self._clock() - stored_at > self._ttl_s:
            del self._entries[key]
            return None
        if not isinstance(entry, kind):
            return None
        self._entries.move_to_end(key)
        return entry

    def drop(self, key: str) -> None:
        """Forget ``key`` (e.g. a question once answered)."""
        self._entries.pop(key, None)


def page_keyboard(key: str, page: int, total: int) -> InlineKeyboardMarkup | None:
    """Back / forward buttons for page ``page`` (from 0) of ``total``; None for a single page."""
    if total <= 1:
        return None
    builder = InlineKeyboardBuilder()
    if page > 0:
        builder.button(text=texts.PREVIOUS, callback_data=PageButton(key=key, page=page - 1))
    if page < total - 1:
        builder.button(text=texts.NEXT, callback_data=PageButton(key=key, page=page + 1))
    return builder.as_markup()


def write_keyboard(key: str) -> InlineKeyboardMarkup:
    """✅ Записать / ❌ Отмена under a write preview."""
    builder = InlineKeyboardBuilder()
    builder.button(text=texts.WRITE_YES, callback_data=WriteButton(key=key, yes=True))
    builder.button(text=texts.WRITE_NO, callback_data=WriteButton(key=key, yes=False))
    return builder.as_markup()


def choice_keyboard(key: str, choices: tuple[Choice, ...]) -> InlineKeyboardMarkup:
    """One button per option, each on its own row (labels are addresses and names)."""
    builder = InlineKeyboardBuilder()
    for index, choice in enumerate(choices):
        label = choice.label
        if len(label) > BUTTON_LABEL_LIMIT:
            label = label[: BUTTON_LABEL_LIMIT - 1] + "…"
        builder.button(
            text=f"{index + 1}. {label}", callback_data=ChoiceButton(key=key, index=index)
        )
    builder.adjust(1)
    return builder.as_markup()
