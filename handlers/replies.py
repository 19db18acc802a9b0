"""Sending the brain's replies to Telegram: plain text, split, paged, or with choice buttons.

Every reply goes out as plain text (no parse mode): a street called «<Заречная> & Ко_1» or a
transcript with ``*`` or ``_`` can never break a message, and nothing needs escaping. Long
answers are cut under Telegram's 4096 UTF-16 units (`bot.paging.split_text`); long lists are
paged with back/forward buttons (`bot.paging.paginate`); clarifying questions get one button per
option; a write preview gets ✅ / ❌ (`handlers.writes`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyParameters

from bot.brain import Reply
from bot.paging import needs_paging, paginate, split_text
from bot.safe_text import printable
from handlers import texts
from handlers.keyboards import (
    ChoiceSet,
    KeyboardStore,
    PagedList,
    choice_keyboard,
    page_keyboard,
    write_keyboard,
)

log = logging.getLogger(__name__)

MAX_PREVIEWS = 1000
"""Write previews whose message is remembered (one per request; they expire in minutes)."""

NOT_MODIFIED = "message is not modified"
"""Telegram's 400 when an edit changes nothing (a button pressed twice): not an error for us."""


EXPIRED_QUERY = ("query is too old", "query id is invalid")
"""Telegram's 400 for ``answerCallbackQuery`` once the press was answered or timed out (its text
is "query is too old and response timeout expired or query ID is invalid")."""


def is_not_modified(error: TelegramBadRequest) -> bool:
    """Whether Telegram refused an edit only because nothing would change."""
    return NOT_MODIFIED in error.message


def is_expired_query(error: TelegramBadRequest) -> bool:
    """Whether Telegram refused ``answerCallbackQuery`` only because it is too late for it."""
    message = error.message.lower()
    return any(marker in message for marker in EXPIRED_QUERY)


async def answer_query(query: CallbackQuery, text: str | None = None) -> bool:
    """Answer a button press (stops the app's spinner); False if Telegram says it is too late.

    Too late is no failure: the press was answered already (while it waited its turn) or the
    person's app gave up on the spinner; the work behind the press is still done.
    """
    try:
        await query.answer(text)
    except TelegramBadRequest as error:
        if not is_expired_query(error):
            raise
        log.info("button press %s answered too late: %s", query.id, error.message)
        return False
    return True


class Responder:
    """Turns a `Reply` into Telegram messages (see the module docstring)."""

    def __init__(self, keyboards: KeyboardStore) -> None:
        self.keyboards = keyboards
        # Which message shows a write preview, so photos added later update it in place
        # (memory only: after a restart the updated preview is sent as a new message).
        self._previews: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def remember_preview(self, key: str, message: Message) -> None:
        """Note that ``message`` shows the preview under ``key``."""
        self._previews[key] = (message.chat.id, message.message_id)
        while len(self._previews) > MAX_PREVIEWS:
            self._previews.popitem(last=False)

    def preview_message(self, key: str) -> tuple[int, int] | None:
        """(chat id, message id) of the preview under ``key``, if this process sent it."""
        return self._previews.get(key)

    async def send_text(
        self,
        bot: Bot,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
        thread_id: int | None = None,
    ) -> list[Message]:
        """Send any text, split under the limit; ``markup`` goes on the last part.

        Control and bidi-override characters are removed first (`bot.safe_text`): the text may
        quote what a user typed or said, or what someone wrote into the CRM.
        """
        chunks = split_text(printable(text)) or [texts.ERROR]
        sent: list[Message] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            sent.append(
                await bot.send_message(
                    chat_id,
                    chunk,
                    message_thread_id=thread_id,
                    reply_parameters=(
                        ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                        if reply_to is not None and index == 0
                        else None
                    ),
                    reply_markup=markup if last else None,
                )
            )
        return sent

    async def send(
        self,
        bot: Bot,
        chat_id: int,
        reply: Reply,
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> list[Message]:
        """Send ``reply`` to ``chat_id``: a preview with ✅/❌, choice buttons, pages, or split."""
        answer = reply.answer
        if reply.confirm_key:
            sent = await self.send_text(
                bot,
                chat_id,
                reply.text,
                reply_to=reply_to,
                markup=write_keyboard(reply.confirm_key),
                thread_id=thread_id,
            )
            self.remember_preview(reply.confirm_key, sent[-1])
            return sent
        if answer.choices:
            key = self.keyboards.put(ChoiceSet(answer.choices))
            return await self.send_text(
                bot,
                chat_id,
                reply.text,
                reply_to=reply_to,
                markup=choice_keyboard(key, answer.choices),
                thread_id=thread_id,
            )
        if needs_paging(answer.items, reply.text):
            try:
                pages = paginate(
                    answer.header, answer.items, footer=answer.footer, note=reply.stale_note
                )
            except ValueError:
                # A header or note too long to leave room for items: fall back to plain parts.
                log.warning("answer could not be paged; sending it split instead")
            else:
                key = self.keyboards.put(PagedList(tuple(pages)))
                return await self.send_text(
                    bot,
                    chat_id,
                    pages[0],
                    reply_to=reply_to,
                    markup=page_keyboard(key, 0, len(pages)),
                    thread_id=thread_id,
                )
        return await self.send_text(
            bot, chat_id, reply.text, reply_to=reply_to, thread_id=thread_id
        )

    async def show_page(self, message: Message, key: str, page: int) -> bool:
        """Edit a paged message to show ``page``; False when the list has expired."""
        paged = self.keyboards.get(key, PagedList)
        if paged is None:
            return False
        page = max(0, min(page, len(paged.pages) - 1))
        try:
            await message.edit_text(
                printable(paged.pages[page]),
                reply_markup=page_keyboard(key, page, len(paged.pages)),
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                raise
        return True
