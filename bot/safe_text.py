"""Text that is safe to show back to people: no control or bidi-override characters.

Anything a user typed or said can come back in an answer: the «🎙 Распознал: «…»» echo, a
clarifying question that quotes a street, a not-found name. A request carrying U+202E (RIGHT-TO-
LEFT OVERRIDE) would then make the bot's message render reversed or disguised, and C0/C1 control
characters can corrupt terminals (`audiobot chat`) and logs. `printable` removes every character
of Unicode categories Cc (controls, except newline and tab) and Cf (format: the bidi embeddings,
overrides and isolates U+202A–U+202E and U+2066–U+2069, LRM/RLM, zero-width characters, the BOM),
and turns the line and paragraph separators U+2028/U+2029 into newlines.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["printable"]

_KEEP = frozenset("\n\t")
_SEPARATORS = re.compile("[\u2028\u2029]")


def _unsafe(char: str) -> bool:
    return char not in _KEEP and unicodedata.category(char) in ("Cc", "Cf")


def printable(text: str) -> str:
    """``text`` without control and format characters (see the module docstring)."""
    if text.isascii() and text.isprintable():
        return text  # the common case, without a per-character walk
    text = _SEPARATORS.sub("\n", text)
    return "".join(char for char in text if not _unsafe(char))
