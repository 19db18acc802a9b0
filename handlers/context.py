"""What handlers receive besides the event: the typed workflow-data keys, and conversation keys.

aiogram injects dispatcher workflow data (``Dispatcher(runtime=..., settings=..., ...)``) and
whatever middlewares add into handler parameters by name. `BotData` documents those keys in one
place, the way aiogram's own ``dispatcher/middlewares/data.py`` does.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, TypedDict

from bot.actions import Actor

if TYPE_CHECKING:
    from aiogram.types import Chat, User

    from bitrix.models import Employee
    from bot.config import Settings
    from bot.identity import Identities
    from bot.runtime import Runtime
    from handlers.keyboards import KeyboardStore
    from handlers.replies import Responder
    from handlers.voice import VoicePipeline


class BotData(TypedDict):
    """Workflow data of the AudioBot dispatcher (set once in `handlers.app.create_dispatcher`)."""

    runtime: Runtime
    """The wired brain: Bitrix24 client, company cache, assistant, speech service."""
    settings: Settings
    """All configuration (access lists, flood limits, voice limits, time zone)."""
    keyboards: KeyboardStore
    """Server-side state behind inline buttons (list pages, clarifying choices), bounded."""
    responder: Responder
    """Sends the brain's replies: splitting, paging, choice buttons."""
    voice: VoicePipeline
    """Checks, downloads and transcribes voice notes."""
    identities: Identities
    """Sign-in by phone: links between Telegram users and Bitrix24 employees."""


class UpdateData(TypedDict, total=False):
    """Keys the AudioBot middlewares add for each update."""

    asker: Employee | None
    """The active employee the sender signed in as by phone; None when not signed in."""
    conversation: Hashable
    """The brain's conversation key: the chat id, or ``(chat id, user id)`` in groups."""
    query_answered: bool
    """A button press already answered (``answerCallbackQuery``) because it had to wait its
    turn behind other work in the chat; absent otherwise."""


def conversation_key(chat: Chat | None, user: User | None) -> Hashable:
    """The conversation a message belongs to.

    In a private chat the chat is the person. In a group several people talk at once, and one
    person's follow-up ("а завтра?") must not pick up another's context, so the key is the pair.
    """
    if chat is None:
        return ("user", user.id if user is not None else 0)
    if chat.type == "private" or user is None:
        return chat.id
    return (chat.id, user.id)


def actor_for(user: User | None, asker: Employee | None, settings: Settings) -> Actor | None:
    """Who a Telegram user is when asking for a write (SPEC §9).

    Linked employees write as themselves; admins may write without a link; anyone else who got
    past access (``ALLOWED_USER_IDS`` only) is an actor who may not write, so they hear why.
    """
    if user is None:
        return None
    admin = settings.is_admin(user.id)
    if asker is not None:
        name = f"{asker.full_name} (Telegram {user.id})"
    elif admin:
        name = f"администратор {user.full_name} (Telegram {user.id})"
    else:
        name = f"{user.full_name} (Telegram {user.id})"
    may_write = settings.write_enabled and (asker is not None or admin)
    return Actor(f"tg:{user.id}", name, asker, may_write=may_write)
