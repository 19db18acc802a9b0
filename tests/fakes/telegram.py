"""A fake Telegram Bot API server on loopback, for end-to-end tests with a real aiogram bot.

The fake speaks enough of the Bot API for ``Dispatcher.start_polling`` to run against it
unchanged, records every request, and lets a test play the users::

    async with FakeTelegram(token="42:TEST") as fake:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
        bot = Bot("42:TEST", session=session)
        async with run_polling(fake, dispatcher, bot):
            sent = await fake.send_text(111, "/start")
            [reply] = await fake.wait_for_messages(111, 1, since=sent.message_id)
            assert reply.text.startswith("Привет")

What it emulates (see ``FakeTelegram`` for the list of methods): long-polling ``getUpdates``
with offset confirmation, message sending and editing with Telegram's own validation (text
length after entity parsing, HTML / MarkdownV2 / Markdown parse errors, ``callback_data`` byte
limit, "message is not modified"), ``getFile`` with the 20 MB limit and the file download URL,
fault and latency injection, holding a method's requests (``pause``), and the error envelope
``{"ok": false, "error_code": ..., "description": ...}`` with the HTTP status equal to
``error_code``.

Errors. The fake answers bot requests with Telegram's error envelopes (aiogram turns them into
``TelegramBadRequest``, ``TelegramRetryAfter``, ...). Towards the test it raises::

    Exception
     +-- AssertionError      a wait (wait_for, wait_for_messages, ...) timed out; the message
     |                       lists every request, bot message and pending update seen so far
     +-- LookupError         the test referred to a message, file or button that does not exist
     +-- ValueError
          +-- EntityParseError   text that Telegram would reject ("can't parse entities: ...")

The HTML, MarkdownV2 and Markdown parsers are written here rather than taken from a library:
Python's ``html.parser`` is lenient by design and cannot report the errors Telegram reports,
and no maintained package reproduces Telegram's (tdlib's) entity parser and its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiohttp import web

T = TypeVar("T")

JSON = dict[str, Any]

MAX_MESSAGE_LENGTH = 4096
"""``sendMessage.text`` / ``editMessageText.text``: 1-4096 characters after entity parsing."""
MAX_CALLBACK_DATA_BYTES = 64
"""``InlineKeyboardButton.callback_data``: 1-64 bytes (UTF-8)."""
MAX_CALLBACK_ANSWER_LENGTH = 200
"""``answerCallbackQuery.text``: 0-200 characters."""
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
"""Bots may download files of up to 20 MB through the cloud Bot API."""
MAX_COMMANDS = 100
"""``setMyCommands.commands``: at most 100."""

DOWNLOAD = "download"
"""Pseudo method name under which file downloads are recorded and can be faulted."""

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Parameters that are free text or file references: never JSON-decoded, so that a message
# "42" or "true" stays a string. Everything else arriving as a form string is JSON-decoded,
# because aiogram JSON-encodes every non-string value (ints, booleans, objects, lists).
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "caption_parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "action",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "photo",
        "audio",
        "document",
        "video",
        "voice",
        "video_note",
        "sticker",
        "animation",
        "thumbnail",
        "certificate",
    }
)

_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------------------------
# Entity parsing (Telegram's parse modes)
# --------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Text that Telegram rejects with "Bad Request: can't parse entities: <message>"."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    # Telegram reports parse errors at UTF-8 byte offsets of the original text.
    return len(text[:index].encode("utf-8"))


class _Output:
    """Plain text being built by a parser, tracking its UTF-16 length for entity offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[JSON] = []

    def emit(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.length += utf16_len(chunk)

    def add_entity(self, kind: str, start: int, **extra: Any) -> None:
        # Telegram silently drops empty entities.
        if self.length > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.length - start, **extra}
            )

    def result(self) -> tuple[str, list[JSON]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{1,10}));")


def _decode_html_entity(text: str, index: int) -> tuple[str, int] | None:
    """Decode the entity at ``text[index] == "&"``: (character, consumed) or None if literal."""
    match = _HTML_ENTITY_RE.match(text, index)
    if match is None:
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        char = _HTML_NAMED_ENTITIES.get(name.lower())
        return None if char is None else (char, match.end() - index)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - index


