"""Inline buttons: list pages and clarifying choices.

Every callback query is answered (``answerCallbackQuery``) before anything slow happens, since
the person's app shows a spinner until then; a button whose state has expired says so. A press
that had to wait its turn behind other work in the chat was answered already by
`handlers.middlewares.ChatSequencer` (``query_answered``); Telegram's "query is too old" is no
error either (`handlers.replies.answer_query`).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.runtime import Runtime
from handlers import texts
from handlers.keyboards import ChoiceButton, ChoiceSet, KeyboardStore, PageButton, PagedList
from handlers.replies import Responder, answer_query

log = logging.getLogger(__name__)

CALLBACK_TEXT_LIMIT = 200
"""``answerCallbackQuery.text``: at most 200 characters."""


async def on_page(
    query: CallbackQuery,
    *,
    callback_data: PageButton,
    keyboards: KeyboardStore,
    responder: Responder,
) -> None:
    """Show another page of a list in the same message."""
    message = query.message
    if not isinstance(message, Message) or keyboards.get(callback_data.key, PagedList) is None:
        await answer_query(query, texts.LIST_EXPIRED)
        return
    await answer_query(query)
    await responder.show_page(message, callback_data.key, callback_data.page)


async def on_choice(
    query: CallbackQuery,
    *,
    callback_data: ChoiceButton,
    bot: Bot,
    runtime: Runtime,
    keyboards: KeyboardStore,
    responder: Responder,
    conversation: Hashable,
    query_answered: bool = False,
) -> None:
    """Answer the option chosen for a clarifying question."""
    message = query.message
    options = keyboards.get(callback_data.key, ChoiceSet)
    if options is None or message is None or not 0 <= callback_data.index < len(options.choices):
        if not query_answered:
            await answer_query(query, texts.CHOICE_EXPIRED)
        elif message is not None:
            # The press was acknowledged while it waited; the toast is gone, so say it here.
            await responder.send_text(bot, message.chat.id, texts.CHOICE_EXPIRED)
        return
    choice = options.choices[callback_data.index]
    if not query_answered:
        await answer_query(query, choice.label[:CALLBACK_TEXT_LIMIT])
    chat_id = message.chat.id
    async with ChatActionSender.typing(bot=bot, chat_id=chat_id, initial_sleep=0.25):
        reply = await runtime.assistant.choose(choice.frame, conversation=conversation)
    await responder.send(bot, chat_id, reply)


async def on_unknown_button(query: CallbackQuery) -> None:
    """A button from an older version of the bot: stop the spinner and say it is outdated."""
    log.info("unknown button data from user %s", query.from_user.id)
    await answer_query(query, texts.LIST_EXPIRED)


def create_router() -> Router:
    """The callback-query router."""
    router = Router(name=__name__)
    router.callback_query.register(on_page, PageButton.filter())
    router.callback_query.register(on_choice, ChoiceButton.filter())
    router.callback_query.register(on_unknown_button)
    return router
