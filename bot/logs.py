"""Operator logging: English lines on stderr, with secrets scrubbed from every record.

The webhook URL embeds its secret code and Telegram API URLs embed the bot token; libraries
(aiohttp, httpx, aiogram) may print either in an error. A filter on the handler rewrites every
record before it is written, whatever logger produced it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

from bitrix.errors import redact

# A Telegram bot token: "<bot id>:<35 url-safe characters>", also inside ".../bot<token>/...".
_BOT_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


class SecretFilter(logging.Filter):
    """Replaces webhook codes, bot tokens and any configured secret with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def scrub(self, text: str) -> str:
        """The text with every secret replaced."""
        return _BOT_TOKEN.sub("***", redact(text, self.secrets))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are formatted later from exc_info: pre-format and scrub them now.
            formatted = logging.Formatter().formatException(record.exc_info)
            cleaned += "\n" + self.scrub(formatted)
            record.exc_info = None
            record.exc_text = None
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Log to stderr at ``level`` with secrets filtered; idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_audiobot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._audiobot = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log would print request paths (the emulator's contain its token).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
