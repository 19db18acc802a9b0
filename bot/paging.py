"""Cutting answers to a messenger's size: split long texts, page long lists.

Telegram-agnostic on purpose (the bot's handlers use it, but so could any other front end):
lengths are counted in UTF-16 code units because that is how Telegram measures the 4096-character
limit of a message (Cyrillic is one unit per character, an emoji two).

- `split_text` cuts any text into chunks under the limit: at blank lines first, then at line
  ends, then at spaces, and only as a last resort inside a word (never inside a surrogate pair).
- `paginate` lays out a list answer (header, item lines, footer) as pages of at most
  ``lines_per_page`` items that each fit the limit with their header, footer, note and a page
  counter.

aiogram has no splitter of its own, and the brain's answers
are plain lines, so this small module is simpler than pulling in a text-layout library.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "MESSAGE_LIMIT",
    "PAGE_LINES",
    "needs_paging",
    "page_counter",
    "paginate",
    "split_text",
    "utf16_len",
]

MESSAGE_LIMIT = 4096
"""Telegram's ``sendMessage.text`` limit, in UTF-16 code units after entity parsing."""
PAGE_LINES = 25
"""List lines per page: a phone screen or two, so a page is read without scrolling far."""
_ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram's unit for message length and entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _cut_index(text: str, limit: int) -> int:
    """The largest index ``i`` such that ``text[:i]`` is at most ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` units, ending with an ellipsis when cut."""
    if utf16_len(text) <= limit:
        return text
    return text[: _cut_index(text, limit - 1)].rstrip() + _ELLIPSIS


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into non-empty chunks of at most ``limit`` UTF-16 units.

    Prefers paragraph breaks, then line breaks, then spaces; a single word longer than the
    limit is cut hard. Whitespace at the cut points is dropped; nothing else is lost.
    Returns ``[]`` for a blank text.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 UTF-16 units")
    chunks: list[str] = []
    rest = text.strip()
    # Each round removes at least one character, so the loop is bounded by the text length.
    for _ in range(len(rest) + 1):
        if not rest:
            break
        if utf16_len(rest) <= limit:
            chunks.append(rest)
            break
        window = rest[: _cut_index(rest, limit)]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut > 0:
                break
        if cut <= 0:
            cut = len(window)
        head = rest[:cut].rstrip()
        if head:
            chunks.append(head)
        rest = rest[cut:].lstrip()
    return chunks


def page_counter(page: int, total: int) -> str:
    """The line that closes every page: "Стр. 2 из 4"."""
    return f"Стр. {page} из {total}"


def needs_paging(
    items: Sequence[str],
    text: str,
    *,
    lines_per_page: int = PAGE_LINES,
    limit: int = MESSAGE_LIMIT,
) -> bool:
    """Whether a list answer should be shown page by page rather than in one message."""
    return len(items) > lines_per_page or (bool(items) and utf16_len(text) > limit)


def _page_text(header: str, lines: Sequence[str], tail: Sequence[str]) -> str:
    blocks = [header, "\n".join(lines), *tail]
    return "\n".join(b for b in blocks if b)


def paginate(
    header: str,
    items: Sequence[str],
    *,
    footer: str = "",
    note: str = "",
    lines_per_page: int = PAGE_LINES,
    limit: int = MESSAGE_LIMIT,
) -> list[str]:
    """Lay out a list answer as page texts, each within ``limit`` UTF-16 units.

    Every page repeats ``header`` (what the list is), holds up to ``lines_per_page`` items,
    then ``footer`` on the last page only, ``note`` (e.g. "the data is 2 h old") on every page,
    and a page counter when there is more than one page. Items keep their order; every item is
    on exactly one page. An item too long for any page is shortened with an ellipsis.
    """
    if lines_per_page < 1:
        raise ValueError("lines_per_page must be at least 1")
    # Room for the counter, the note and the header, with their line breaks.
    counter_room = utf16_len(page_counter(len(items) or 1, len(items) or 1)) + 2
    note_room = utf16_len(note) + 2 if note else 0
    header = _truncate(header, max(1, limit // 4))
    footer = _truncate(footer, max(1, limit // 4)) if footer else ""
    footer_room = utf16_len(footer) + 1 if footer else 0
    # The footer is only shown on the last page, but every page keeps room for it: pages are
    # filled greedily, and only the last one knows it is last.
    budget = limit - (utf16_len(header) + 1 + note_room + counter_room + footer_room)
    if budget < 16:
        raise ValueError("the limit is too small for the header, footer and note")
    lines = [_truncate(item, budget - 1) for item in items]

    groups: list[list[str]] = []
    current: list[str] = []
    used = 0
    for line in lines:
        size = utf16_len(line) + 1
        if current and (len(current) >= lines_per_page or used + size > budget):
            groups.append(current)
            current, used = [], 0
        current.append(line)
        used += size
    groups.append(current)

    total = len(groups)
    pages: list[str] = []
    for number, group in enumerate(groups, start=1):
        tail: list[str] = []
        if footer and number == total:
            tail.append(footer)
        if note:
            tail.append("\n" + note)
        if total > 1:
            tail.append("\n" + page_counter(number, total))
        pages.append(_page_text(header, group, tail))
    return pages
