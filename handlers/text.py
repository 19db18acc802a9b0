"""Free text → the brain → the answer. Registered last: it takes any text no command took.

Stale updates (the bot was down and Telegram kept the messages, up to a day): they are answered,
never dropped — for a work bot a late answer beats silence, and the answer is computed from
the data as it is now. A message older than `LATE_AFTER_S` first gets a short note, as a reply
to it, saying which message is being answered and why so late.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import UTC
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from bitrix.clock import Clock
from bitrix.models import Employee
from bot.config import Settings
from bot.runtime import Runtime
from handlers import texts
from handlers.context import actor_for
from handlers.filters import Addressed
from handlers.replies import Responder

LATE_AFTER_S = 300.0
"""A message older than this when handled is answered with a "late answer" note."""
TYPING_DELAY_S = 0.25
"""Show "typing…" only if the answer takes longer than this (most take milliseconds)."""


async def answer_request(
    bot: Bot,
    message: Message,
    request: str,
    *,
    runtime: Runtime,
    responder: Responder,
    conversation: Hashable,
    settings: Settings,
    asker: Employee | None = None,
    photos: Sequence[Path] = (),
    typing_delay: float = TYPING_DELAY_S,
) -> None:
    """Ask the brain and send its reply to the message's chat (text, voice, photo captions).

    ``asker``: the employee the sender signed in as (`handlers.middlewares.AccessMiddleware`).
    A write request's preview goes out with ✅/❌ (`handlers.writes`); ``photos`` go with it.
    """
    actor = actor_for(message.from_user, asker, settings)
    chat_id = message.chat.id
    async with ChatActionSender.typing(
        bot=bot,
        chat_id=chat_id,
        message_thread_id=message.message_thread_id,
        initial_sleep=typing_delay,
    ):
        reply = await runtime.assistant.ask(
            request, conversation=conversation, asker=asker, actor=actor, photos=photos
        )
    if photos and not reply.confirm_key:
        # A captioned photo that was a question (or a refused write): its copy has no use.
        for path in photos:
            path.unlink(missing_ok=True)
    await responder.send(bot, chat_id, reply, thread_id=message.message_thread_id)


async def note_if_late(
    bot: Bot, message: Message, *, settings: Settings, responder: Responder, clock: Clock
) -> None:
    """Send the "late answer" note when ``message`` waited longer than `LATE_AFTER_S`."""
    sent_at = message.date if message.date.tzinfo else message.date.replace(tzinfo=UTC)
    # Telegram stamps messages with real time: compare with the real clock, not DEMO_DATE's.
    if (clock.real_utcnow() - sent_at).total_seconds() <= LATE_AFTER_S:
        return
    stamp = sent_at.astimezone(settings.tz).strftime("%d.%m %H:%M")
    await responder.send_text(
        bot,
        message.chat.id,
        texts.LATE.format(time=stamp),
        reply_to=message.message_id,
        thread_id=message.message_thread_id,
    )


async def on_text(
    message: Message,
    *,
    bot: Bot,
    request: str,
    runtime: Runtime,
    settings: Settings,
    responder: Responder,
    conversation: Hashable,
    asker: Employee | None = None,
) -> None:
    """Any text: understood and answered by the brain."""
    await note_if_late(bot, message, settings=settings, responder=responder, clock=runtime.clock)
    await answer_request(
        bot,
        message,
        request,
        runtime=runtime,
        responder=responder,
        conversation=conversation,
        settings=settings,
        asker=asker,
    )


def create_router() -> Router:
    """The free-text router (must be included after every other message router)."""
    router = Router(name=__name__)
    router.message.register(on_text, F.text, Addressed())
    return router
