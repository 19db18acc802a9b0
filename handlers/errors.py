"""The last line of defence: any exception → one Russian sentence for the user, a log for us.

The user never sees a stack trace or an exception text; errors of our own trees that carry a
``user_message`` (`bitrix.errors.BitrixError`, `bot.speech.audio.SpeechError`) say what failed,
anything else gets a generic apology. The operator gets one ERROR line with the update id, its
type, the exception and its traceback, with every configured secret (bot token, webhook URL)
and anything shaped like a bot token scrubbed — aiohttp errors quote request URLs, and the Bot
API URL embeds the token.
"""

from __future__ import annotations

import contextlib
import logging
import traceback

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from bot.config import Settings
from bot.logs import SecretFilter
from handlers import texts

log = logging.getLogger(__name__)


def user_message_for(error: BaseException) -> str:
    """What to tell the user about ``error`` (Russian, one sentence or two)."""
    message = getattr(error, "user_message", None)
    if isinstance(message, str) and message:
        return message
    return texts.ERROR


async def on_error(event: ErrorEvent, bot: Bot, settings: Settings) -> bool:
    """Log the failure for the operator and tell the user in one sentence."""
    update = event.update
    error = event.exception
    scrub = SecretFilter(settings.secrets()).scrub
    trace = "".join(traceback.format_exception(error)).rstrip()
    log.error(
        "update %s (%s) failed: %s: %s\n%s",
        update.update_id,
        update.event_type,
        type(error).__name__,
        scrub(str(error)),
        scrub(trace),
    )
    text = user_message_for(error)
    try:
        if update.callback_query is not None:
            query = update.callback_query
            # It may have been answered before the failure; then Telegram says "query is too old".
            with contextlib.suppress(TelegramAPIError):
                await bot.answer_callback_query(query.id, text=texts.ERROR[:200])
            if query.message is not None:
                await bot.send_message(query.message.chat.id, text)
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, text)
    except TelegramAPIError as failure:
        log.warning("could not tell the user about the failure: %s", scrub(str(failure)))
    return True


def create_router() -> Router:
    """The error router (errors bubble up to the dispatcher, so include it there)."""
    router = Router(name=__name__)
    router.errors.register(on_error)
    return router
