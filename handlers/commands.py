"""Commands: /start, /help, /health (admins only), and the command menu (/forget and /digest
are in `handlers.signin`)."""

from __future__ import annotations

import logging
from collections.abc import Hashable

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandStart
from aiogram.types import BotCommand, Message
from aiogram.utils.chat_action import ChatActionSender

from bitrix.models import Employee
from bot.answers import EXAMPLES
from bot.config import Settings
from bot.health import render_health
from bot.nlu.frame import Frame
from bot.runtime import Runtime
from handlers import texts
from handlers.replies import Responder
from handlers.signin import signin_keyboard

log = logging.getLogger(__name__)

MENU_LANGUAGES = ("ru", None)
"""The menu is set for Russian clients and as the default: every user of this bot reads Russian,
whatever language their Telegram app is in."""


async def set_menu(bot: Bot) -> None:
    """Publish the command menu (setMyCommands); a failure is logged, not fatal."""
    commands = [BotCommand(command=name, description=text) for name, text in texts.COMMANDS]
    for language in MENU_LANGUAGES:
        try:
            await bot.set_my_commands(commands, language_code=language)
        except TelegramAPIError as error:
            log.warning("could not set the command menu (%s): %s", language or "default", error)


async def on_start(
    message: Message,
    bot: Bot,
    responder: Responder,
    settings: Settings,
    asker: Employee | None = None,
) -> None:
    """Greeting with a few example requests; the sign-in button for those not signed in.

    (Strangers never get here: the access middleware offers them sign-in instead. This is
    for admins and allow-listed users, who may sign in too, for «мои задачи» and the digest.)
    """
    await responder.send_text(
        bot,
        message.chat.id,
        "\n\n".join((texts.START, texts.START_EXAMPLES)),
        thread_id=message.message_thread_id,
    )
    if asker is None and settings.link_by_phone and message.chat.type == "private":
        await bot.send_message(
            message.chat.id, texts.SIGNIN_OPTIONAL, reply_markup=signin_keyboard()
        )


async def on_help(
    message: Message,
    *,
    bot: Bot,
    runtime: Runtime,
    responder: Responder,
    conversation: Hashable,
) -> None:
    """The brain's own help answer (its example phrases), plus how voice works."""
    reply = await runtime.assistant.choose(
        Frame("help", text="/help", source="command"), conversation=conversation
    )
    if reply.error:
        # No company data at all: the brain says so, but help must still help.
        body = "\n".join(["Примеры вопросов:", *(f"• «{e}»" for e in EXAMPLES)])
    else:
        body = reply.text
    await responder.send_text(
        bot, message.chat.id, f"{body}\n\n{texts.HELP_VOICE}", thread_id=message.message_thread_id
    )


async def on_health(
    message: Message,
    *,
    bot: Bot,
    runtime: Runtime,
    settings: Settings,
    responder: Responder,
) -> None:
    """Health report for admins; everyone else is told it is admin-only."""
    user = message.from_user
    if user is None or not settings.is_admin(user.id):
        log.info("/health refused for user %s (not an admin)", user.id if user else None)
        await responder.send_text(bot, message.chat.id, texts.ADMIN_ONLY)
        return
    async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id):
        report = await runtime.health()
    await responder.send_text(
        bot, message.chat.id, render_health(report), thread_id=message.message_thread_id
    )


def create_router() -> Router:
    """The command router (before the voice and free-text routers)."""
    router = Router(name=__name__)
    router.message.register(on_start, CommandStart())
    router.message.register(on_help, Command("help"))
    router.message.register(on_health, Command("health"))
    return router
