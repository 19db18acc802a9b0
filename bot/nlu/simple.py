"""Requests that need no company data: help, greetings, thanks, an empty message.

When Bitrix24 is down and nothing is cached, the engine (which is built from the company's
names) cannot run; these requests are still recognised here and answered.
"""

from __future__ import annotations

from bot.nlu.frame import Frame
from bot.nlu.normalize import normalize

_HELP = ("help", "start", "помощь", "помоги", "справка", "что ты умеешь", "что умеешь",
         "что ты можешь", "команды", "как пользоваться")  # fmt: skip
_GREETING = ("привет", "здравствуй", "здравствуйте", "добрый день", "доброе утро",
             "добрый вечер", "спасибо", "благодарю", "пока", "до свидания")  # fmt: skip


def simple_frame(text: str) -> Frame | None:
    """A help, greeting or empty frame for ``text``, or None if it asks for data."""
    normalized = normalize(text)
    said = normalized.text
    if normalized.command in ("help", "start") or said in _HELP or said.startswith(_HELP[3:]):
        return Frame("help", text=text, normalized=said, source="command")
    if not said:
        return Frame("unknown", text=text, normalized="", source="empty")
    if len(said.split()) <= 4 and said.startswith(_GREETING):
        return Frame("greeting", text=text, normalized=said, source="command")
    return None
