"""Writes into Bitrix24 in Telegram: ✅ / ❌ under a preview, and photos for a report.

The brain makes the preview (`bot.actions`, through `Assistant.ask`); this module only adapts
Telegram to it:

- ✅ / ❌ (`handlers.keyboards.WriteButton`): the key in the button is the state store's, so a
  press after a restart still works, and pressing twice, a retried callback or a second replica
  cannot write twice (`Actions.confirm` claims the key once). Only the person who asked may
  confirm; everybody else hears so and nothing changes. The press is answered at once
  («Записываю…»); the result comes as a reply to the preview, whose buttons are removed once
  the request is settled (written, cancelled, expired) and kept when ✅ again makes sense.
- Photos: a photo with a caption is a request with that photo (the caption is the text); a
  photo without a caption joins the sender's newest preview if it was made within
  ``PHOTO_WINDOW_S`` (voice note first, photos right after), and the preview is updated.
  Photos are saved to ``PHOTO_DIR`` until written (Telegram's file ids are per bot and files
  may disappear from its servers, so the bytes are kept, not the ids).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Hashable
from pathlib import Path

import aiohttp
from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNetworkError
from aiogram.types import CallbackQuery, Message

from bitrix.models import Employee
from bot.config import Settings
from bot.runtime import Runtime
from bot.safe_text import printable
from handlers import texts
from handlers.callbacks import CALLBACK_TEXT_LIMIT
from handlers.context import actor_for
from handlers.filters import Addressed
from handlers.keyboards import WriteButton, write_keyboard
from handlers.replies import Responder, answer_query, is_not_modified
from handlers.text import answer_request, note_if_late
from handlers.voice import MAX_DOWNLOAD_BYTES

log = logging.getLogger(__name__)

PHOTO_DOWNLOAD_TIMEOUT_S = 60
"""Whole-download timeout for one photo (Telegram's largest size is a few MB)."""


async def on_write_button(
    query: CallbackQuery,
    *,
    callback_data: WriteButton,
    bot: Bot,
    runtime: Runtime,
    settings: Settings,
    responder: Responder,
    asker: Employee | None = None,
    query_answered: bool = False,
) -> None:
    """✅ writes the preview once; ❌ drops it (see the module docstring)."""
    actions = runtime.assistant.actions
    actor = actor_for(query.from_user, asker, settings)
    message = query.message if isinstance(query.message, Message) else None
    if actions is None or actor is None:
        await answer_query(query, texts.LIST_EXPIRED)
        return
    if callback_data.yes:
        started = False

        async def starting() -> None:
            nonlocal started
            started = True
            if not query_answered:
                await answer_query(query, texts.WRITING)

        outcome = await actions.confirm(callback_data.key, actor, started=starting)
    else:
        started = False
        outcome = await actions.cancel(callback_data.key, actor)
    if outcome.kind in ("busy", "done"):
        # A second press, a retried callback, a second replica: a toast at most, no message.
        if not query_answered:
            await answer_query(query, outcome.text[:CALLBACK_TEXT_LIMIT])
        log.info("write %s: repeated press (%s)", callback_data.key, outcome.kind)
        return
    if not started and not query_answered:
        await answer_query(query, outcome.text[:CALLBACK_TEXT_LIMIT])
        if outcome.kind == "foreign":
            return  # the toast told them; the preview stays for its owner
    if message is None:
        return
    if outcome.final:
        await _drop_buttons(message)
    await responder.send_text(
        bot,
        message.chat.id,
        outcome.text,
        reply_to=message.message_id,
        thread_id=message.message_thread_id,
    )


async def on_photo(
    message: Message,
    *,
    bot: Bot,
    runtime: Runtime,
    settings: Settings,
    responder: Responder,
    conversation: Hashable,
    asker: Employee | None = None,
) -> None:
    """A photo: a request with its caption, or an addition to the newest preview."""
    chat_id = message.chat.id
    thread_id = message.message_thread_id
    await note_if_late(bot, message, settings=settings, responder=responder, clock=runtime.clock)
    path = await _save_photo(bot, message, settings.photo_dir)
    if path is None:
        await responder.send_text(bot, chat_id, texts.PHOTO_FAILED, thread_id=thread_id)
        return
    caption = (message.caption or "").strip()
    if caption:
        await answer_request(
            bot,
            message,
            caption,
            runtime=runtime,
            responder=responder,
            conversation=conversation,
            settings=settings,
            asker=asker,
            photos=(path,),
        )
        return
    actions = runtime.assistant.actions
    actor = actor_for(message.from_user, asker, settings)
    proposal = None
    if actions is not None and actor is not None and actor.may_write:
        proposal = await actions.attach(actor, (path,))
    if proposal is None:
        path.unlink(missing_ok=True)
        await responder.send_text(bot, chat_id, texts.PHOTO_WITHOUT_REPORT, thread_id=thread_id)
        return
    shown = responder.preview_message(proposal.key)
    if shown is not None:
        try:
            await bot.edit_message_text(
                printable(proposal.text),
                chat_id=shown[0],
                message_id=shown[1],
                reply_markup=write_keyboard(proposal.key),
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                log.info("could not update preview %s: %s", proposal.key, error.message)
                shown = None
    if shown is None:
        # Sent by an earlier run (or the edit failed): show the updated preview anew.
        sent = await responder.send_text(
            bot, chat_id, proposal.text, markup=write_keyboard(proposal.key), thread_id=thread_id
        )
        responder.remember_preview(proposal.key, sent[-1])
        return
    await responder.send_text(
        bot, chat_id, texts.PHOTOS_ADDED, reply_to=shown[1], thread_id=thread_id
    )


async def _save_photo(bot: Bot, message: Message, directory: Path) -> Path | None:
    """The largest size of the message's photo, saved under ``directory``; None on failure."""
    if not message.photo:
        return None
    largest = message.photo[-1]  # Telegram lists the sizes smallest first
    if largest.file_size is not None and largest.file_size > MAX_DOWNLOAD_BYTES:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{secrets.token_hex(8)}.jpg"
    try:
        await bot.download(largest.file_id, destination=path, timeout=PHOTO_DOWNLOAD_TIMEOUT_S)
    except (TelegramAPIError, TelegramNetworkError, aiohttp.ClientError, TimeoutError, OSError):
        log.warning("photo of message %s could not be downloaded", message.message_id)
        path.unlink(missing_ok=True)
        return None
    return path


async def _drop_buttons(message: Message) -> None:
    try:
        await message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            log.info("could not remove preview buttons: %s", error.message)


def create_router() -> Router:
    """The write router: ✅/❌ presses and photos (before the free-text router)."""
    router = Router(name=__name__)
    router.callback_query.register(on_write_button, WriteButton.filter())
    router.message.register(on_photo, F.photo, Addressed())
    return router
