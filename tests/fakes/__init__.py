"""Local fakes of external services used by end-to-end tests (Telegram Bot API, ...)."""

from tests.fakes.telegram import (
    DOWNLOAD,
    BotMessage,
    EntityParseError,
    FakeFile,
    FakeTelegram,
    MessageVersion,
    RecordedRequest,
    UploadedFile,
    UserEvent,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    run_polling,
    utf16_len,
)

__all__ = [
    "DOWNLOAD",
    "BotMessage",
    "EntityParseError",
    "FakeFile",
    "FakeTelegram",
    "MessageVersion",
    "RecordedRequest",
    "UploadedFile",
    "UserEvent",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "run_polling",
    "utf16_len",
]