def _html_unescape(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        decoded = _decode_html_entity(value, index) if value[index] == "&" else None
        if decoded is None:
            out.append(value[index])
            index += 1
        else:
            out.append(decoded[0])
            index += decoded[1]
    return "".join(out)


@dataclass
class _OpenTag:
    name: str
    attributes: dict[str, str]
    start: int


def _html_entity_for(tag: _OpenTag, out: _Output) -> None:
    kind = _HTML_TAGS[tag.name]
    if kind == "text_link":
        url = tag.attributes.get("href", "")
        user = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if user is not None:
            out.add_entity("text_mention", tag.start, user={"id": int(user.group(1))})
        elif url:
            out.add_entity("text_link", tag.start, url=url)
    elif kind == "code":
        language = tag.attributes.get("class", "")
        if language.startswith("language-"):
            out.add_entity("code", tag.start, language=language.removeprefix("language-"))
        else:
            out.add_entity("code", tag.start)
    elif kind == "pre":
        # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
        inner = [
            e
            for e in out.entities
            if e["type"] == "code"
            and e["offset"] == tag.start
            and e["offset"] + e["length"] == out.length
        ]
        pre_language = next((e["language"] for e in inner if "language" in e), None)
        for entity in inner:
            out.entities.remove(entity)
        if pre_language is None:
            out.add_entity("pre", tag.start)
        else:
            out.add_entity("pre", tag.start, language=pre_language)
    elif kind == "blockquote":
        expandable = "expandable" in tag.attributes
        out.add_entity("expandable_blockquote" if expandable else "blockquote", tag.start)
    elif kind == "custom_emoji":
        out.add_entity("custom_emoji", tag.start, custom_emoji_id=tag.attributes["emoji-id"])
    else:
        out.add_entity(kind, tag.start)


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML parse mode: (plain text, entities with UTF-16 offsets).

    Follows tdlib's rules: only Telegram's tags, ``&lt; &gt; &amp; &quot;`` and numeric
    entities (any other ``&`` stays literal), every tag closed in order. Raises
    ``EntityParseError`` with Telegram's wording, e.g. ``Unsupported start tag "br" at byte
    offset 5``.
    """
    out = _Output()
    stack: list[_OpenTag] = []
    size = len(text)
    index = 0
    while index < size:
        char = text[index]
        if char == "&":
            decoded = _decode_html_entity(text, index)
            if decoded is None:
                out.emit("&")
                index += 1
            else:
                out.emit(decoded[0])
                index += decoded[1]
            continue
        if char != "<":
            out.emit(char)
            index += 1
            continue
        begin = index
        if index + 1 < size and text[index + 1] == "/":
            end = text.find(">", index + 2)
            if end == -1:
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            name = text[index + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            tag = stack.pop()
            if name != tag.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{tag.name}>", found "</{name}>"'
                )
            _html_entity_for(tag, out)
            index = end + 1
            continue
        index = _parse_html_start_tag(text, begin, out.length, stack)
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    for entity in out.entities:
        # A language belongs to pre only; a code tag outside pre just loses its class.
        if entity["type"] == "code":
            entity.pop("language", None)
    return out.result()


def _parse_html_start_tag(text: str, begin: int, start: int, stack: list[_OpenTag]) -> int:
    """Parse the start tag at ``text[begin] == "<"``, push it, return the index after it."""
    size = len(text)
    unclosed = f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
    index = begin + 1
    while index < size and not text[index].isspace() and text[index] != ">":
        index += 1
    if index >= size:
        raise EntityParseError(unclosed)
    name = text[begin + 1 : index].lower()
    if name not in _HTML_TAGS:
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
        )
    attributes: dict[str, str] = {}
    while True:
        while index < size and text[index].isspace():
            index += 1
        if index >= size:
            raise EntityParseError(unclosed)
        if text[index] == ">":
            index += 1
            break
        name_end = index
        while name_end < size and (
            (text[name_end].isascii() and text[name_end].isalnum()) or text[name_end] in "-_"
        ):
            name_end += 1
        attribute = text[index:name_end].lower()
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{name}" at byte offset '
                f"{_byte_offset(text, index)}"
            )
        index = name_end
        while index < size and text[index].isspace():
            index += 1
        if index >= size:
            raise EntityParseError(unclosed)
        if text[index] != "=":
            if name == "blockquote" and attribute == "expandable":
                attributes[attribute] = ""
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                f"at byte offset {_byte_offset(text, index)}"
            )
        index += 1
        while index < size and text[index].isspace():
            index += 1
        if index >= size:
            raise EntityParseError(unclosed)
        if text[index] in "\"'":
            quote = text[index]
            value_end = text.find(quote, index + 1)
            if value_end == -1:
                raise EntityParseError(unclosed)
            attributes[attribute] = _html_unescape(text[index + 1 : value_end])
            index = value_end + 1
        else:
            value_end = index
            while value_end < size and not text[value_end].isspace() and text[value_end] != ">":
                value_end += 1
            attributes[attribute] = _html_unescape(text[index:value_end])
            index = value_end
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError('Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not attributes.get("emoji-id"):
        raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
    stack.append(_OpenTag(name=name, attributes=attributes, start=start))
    return index


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


@dataclass
class _OpenMarker:
    kind: str
    start: int
    begin: int
    language: str | None = None


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's MarkdownV2 parse mode: (plain text, entities with UTF-16 offsets).

    Every character of ``_*[]()~`>#+-=|{}.!`` outside an entity marker must be escaped with a
    backslash, otherwise ``EntityParseError("Character '.' is reserved and must be escaped
    with the preceding '\\'")`` -- the error that a Russian address like "д. 5-а" triggers.
    Custom emoji (``![..](tg://emoji?id=..)``) and expandable quotes are not emulated.
    """
    out = _Output()
    stack: list[_OpenMarker] = []
    quote_start: int | None = None
    size = len(text)
    index = 0
    while index < size:
        char = text[index]
        top = stack[-1] if stack else None
        if char == "\\" and index + 1 < size and 0 < ord(text[index + 1]) <= 126:
            out.emit(text[index + 1])
            index += 2
            continue
        if top is not None and top.kind in {"code", "pre"}:
            if top.kind == "pre" and text.startswith("```", index):
                stack.pop()
                if top.language:
                    out.add_entity("pre", top.start, language=top.language)
                else:
                    out.add_entity("pre", top.start)
                index += 3
            elif top.kind == "code" and char == "`":
                stack.pop()
                out.add_entity("code", top.start)
                index += 1
            else:
                out.emit(char)
                index += 1
            continue
        at_line_start = index == 0 or text[index - 1] == "\n"
        if char == "\n" and quote_start is not None and not text.startswith(">", index + 1):
            out.add_entity("blockquote", quote_start)
            quote_start = None
        if char not in _MDV2_RESERVED:
            out.emit(char)
            index += 1
            continue
        # A marker closes the innermost open entity of its kind, else it opens a new one.
        if top is not None and top.kind == "bold" and char == "*":
            stack.pop()
            out.add_entity("bold", top.start)
            index += 1
        elif top is not None and top.kind == "underline" and text.startswith("__", index):
            stack.pop()
            out.add_entity("underline", top.start)
            index += 2
        elif top is not None and top.kind == "italic" and char == "_":
            stack.pop()
            out.add_entity("italic", top.start)
            index += 1
        elif top is not None and top.kind == "strikethrough" and char == "~":
            stack.pop()
            out.add_entity("strikethrough", top.start)
            index += 1
        elif top is not None and top.kind == "spoiler" and text.startswith("||", index):
            stack.pop()
            out.add_entity("spoiler", top.start)
            index += 2
        elif top is not None and top.kind == "text_link" and char == "]":
            stack.pop()
            index = _parse_mdv2_url(text, index + 1, top, out)
        elif char == "*":
            stack.append(_OpenMarker("bold", out.length, index))
            index += 1
        elif char == "_":
            if text.startswith("__", index):
                stack.append(_OpenMarker("underline", out.length, index))
                index += 2
            else:
                stack.append(_OpenMarker("italic", out.length, index))
                index += 1
        elif char == "~":
            stack.append(_OpenMarker("strikethrough", out.length, index))
            index += 1
        elif char == "|" and text.startswith("||", index):
            stack.append(_OpenMarker("spoiler", out.length, index))
            index += 2
        elif char == "[":
            stack.append(_OpenMarker("text_link", out.length, index))
            index += 1
        elif char == "`" and text.startswith("```", index):
            line_end = text.find("\n", index + 3)
            language = text[index + 3 : line_end].strip() if line_end != -1 else ""
            marker = _OpenMarker("pre", out.length, index, language or None)
            stack.append(marker)
            index = line_end + 1 if line_end != -1 and language else index + 3
        elif char == "`":
            stack.append(_OpenMarker("code", out.length, index))
            index += 1
        elif char == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.length
            index += 1
        else:
            raise EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        marker = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[marker.kind]} entity at byte offset "
            f"{_byte_offset(text, marker.begin)}"
        )
    if quote_start is not None:
        out.add_entity("blockquote", quote_start)
    return out.result()


