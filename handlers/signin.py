"""Sign-in by phone (docs/telegram-setup.md, 2a): the shared contact, /forget, and /digest on|off.

An unknown user is sent the sign-in prompt by `handlers.middlewares.AccessMiddleware`; the
contact they share with its button arrives here. Only the sender's own contact is accepted
(``contact.user_id == from.id``, not forwarded): Telegram fills ``user_id`` only when the
contact is a Telegram user, and the button shares the sender's own verified number, so a
forwarded card, someone else's contact or a number typed as a contact are all refused and
nothing is linked. The phone number is never logged (`bot.identity` logs ids only).
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bitrix.models import Employee
from bot.config import Settings
from bot.digest import PREFERENCE
from bot.identity import Identities, LinkOutcome
from bot.safe_text import printable
from handlers import texts

log = logging.getLogger(__name__)


def signin_keyboard() -> ReplyKeyboardMarkup:
    """The reply keyboard with the one «📱 Поделиться номером» button (request_contact)."""
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=texts.SIGNIN_BUTTON, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def _details(employee: Employee) -> str:
    parts = [employee.position] if employee.position else []
    if employee.brigade is not None:
        parts.append(f"бригада {employee.brigade}")
    return f" ({', '.join(parts)})" if parts else ""


async def on_contact(
    message: Message, *, bot: Bot, identities: Identities, settings: Settings
) -> None:
    """A shared contact: link the sender if it is their own number of an active employee."""
    user = message.from_user
    contact = message.contact
    if user is None or contact is None or message.chat.type != "private":
        return
    own = contact.user_id == user.id and message.forward_origin is None
    if not own:
        log.warning("sign-in refused: Telegram user %s shared a contact not their own", user.id)
        await message.answer(texts.SIGNIN_NOT_OWN, reply_markup=signin_keyboard())
        return
    if not settings.link_by_phone:
        await message.answer(texts.SIGNIN_OFF.format(user_id=user.id))
        return
    result = await identities.link_by_phone(user.id, contact.phone_number)
    if result.outcome is LinkOutcome.LINKED:
        employee = result.employee
        assert employee is not None
        # The name and position come from the CRM: no control or bidi characters reach Telegram.
        text = printable(
            texts.SIGNIN_LINKED.format(name=employee.full_name, details=_details(employee))
        )
        await message.answer(text, reply_markup=ReplyKeyboardRemove())
    elif result.outcome is LinkOutcome.SEVERAL:
        await message.answer(
            texts.SIGNIN_SEVERAL.format(user_id=user.id), reply_markup=ReplyKeyboardRemove()
        )
    elif result.outcome is LinkOutcome.UNAVAILABLE:
        await message.answer(texts.SIGNIN_UNAVAILABLE, reply_markup=signin_keyboard())
    else:
        await message.answer(
            texts.SIGNIN_NO_MATCH.format(user_id=user.id), reply_markup=ReplyKeyboardRemove()
        )


async def on_forget(message: Message, *, identities: Identities) -> None:
    """/forget: sign out (the link is removed; the next message gets the sign-in prompt)."""
    user = message.from_user
    if user is None:
        return
    removed = await identities.forget(user.id)
    await message.answer(
        texts.FORGOTTEN if removed else texts.NOT_LINKED, reply_markup=ReplyKeyboardRemove()
    )


async def on_digest(
    message: Message,
    command: CommandObject,
    *,
    identities: Identities,
    settings: Settings,
    asker: Employee | None = None,
) -> None:
    """/digest on|off: the morning digest for this user; /digest alone shows its state."""
    user = message.from_user
    if user is None:
        return
    if asker is None:
        await message.answer(texts.DIGEST_NOT_LINKED)
        return
    argument = (command.args or "").strip().lower()
    state = identities.state
    if argument in ("on", "вкл", "включить"):
        await state.set_preference(user.id, PREFERENCE, "on")
        await message.answer(texts.DIGEST_ON.format(time=settings.digest_time.strftime("%H:%M")))
    elif argument in ("off", "выкл", "выключить"):
        await state.set_preference(user.id, PREFERENCE, "off")
        await message.answer(texts.DIGEST_OFF)
    else:
        current = await state.preference(user.id, PREFERENCE)
        label = "выключена" if current == "off" else "включена"
        await message.answer(texts.DIGEST_STATUS.format(state=label))


def create_router() -> Router:
    """The sign-in router (after the commands, before voice and free text)."""
    router = Router(name=__name__)
    router.message.register(on_contact, F.contact)
    router.message.register(on_forget, Command("forget"))
    router.message.register(on_digest, Command("digest"))
    return router
