"""Filters shared by the routers."""

from __future__ import annotations

import re
from typing import Any

from aiogram import Bot
from aiogram.filters import Filter
from aiogram.types import Message


class Addressed(Filter):
    """Messages meant for the bot; passes the request text on as ``request``.

    In a private chat every message is. In a group (where the bot may see everything when its
    privacy mode is off, which voice notes need) only a reply to one of the bot's messages or a
    message mentioning ``@bot_username`` is; the mention is removed from the request, so
    "@audiobot дома бригады 3" asks "дома бригады 3".
    """

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, Any]:
        text = message.text or message.caption or ""
        if message.chat.type == "private":
            return {"request": text}
        me = await bot.me()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
            return {"request": text}
        if me.username:
            mention = re.compile(rf"@{re.escape(me.username)}\b", re.IGNORECASE)
            if mention.search(text):
                return {"request": " ".join(mention.sub(" ", text).split())}
        return False