def _parse_mdv2_url(text: str, index: int, marker: _OpenMarker, out: _Output) -> int:
    """After ``]`` of a MarkdownV2 link: read ``(url)``, add the entity, return the next index."""
    if index >= len(text) or text[index] != "(":
        # "[text]" without a URL is plain text in Telegram.
        return index
    url: list[str] = []
    cursor = index + 1
    while cursor < len(text) and text[cursor] != ")":
        if text[cursor] == "\\" and cursor + 1 < len(text):
            cursor += 1
        url.append(text[cursor])
        cursor += 1
    if cursor >= len(text):
        raise EntityParseError(
            f"Can't find end of a URL at byte offset {_byte_offset(text, index + 1)}"
        )
    target = "".join(url)
    user = re.fullmatch(r"tg://user\?id=(\d+)", target)
    if user is not None:
        out.add_entity("text_mention", marker.start, user={"id": int(user.group(1))})
    elif target:
        out.add_entity("text_link", marker.start, url=target)
    return cursor + 1


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's legacy Markdown parse mode (``*bold*``, ``_italic_``, code, links).

    Entities cannot nest; an unclosed marker raises ``EntityParseError("Can't find end of the
    entity starting at byte offset N")``.
    """
    out = _Output()
    size = len(text)
    index = 0
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while index < size:
        char = text[index]
        if char == "\\" and index + 1 < size and text[index + 1] in "_*`[":
            out.emit(text[index + 1])
            index += 2
            continue
        if char not in "_*`[":
            out.emit(char)
            index += 1
            continue
        unclosed = (
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, index)}"
        )
        start = out.length
        if char == "[":
            end = text.find("]", index + 1)
            if end == -1:
                raise EntityParseError(unclosed)
            out.emit(text[index + 1 : end])
            index = end + 1
            if text.startswith("(", index):
                url_end = text.find(")", index)
                if url_end == -1:
                    raise EntityParseError(unclosed)
                out.add_entity("text_link", start, url=text[index + 1 : url_end])
                index = url_end + 1
            continue
        if text.startswith("```", index):
            end = text.find("```", index + 3)
            if end == -1:
                raise EntityParseError(unclosed)
            out.emit(text[index + 3 : end])
            out.add_entity("pre", start)
            index = end + 3
            continue
        end = text.find(char, index + 1)
        if end == -1:
            raise EntityParseError(unclosed)
        out.emit(text[index + 1 : end])
        out.add_entity(kinds[char], start)
        index = end + 1
    return out.result()


_PARSERS: dict[str, Callable[[str], tuple[str, list[JSON]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


# --------------------------------------------------------------------------------------------
# Records and state visible to tests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (the bot uploaded a file)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One request the bot made, recorded on arrival and completed when answered.

    ``method`` is the canonical Bot API name (``sendMessage``), or ``DOWNLOAD`` for a file
    download. ``params`` are decoded into Python values: query string, form fields and JSON
    body merged; JSON-encoded form values (aiogram encodes every non-string value) decoded.
    ``status`` and ``response`` stay ``None`` while the request is pending (e.g. a long poll).
    """

    index: int
    method: str
    params: JSON
    ts: float
    http_method: str
    status: int | None = None
    response: JSON | None = None
    completed_ts: float | None = None

    @property
    def completed(self) -> bool:
        """Whether the fake has answered this request."""
        return self.status is not None

    @property
    def ok(self) -> bool:
        """Whether the request was answered with ``"ok": true``."""
        return self.response is not None and bool(self.response.get("ok"))

    def summary(self, width: int = 160) -> str:
        """One line for failure reports."""
        params = json.dumps(self.params, ensure_ascii=False, default=repr)
        if len(params) > width:
            params = params[: width - 3] + "..."
        if self.response is None:
            outcome = "pending"
        elif self.response.get("ok"):
            outcome = f"{self.status} ok"
        else:
            outcome = f"{self.status} {self.response.get('description')!r}"
        return f"#{self.index} {self.method} {params} -> {outcome}"


@dataclass
class FakeFile:
    """A file users can send; ``size`` is what Telegram reports (may exceed ``len(data)``)."""

    file_id: str
    file_unique_id: str
    data: bytes
    size: int
    kind: str
    file_name: str | None = None
    mime_type: str | None = None
    file_path: str | None = None


@dataclass(frozen=True)
class MessageVersion:
    """A past state of a bot message, kept when the message is edited."""

    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[JSON]
    reply_markup: JSON | None
    edit_date: int | None


@dataclass
class BotMessage:
    """A message the bot sent, in its current state (edits applied, deletion flagged).

    ``text`` is the plain text users see (after entity parsing); ``raw_text`` is what the bot
    sent; ``entities`` are Telegram's entities (from ``entities`` or from the parse mode).
    ``reply_markup`` is the markup as sent (any kind); only an inline keyboard is shown back in
    the ``Message`` object and can be edited or pressed.
    """

    message_id: int
    chat: JSON
    sender: JSON
    date: int
    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[JSON]
    reply_markup: JSON | None
    reply_to_message: JSON | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[MessageVersion] = field(default_factory=list)
    request_index: int = 0

    @property
    def chat_id(self) -> int:
        """The chat this message is in."""
        return int(self.chat["id"])

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        """Rows of inline buttons currently attached (empty if none)."""
        if self.reply_markup is None:
            return []
        rows = self.reply_markup.get("inline_keyboard")
        return list(rows) if isinstance(rows, list) else []

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """Inline buttons as ``(text, callback_data)``, row by row."""
        return [
            (str(button.get("text")), button.get("callback_data"))
            for row in self.inline_keyboard
            for button in row
        ]

    def to_json(self) -> JSON:
        """The Bot API ``Message`` object for this message's current state."""
        message: JSON = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
            "text": self.text,
        }
        if self.entities:
            message["entities"] = self.entities
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.reply_to_message is not None:
            message["reply_to_message"] = self.reply_to_message
        if self.inline_keyboard:
            message["reply_markup"] = {"inline_keyboard": self.inline_keyboard}
        return message


@dataclass(frozen=True)
class UserEvent:
    """What a simulated user did: the update queued for the bot and the ids it carries."""

    update_id: int
    chat_id: int
    user_id: int
    update: JSON
    message_id: int | None = None
    callback_query_id: str | None = None


class _ApiError(Exception):
    """An error answer to the bot, rendered as Telegram's envelope."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class _Fault:
    status: int
    description: str
    parameters: JSON | None


def _decode_param(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _int_param(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad_request(f"wrong parameter {name} in request")
    try:
        return int(value)
    except ValueError:
        raise _bad_request(f"wrong parameter {name} in request") from None


def _required_int(params: Mapping[str, Any], name: str) -> int:
    value = _int_param(params, name)
    if value is None:
        raise _bad_request(f"{name} is empty")
    return value


def _chat_type(chat_id: int, user_id: int) -> str:
    if chat_id == user_id:
        return "private"
    # Supergroup and channel ids are -100xxxxxxxxxx; basic groups are small negatives.
    return "supergroup" if chat_id < -1_000_000_000_000 else "group"


_FILE_DIRS = {
    "voice": ("voice", ".oga"),
    "audio": ("music", ".mp3"),
    "video_note": ("video_notes", ".mp4"),
    "document": ("documents", ""),
    "photo": ("photos", ".jpg"),
}


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """Fake Bot API server on 127.0.0.1 (free port); use as ``async with FakeTelegram() as fake``.

    Bot side (``POST|GET /bot<token>/<method>``, ``GET /file/bot<token>/<file_path>``):
    getMe, getUpdates, deleteWebhook, setWebhook, getWebhookInfo, setMyCommands,
    getMyCommands, deleteMyCommands, sendMessage, editMessageText, editMessageReplyMarkup,
    answerCallbackQuery, sendChatAction, deleteMessage, getFile and the file download. Any
    other method answers 404 (aiogram: ``TelegramNotFound``); a wrong token answers 401.

    Args:
        token: the bot token the fake accepts; ``<digits>:<secret>``, the digits are the bot id.
        bot_username: ``username`` returned by getMe and used in ``@mentions``.
        hold_updates: if true, updates the test creates are held until ``release_updates()``
            (to control exactly what one getUpdates batch contains); by default they are
            visible to the next getUpdates at once.
        known_chats_only: if true (default), sending to a chat no user has written from (and
            not added with ``add_user``) answers 400 "chat not found", as Telegram does.
    """

    def __init__(
        self,
        token: str = "42:TEST",
        *,
        bot_username: str = "audiobot_test_bot",
        bot_first_name: str = "AudioBot",
        hold_updates: bool = False,
        known_chats_only: bool = True,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            msg = "token must look like '<digits>:<secret>'"
            raise ValueError(msg)
        self._token = token
        self.bot_id = int(bot_id)
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.hold_updates = hold_updates
        self.known_chats_only = known_chats_only

        self._cond = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self._requests: list[RecordedRequest] = []
        self._queue: list[JSON] = []
        self._held: list[JSON] = []
        #: Updates delivered once more whatever the offset (`redeliver`).
        self._replays: list[JSON] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._parked_polls = 0
        self.delivery_counts: Counter[int] = Counter()
        """How many getUpdates answers carried each update_id (1 each when offsets work)."""
        self.confirmed_update_ids: list[int] = []
        """Update ids the bot confirmed with ``offset``, in confirmation order."""
        self.dropped_updates: list[JSON] = []
        """Updates discarded because their type was not in the bot's ``allowed_updates``."""
        self.allowed_updates: list[str] | None = None
        """The last ``allowed_updates`` the bot sent (None: all types)."""
        self.webhook_url = ""

        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._bot_messages: dict[tuple[int, int], BotMessage] = {}
        self._bot_message_order: list[BotMessage] = []
        self._files: dict[str, FakeFile] = {}
        self._files_by_path: dict[str, FakeFile] = {}
        self._file_counter = 0
        self._callbacks: dict[str, JSON] = {}
        self.callback_answers: dict[str, JSON] = {}
        """``answerCallbackQuery`` params by callback query id."""
        self._callback_counter = 0
        self._commands: dict[tuple[str, str], list[JSON]] = {}

        self._faults: dict[str, list[_Fault]] = {}
        self._latency: dict[str | None, float] = {}
        self._paused: set[str] = set()
        self._pause_generation = 0

        self._methods: dict[str, tuple[str, Callable[[JSON], Awaitable[Any]]]] = {
            name.lower(): (name, handler)
            for name, handler in (
                ("getMe", self._get_me),
                ("getUpdates", self._get_updates),
                ("deleteWebhook", self._delete_webhook),
                ("setWebhook", self._set_webhook),
                ("getWebhookInfo", self._get_webhook_info),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("sendMessage", self._send_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("answerCallbackQuery", self._answer_callback_query),
                ("sendChatAction", self._send_chat_action),
                ("deleteMessage", self._delete_message),
                ("getFile", self._get_file),
            )
        }

    def __repr__(self) -> str:
        # Never show the token: house rule for secrets, even a test one.
        where = self.base_url if self._port is not None else "not started"
        return f"<FakeTelegram {where} bot_id={self.bot_id}>"

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``TelegramAPIServer.from_base``."""
        if self._port is None:
            msg = "FakeTelegram is not started"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        # Uploads of up to 50 MB are legal for bots; aiohttp's default body cap is 1 MB.
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_download)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_path)
        # access_log=None: the request path embeds the bot token, which must not be logged.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._closing = False

    async def stop(self) -> None:
        """Release pending long polls and waits at once (they answer ``[]``), then shut down."""
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        error_code: int = 400,
        description: str = "Bad Request: injected failure",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of serving them.

        ``method`` is a Bot API name (case-insensitive) or ``DOWNLOAD``. The calls are still
        recorded. ``retry_after`` / ``migrate_to_chat_id`` go into ``"parameters"``.
        """
        parameters: JSON = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        fault = _Fault(error_code, description, parameters or None)
        self._faults.setdefault(method.lower(), []).extend([fault] * times)

    def flood_next(self, method: str, times: int = 1, *, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 "Too Many Requests".

        aiogram raises ``TelegramRetryAfter`` (``.retry_after``) and does not retry by itself.
        """
        self.fail_next(
            method,
            times,
            error_code=429,
            description=f"Too Many Requests: retry after {retry_after}",
            retry_after=retry_after,
        )

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay answers by ``seconds`` (for ``method``, or every method when None).

        Shutdown interrupts the delay. ``0`` removes it.
        """
        key = method.lower() if method is not None else None
        if seconds > 0:
            self._latency[key] = seconds
        else:
            self._latency.pop(key, None)

    # ---------------------------------------------------------------- user side

    async def pause(self, method: str) -> None:
        """Hold every ``method`` request (before it takes effect) until `unpause`."""
        self._paused.add(method.lower())
        await self._notify()

    async def unpause(self, method: str, *, drop: bool = False) -> None:
        """Let held ``method`` requests through; with ``drop`` they fail (502) without effect.

        ``drop`` stands for requests that never reached Telegram (their process was killed).
        """
        if drop:
            self._pause_generation += 1
        self._paused.discard(method.lower())
        await self._notify()

    async def _hold_if_paused(self, method: str) -> None:
        if method.lower() not in self._paused:
            return
        generation = self._pause_generation
        async with self._cond:
            await self._cond.wait_for(lambda: self._closing or method.lower() not in self._paused)
        if generation != self._pause_generation:
            raise _ApiError(502, "Bad Gateway: the request was dropped")

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Иван",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "ru",
    ) -> JSON:
        """Register (or update) a user and their private chat; returns the ``User`` object."""
        user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        self._users[user_id] = user
        chat: JSON = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name is not None:
            chat["last_name"] = last_name
        if username is not None:
            chat["username"] = username
        self._chats[user_id] = chat
        return user

    def add_file(
        self,
        data: bytes,
        *,
        kind: str = "voice",
        file_id: str | None = None,
        file_unique_id: str | None = None,
        declared_size: int | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FakeFile:
        """Register a file users can send (``kind``: voice, audio, video_note, document, photo).

        ``declared_size`` is the size Telegram reports (``file_size``); set it above 20 MB to
        get "file is too big" from getFile without allocating the bytes.
        """
        if kind not in _FILE_DIRS:
            msg = f"kind must be one of {sorted(_FILE_DIRS)}"
            raise ValueError(msg)
        self._file_counter += 1
        number = self._file_counter
        fake_file = FakeFile(
            file_id=file_id or f"{kind.upper().replace('_', '')}{number:04d}",
            file_unique_id=file_unique_id or f"AgAD{kind[:2].upper()}{number:04d}",
            data=data,
            size=declared_size if declared_size is not None else len(data),
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[fake_file.file_id] = fake_file
        return fake_file

    async def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
        reply_to: BotMessage | int | None = None,
    ) -> UserEvent:
        """A user writes ``text``; a leading ``/command`` gets its ``bot_command`` entity."""
        content: JSON = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
        if command is not None:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}
            ]
        return await self._user_message(
            user_id, chat_id, content, first_name=first_name, username=username, reply_to=reply_to
        )

    async def send_contact(
        self,
        user_id: int,
        phone_number: str,
        *,
        contact_user_id: int | str | None = "self",
        first_name: str = "Иван",
        forwarded_from: int | None = None,
    ) -> UserEvent:
        """A user sends a contact, as the «share my number» button (``request_contact``) does.

        By default it is the sender's own contact (``contact.user_id`` = the sender). Pass
        another ``contact_user_id`` for someone else's card, ``None`` for a contact typed in
        by hand (Telegram then has no user id), ``forwarded_from`` for a forwarded contact
        (``forward_origin``).
        """
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        owner = user_id if contact_user_id == "self" else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        content: JSON = {"contact": contact}
        if forwarded_from is not None:
            content["forward_origin"] = {
                "type": "user",
                "date": int(time.time()) - 60,
                "sender_user": self._user(forwarded_from, None, None),
            }
        return await self._user_message(user_id, None, content)

    async def send_voice(
        self,
        user_id: int,
        data: bytes | FakeFile,
        duration: int,
        mime_type: str = "audio/ogg",
        chat_id: int | None = None,
        *,
        declared_size: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> UserEvent:
        """A user sends a voice note (Ogg/Opus by default), shaped as in reference §1.9."""
        fake_file = self._as_file(data, "voice", declared_size, None, mime_type)
        voice = self._file_json(fake_file)
        voice.update(duration=duration, mime_type=mime_type)
        return await self._user_message(
            user_id, chat_id, {"voice": voice}, first_name=first_name, username=username
        )

    async def send_audio(
        self,
        user_id: int,
        data: bytes | FakeFile,
        duration: int,
        mime_type: str = "audio/mpeg",
        chat_id: int | None = None,
        *,
        file_name: str = "audio.mp3",
        performer: str | None = None,
        title: str | None = None,
        declared_size: int | None = None,
        caption: str | None = None,
    ) -> UserEvent:
        """A user sends a music/audio file."""
        fake_file = self._as_file(data, "audio", declared_size, file_name, mime_type)
        audio = self._file_json(fake_file)
        audio.update(duration=duration, mime_type=mime_type, file_name=file_name)
        if performer is not None:
            audio["performer"] = performer
        if title is not None:
            audio["title"] = title
        content: JSON = {"audio": audio}
        if caption is not None:
            content["caption"] = caption
        return await self._user_message(user_id, chat_id, content)

    async def send_video_note(
        self,
        user_id: int,
        data: bytes | FakeFile,
        duration: int,
        chat_id: int | None = None,
        *,
        length: int = 240,
        declared_size: int | None = None,
    ) -> UserEvent:
        """A user sends a round video note (MP4; Telegram gives it no ``mime_type``)."""
        fake_file = self._as_file(data, "video_note", declared_size, None, None)
        note = self._file_json(fake_file)
        note.update(duration=duration, length=length)
        return await self._user_message(user_id, chat_id, {"video_note": note})

    async def send_document(
        self,
        user_id: int,
        data: bytes | FakeFile,
        file_name: str = "voice.ogg",
        mime_type: str | None = "audio/ogg",
        chat_id: int | None = None,
        *,
        declared_size: int | None = None,
        caption: str | None = None,
    ) -> UserEvent:
        """A user sends a file as a document (``mime_type=None`` omits it, as some clients do)."""
        fake_file = self._as_file(data, "document", declared_size, file_name, mime_type)
        document = self._file_json(fake_file)
        document["file_name"] = file_name
        if mime_type is not None:
            document["mime_type"] = mime_type
        content: JSON = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return await self._user_message(user_id, chat_id, content)

    async def send_photo(
        self,
        user_id: int,
        data: bytes | FakeFile,
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> UserEvent:
        """A user sends a photo: ``photo`` is an array of sizes, smallest first, as Telegram
        sends them (reference §1: the last is the largest; each size is its own file)."""
        fake_file = self._as_file(data, "photo", None, None, None)
        thumb = self.add_file(fake_file.data[: max(1, len(fake_file.data) // 8)], kind="photo")
        sizes = [
            {**self._file_json(thumb), "width": width // 8, "height": height // 8},
            {**self._file_json(fake_file), "width": width, "height": height},
        ]
        content: JSON = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return await self._user_message(user_id, chat_id, content)

    async def press_button(
        self,
        user_id: int,
        message: BotMessage | int,
        data: str | None = None,
        *,
        chat_id: int | None = None,
        button_text: str | None = None,
        strict: bool = True,
    ) -> UserEvent:
        """A user presses an inline button of a bot message (by ``data`` or ``button_text``).

        With ``strict`` (default) the button must currently be on the message (``LookupError``
        otherwise, listing the buttons there are), as a real user can only press what they see.
        The ``callback_query`` carries the message in its current state.
        """
        bot_message = self._find_bot_message(message, chat_id if chat_id is not None else user_id)
        if bot_message is None or bot_message.deleted:
            msg = f"no bot message {message!r} in chat {chat_id or user_id}"
            raise LookupError(msg)
        match = [
            (text, callback_data)
            for text, callback_data in bot_message.buttons
            if (data is None or callback_data == data)
            and (button_text is None or text == button_text)
        ]
        if data is None and button_text is None:
            msg = "press_button needs data or button_text"
            raise ValueError(msg)
        if not match and strict:
            msg = f"no such button on message {bot_message.message_id}: {bot_message.buttons}"
            raise LookupError(msg)
        pressed = match[0][1] if match else data
        user = self._user(user_id, None, None)
        self._callback_counter += 1
        query_id = f"{self.bot_id}{self._callback_counter:08d}"
        query: JSON = {
            "id": query_id,
            "from": user,
            "message": bot_message.to_json(),
            "chat_instance": f"-{abs(bot_message.chat_id) * 7919 + 17}",
        }
        if pressed is not None:
            query["data"] = pressed
        self._callbacks[query_id] = query
        update = await self._enqueue({"callback_query": query})
        return UserEvent(
            update_id=update["update_id"],
            chat_id=bot_message.chat_id,
            user_id=user_id,
            update=update,
            callback_query_id=query_id,
        )

    async def redeliver(self, event: UserEvent) -> None:
        """Deliver ``event``'s update once more, with its same ``update_id``, whatever the
        offset: Telegram delivers at least once, and a bot must not act twice on a repeat."""
        self._replays.append(copy.deepcopy(event.update))
        await self._notify()

    async def release_updates(self, count: int | None = None) -> int:
        """Make held updates visible to getUpdates (all, or the first ``count``)."""
        count = len(self._held) if count is None else min(count, len(self._held))
        released, self._held = self._held[:count], self._held[count:]
        self._queue.extend(released)
        await self._notify()
        return len(released)

    def _as_file(
        self,
        data: bytes | FakeFile,
        kind: str,
        declared_size: int | None,
        file_name: str | None,
        mime_type: str | None,
    ) -> FakeFile:
        if isinstance(data, FakeFile):
            return data
        return self.add_file(
            data,
            kind=kind,
            declared_size=declared_size,
            file_name=file_name,
            mime_type=mime_type,
        )

    @staticmethod
    def _file_json(fake_file: FakeFile) -> JSON:
        return {
            "file_id": fake_file.file_id,
            "file_unique_id": fake_file.file_unique_id,
            "file_size": fake_file.size,
        }

    def _user(self, user_id: int, first_name: str | None, username: str | None) -> JSON:
        if user_id not in self._users or first_name is not None or username is not None:
            known = self._users.get(user_id, {})
            self.add_user(
                user_id,
                first_name=first_name or known.get("first_name", "Иван"),
                username=username if username is not None else known.get("username"),
            )
        return self._users[user_id]

    def _chat(self, chat_id: int, user_id: int) -> JSON:
        if chat_id == user_id and chat_id not in self._chats:
            self._user(user_id, None, None)
        if chat_id not in self._chats:
            self._chats[chat_id] = {
                "id": chat_id,
                "type": _chat_type(chat_id, user_id),
                "title": "Тестовая группа",
            }
        return self._chats[chat_id]

    def _take_message_id(self, chat_id: int) -> int:
        # Message ids are per chat and shared by both sides of the conversation.
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    async def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: JSON,
        *,
        first_name: str | None = None,
        username: str | None = None,
        reply_to: BotMessage | int | None = None,
    ) -> UserEvent:
        user = self._user(user_id, first_name, username)
        chat = self._chat(chat_id if chat_id is not None else user_id, user_id)
        message_id = self._take_message_id(chat["id"])
        message: JSON = {
            "message_id": message_id,
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            target = self._find_bot_message(reply_to, chat["id"])
            if target is None:
                msg = f"no bot message {reply_to!r} in chat {chat['id']}"
                raise LookupError(msg)
            message["reply_to_message"] = target.to_json()
        self._user_messages[(chat["id"], message_id)] = message
        update = await self._enqueue({"message": message})
        return UserEvent(
            update_id=update["update_id"],
            chat_id=chat["id"],
            user_id=user_id,
            update=update,
            message_id=message_id,
        )

    async def _enqueue(self, body: JSON) -> JSON:
        update: JSON = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        if self.allowed_updates and not any(kind in update for kind in self.allowed_updates):
            # Telegram filters by allowed_updates when the update is created.
            self.dropped_updates.append(update)
        elif self.hold_updates:
            self._held.append(update)
        else:
            self._queue.append(update)
        await self._notify()
        return update

    def _find_bot_message(self, message: BotMessage | int, chat_id: int) -> BotMessage | None:
        if isinstance(message, BotMessage):
            return self._bot_messages.get((message.chat_id, message.message_id))
        return self._bot_messages.get((chat_id, message))

    # ---------------------------------------------------------------- assertions API

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the bot made (including downloads), in arrival order."""
        return list(self._requests)

    def calls(self, method: str) -> list[RecordedRequest]:
        """Recorded requests of one method (case-insensitive name)."""
        wanted = method.lower()
        return [r for r in self._requests if r.method.lower() == wanted]

    def methods(self) -> list[str]:
        """The method names of all requests, in order (to check call order)."""
        return [r.method for r in self._requests]

    def sent_messages(self, chat_id: int | None = None) -> list[BotMessage]:
        """Bot messages in sending order (current state; deleted ones flagged, not removed)."""
        return [m for m in self._bot_message_order if chat_id is None or m.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        """The current state of one bot message (``LookupError`` if the bot never sent it)."""
        found = self._bot_messages.get((chat_id, message_id))
        if found is None:
            msg = f"the bot sent no message {message_id} in chat {chat_id}"
            raise LookupError(msg)
        return found

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command menu set with setMyCommands for this scope and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def parked_polls(self) -> int:
        """getUpdates calls currently blocked in a long poll (waiting for an update)."""
        return self._parked_polls

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by the bot (held ones excluded)."""
        return list(self._queue)

    def describe(self, limit: int = 60) -> str:
        """A readable dump of what the fake saw, for failure messages."""
        lines = [f"requests ({len(self._requests)}, last {limit}):"]
        lines += [f"  {r.summary()}" for r in self._requests[-limit:]]
        lines.append(f"bot messages ({len(self._bot_message_order)}):")
        for message in self._bot_message_order[-limit:]:
            flags = " [deleted]" if message.deleted else ""
            flags += f" [edited x{len(message.history)}]" if message.history else ""
            lines.append(
                f"  chat {message.chat_id} #{message.message_id}{flags}: {message.text[:120]!r}"
                + (f" buttons={message.buttons}" if message.buttons else "")
            )
        lines.append(f"pending updates: {[u['update_id'] for u in self._queue]}")
        if self._held:
            lines.append(f"held updates: {[u['update_id'] for u in self._held]}")
        if self.dropped_updates:
            lines.append(
                f"dropped updates (not in allowed_updates={self.allowed_updates}): "
                f"{[u['update_id'] for u in self.dropped_updates]}"
            )
        return "\n".join(lines)

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,
        *,
        description: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        The predicate is re-checked whenever the fake's state changes (a request arrives or is
        answered, an update is queued). On timeout raises ``AssertionError`` with ``describe()``.
        """
        try:
            async with asyncio.timeout(timeout), self._cond:
                result = await self._cond.wait_for(predicate)
        except TimeoutError:
            what = description or getattr(predicate, "__qualname__", repr(predicate))
            msg = f"timed out after {timeout:g}s waiting for {what}\n{self.describe()}"
            raise AssertionError(msg) from None
        # Condition.wait_for only returns once the predicate's value is truthy.
        assert result is not None
        return result

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> list[BotMessage]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``; return them.

        ``since`` counts only messages with a larger ``message_id`` (pass the ``message_id`` of
        the user's message to get its answers). Returns all matching messages, possibly more
        than ``count``.
        """

        def ready() -> list[BotMessage] | None:
            found = [
                m for m in self.sent_messages(chat_id) if since is None or m.message_id > since
            ]
            return found if len(found) >= count else None

        if count <= 0:
            return ready() or []
        return await self.wait_for(
            ready,
            timeout,
            description=f"{count} bot message(s) in chat {chat_id}"
            + (f" after message {since}" if since is not None else ""),
        )

    async def wait_for_request(
        self,
        method: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 5.0,
        *,
        completed: bool = True,
        after: int = -1,
    ) -> RecordedRequest:
        """Wait for a request of ``method`` matching ``predicate``; return the first one.

        With ``completed`` (default) only answered requests count. ``after`` skips requests
        whose ``index`` is not greater (use ``len(fake.requests) - 1`` to wait for a new one).
        """
        wanted = method.lower()

        def find() -> RecordedRequest | None:
            for request in self._requests:
                if (
                    request.index > after
                    and request.method.lower() == wanted
                    and (request.completed or not completed)
                    and (predicate is None or predicate(request))
                ):
                    return request
            return None

        return await self.wait_for(find, timeout, description=f"a {method} request")

    # ---------------------------------------------------------------- HTTP plumbing

    async def _record(self, method: str, params: JSON, http_method: str) -> RecordedRequest:
        record = RecordedRequest(
            index=len(self._requests),
            method=method,
            params=params,
            ts=time.monotonic(),
            http_method=http_method,
        )
        self._requests.append(record)
        await self._notify()
        return record

    async def _complete(self, record: RecordedRequest, status: int, response: JSON) -> None:
        record.status = status
        record.response = response
        record.completed_ts = time.monotonic()
        await self._notify()

    async def _read_params(self, request: web.Request) -> JSON:
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise _bad_request("JSON body must be an object")
                raw.update(body)
            elif request.content_type in {
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            }:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[key] = UploadedFile(
                            filename=value.filename,
                            content_type=value.content_type,
                            data=value.file.read(),
                        )
                    else:
                        raw[key] = value
        return {key: _decode_param(key, value) for key, value in raw.items()}

    async def _delay(self, method: str) -> None:
        seconds = self._latency.get(method.lower(), self._latency.get(None, 0.0))
        if seconds <= 0 or self._closing:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), self._cond:
                await self._cond.wait_for(lambda: self._closing)

    def _injected_fault(self, method: str) -> _ApiError | None:
        pending = self._faults.get(method.lower())
        if not pending:
            return None
        fault = pending.pop(0)
        return _ApiError(fault.status, fault.description, fault.parameters)

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        canonical, handler = self._methods.get(name.lower(), (name, None))
        try:
            params = await self._read_params(request)
        except _ApiError as error:
            params = {}
            record = await self._record(canonical, params, request.method)
            await self._complete(record, error.status, error.payload())
            return web.json_response(error.payload(), status=error.status)
        record = await self._record(canonical, params, request.method)
        try:
            if request.match_info["token"] != self._token:
                raise _ApiError(401, "Unauthorized")
            await self._delay(canonical)
            await self._hold_if_paused(canonical)
            fault = self._injected_fault(canonical)
            if fault is not None:
                raise fault
            if handler is None:
                raise _ApiError(404, f"Not Found: method {name!r} is not emulated by FakeTelegram")
            payload: JSON = {"ok": True, "result": await handler(params)}
            status = 200
        except _ApiError as error:
            payload = error.payload()
            status = error.status
        await self._complete(record, status, payload)
        return web.json_response(payload, status=status)

    async def _handle_download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        record = await self._record(DOWNLOAD, {"file_path": path}, request.method)
        try:
            if request.match_info["token"] != self._token:
                raise _ApiError(401, "Unauthorized")
            await self._delay(DOWNLOAD)
            fault = self._injected_fault(DOWNLOAD)
            if fault is not None:
                raise fault
            fake_file = self._files_by_path.get(path)
            if fake_file is None:
                raise _ApiError(404, "Not Found")
        except _ApiError as error:
            await self._complete(record, error.status, error.payload())
            return web.json_response(error.payload(), status=error.status)
        await self._complete(record, 200, {"ok": True, "bytes": len(fake_file.data)})
        return web.Response(body=fake_file.data, content_type="application/octet-stream")

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        record = await self._record(f"<{request.method} {request.path}>", {}, request.method)
        error = _ApiError(404, "Not Found")
        await self._complete(record, error.status, error.payload())
        return web.json_response(error.payload(), status=error.status)

    # ---------------------------------------------------------------- Bot API methods

    async def _get_me(self, params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _deliverable(self, offset: int | None) -> list[JSON]:
        allowed = self.allowed_updates
        return [*self._replays] + [
            update
            for update in self._queue
            if (offset is None or update["update_id"] >= offset)
            and (not allowed or any(kind in update for kind in allowed))
        ]

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            # Telegram: a negative offset keeps only the last -offset updates.
            forgotten, self._queue = self._queue[:offset], self._queue[offset:]
            self.confirmed_update_ids += [u["update_id"] for u in forgotten]
            return
        confirmed = [u for u in self._queue if u["update_id"] < offset]
        self._queue = [u for u in self._queue if u["update_id"] >= offset]
        self.confirmed_update_ids += [u["update_id"] for u in confirmed]

    def _drop_disallowed(self) -> None:
        allowed = self.allowed_updates
        if not allowed:
            return
        kept = []
        for update in self._queue:
            if any(kind in update for kind in allowed):
                kept.append(update)
            else:
                self.dropped_updates.append(update)
        self._queue = kept

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset")
        limit = max(1, min(100, _int_param(params, "limit") or 100))
        timeout = max(0, _int_param(params, "timeout") or 0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            if not isinstance(allowed, list):
                raise _bad_request("wrong parameter allowed_updates in request")
            self.allowed_updates = [str(kind) for kind in allowed] or None
        self._confirm(offset)
        self._drop_disallowed()
        self._poll_generation += 1
        generation = self._poll_generation
        if offset is not None and offset < 0:
            offset = None
        async with self._cond:
            park = timeout > 0 and not self._deliverable(offset) and not self._closing
            if park:
                self._parked_polls += 1
            # Wakes an older long poll (Telegram terminates it with 409, below) and tests
            # waiting on parked_polls.
            self._cond.notify_all()
            if park:
                try:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            await self._cond.wait_for(
                                lambda: (
                                    self._closing
                                    or generation != self._poll_generation
                                    or bool(self._deliverable(offset))
                                )
                            )
                finally:
                    self._parked_polls -= 1
            if generation != self._poll_generation and not self._closing:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = [] if self._closing else self._deliverable(offset)[:limit]
            self._replays = [u for u in self._replays if not any(u is b for b in batch)]
            self._drop_disallowed()
        self.delivery_counts.update(update["update_id"] for update in batch)
        return batch

    async def _delete_webhook(self, params: JSON) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates") is True:
            self.confirmed_update_ids += [u["update_id"] for u in self._queue]
            self._queue = []
        return True

    async def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if params.get("drop_pending_updates") is True:
            self._queue = []
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.allowed_updates:
            info["allowed_updates"] = self.allowed_updates
        return info

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope_key = "default"
        if isinstance(scope, dict) and scope.get("type", "default") != "default":
            scope_key = json.dumps(scope, sort_keys=True)
        return scope_key, str(language_code or "")

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("parameter commands is required")
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("BOT_COMMAND_INVALID")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND_RE.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = commands
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: JSON) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _known_chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, int) and not isinstance(chat_id, bool):
            chat = self._chats.get(chat_id)
        else:
            username = str(chat_id).removeprefix("@")
            chat = next((c for c in self._chats.values() if c.get("username") == username), None)
        if chat is None:
            if self.known_chats_only or not isinstance(chat_id, int):
                raise _bad_request("chat not found")
            chat = self._chat(chat_id, chat_id)
        return chat

    @staticmethod
    def _parse_text(params: JSON) -> tuple[str, str, str | None, list[JSON]]:
        """(plain text, raw text, parse mode, entities) after Telegram's validation."""
        raw = params.get("text")
        if raw is None:
            raw = ""
        raw = str(raw)
        parse_mode = params.get("parse_mode")
        entities = params.get("entities")
        if isinstance(entities, list) and entities:
            plain, parsed = raw, [e for e in entities if isinstance(e, dict)]
        elif parse_mode:
            parser = _PARSERS.get(str(parse_mode).lower())
            if parser is None:
                raise _bad_request("unsupported parse_mode")
            try:
                plain, parsed = parser(raw)
            except EntityParseError as error:
                raise _bad_request(f"can't parse entities: {error}") from None
        else:
            plain, parsed = raw, []
        if not plain.strip():
            raise _bad_request("message text is empty")
        if utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        return plain, raw, str(parse_mode) if parse_mode else None, parsed

    @staticmethod
    def _check_markup(markup: Any) -> JSON | None:
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request(
                        "can't parse inline keyboard button: Text must be non-empty"
                    )
                data = button.get("callback_data")
                if (
                    data is not None
                    and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _bad_request("BUTTON_DATA_INVALID")
        return markup

    def _reply_target(self, params: JSON, chat: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
            target_chat = reply.get("chat_id", chat["id"])
        elif params.get("reply_to_message_id") is not None:
            message_id = params.get("reply_to_message_id")
            allow_missing = bool(params.get("allow_sending_without_reply"))
            target_chat = chat["id"]
        else:
            return None
        key = (target_chat, message_id)
        if key in self._user_messages:
            return {k: v for k, v in self._user_messages[key].items() if k != "reply_to_message"}
        if key in self._bot_messages and not self._bot_messages[key].deleted:
            found = self._bot_messages[key].to_json()
            found.pop("reply_to_message", None)
            return found
        if allow_missing:
            return None
        raise _bad_request("message to be replied not found")

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._known_chat(params)
        plain, raw, parse_mode, entities = self._parse_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        reply_to = self._reply_target(params, chat)
        message = BotMessage(
            message_id=self._take_message_id(chat["id"]),
            chat=chat,
            sender=self.bot_user,
            date=int(time.time()),
            text=plain,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=markup,
            reply_to_message=reply_to,
            request_index=len(self._requests) - 1,
        )
        self._bot_messages[(chat["id"], message.message_id)] = message
        self._bot_message_order.append(message)
        return message.to_json()

    def _editable(self, params: JSON) -> BotMessage:
        if params.get("inline_message_id"):
            raise _bad_request("message to edit not found")
        chat = self._known_chat(params)
        message_id = _required_int(params, "message_id")
        key = (chat["id"], message_id)
        if key in self._user_messages:
            raise _bad_request("message can't be edited")
        message = self._bot_messages.get(key)
        if message is None or message.deleted:
            raise _bad_request("message to edit not found")
        return message

    @staticmethod
    def _inline_only(markup: JSON | None) -> JSON | None:
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad_request("inline keyboard expected")
        return markup

    @staticmethod
    def _apply_edit(
        message: BotMessage,
        *,
        plain: str,
        raw: str,
        parse_mode: str | None,
        entities: list[JSON],
        markup: JSON | None,
    ) -> None:
        old_keyboard = message.inline_keyboard
        new_keyboard = (markup or {}).get("inline_keyboard") or []
        if plain == message.text and entities == message.entities and new_keyboard == old_keyboard:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        message.history.append(
            MessageVersion(
                text=message.text,
                raw_text=message.raw_text,
                parse_mode=message.parse_mode,
                entities=message.entities,
                reply_markup=message.reply_markup,
                edit_date=message.edit_date,
            )
        )
        message.text = plain
        message.raw_text = raw
        message.parse_mode = parse_mode
        message.entities = entities
        message.reply_markup = markup
        message.edit_date = int(time.time())

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._editable(params)
        plain, raw, parse_mode, entities = self._parse_text(params)
        # Omitting reply_markup in an edit removes the inline keyboard, as in Telegram.
        markup = self._inline_only(self._check_markup(params.get("reply_markup")))
        self._apply_edit(
            message,
            plain=plain,
            raw=raw,
            parse_mode=parse_mode,
            entities=entities,
            markup=markup,
        )
        return message.to_json()

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._editable(params)
        markup = self._inline_only(self._check_markup(params.get("reply_markup")))
        self._apply_edit(
            message,
            plain=message.text,
            raw=message.raw_text,
            parse_mode=message.parse_mode,
            entities=message.entities,
            markup=markup,
        )
        return message.to_json()

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callbacks or query_id in self.callback_answers:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = params
        return True

    async def _send_chat_action(self, params: JSON) -> bool:
        self._known_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._known_chat(params)
        message_id = _required_int(params, "message_id")
        message = self._bot_messages.get((chat["id"], message_id))
        if message is not None and not message.deleted:
            message.deleted = True
            return True
        user_message = self._user_messages.pop((chat["id"], message_id), None)
        if user_message is not None:
            return True
        raise _bad_request("message to delete not found")

    async def _get_file(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id") or "")
        fake_file = self._files.get(file_id)
        if fake_file is None:
            raise _bad_request("invalid file_id")
        if fake_file.size > MAX_DOWNLOAD_SIZE:
            raise _bad_request("file is too big")
        if fake_file.file_path is None:
            directory, extension = _FILE_DIRS[fake_file.kind]
            if fake_file.kind == "document" and fake_file.file_name:
                extension = (
                    "." + fake_file.file_name.rsplit(".", 1)[-1]
                    if "." in fake_file.file_name
                    else ""
                )
            fake_file.file_path = f"{directory}/file_{len(self._files_by_path)}{extension}"
            self._files_by_path[fake_file.file_path] = fake_file
        return {
            "file_id": fake_file.file_id,
            "file_unique_id": fake_file.file_unique_id,
            "file_size": fake_file.size,
            "file_path": fake_file.file_path,
        }


# --------------------------------------------------------------------------------------------
# Running a real aiogram dispatcher against the fake
# --------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def run_polling(
    fake: FakeTelegram,
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    polling_timeout: int = 1,
    startup_timeout: float = 5.0,
    stop_timeout: float = 10.0,
    **polling_kwargs: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``dispatcher.start_polling(bot)`` for the body of the ``async with``; stop it after.

    Enters once the bot's first getUpdates has reached the fake (startup handlers done). On
    exit stops polling (which closes the bot session) and re-raises any polling error.
    ``polling_kwargs`` go to ``start_polling`` (e.g. ``backoff_config``, workflow data).
    """
    already = len(fake.calls("getUpdates"))
    task: asyncio.Task[None] = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, polling_timeout=polling_timeout, **polling_kwargs
        )
    )
    started = asyncio.create_task(
        fake.wait_for(
            lambda: len(fake.calls("getUpdates")) > already,
            startup_timeout,
            description="the dispatcher's first getUpdates",
        )
    )
    try:
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            started.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await started
            await task
            msg = "polling ended before its first getUpdates"
            raise AssertionError(msg)
        await started
        yield task
    finally:
        if not started.done():
            started.cancel()
            with contextlib.suppress(asyncio.CancelledError, AssertionError):
                await started
        if not task.done():
            async with asyncio.timeout(stop_timeout):
                await dispatcher.stop_polling()
        async with asyncio.timeout(stop_timeout):
            await task
