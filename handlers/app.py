"""The Telegram bot application (placeholder until the bot lands)."""

from __future__ import annotations

from bot.config import Settings


def run_bot(settings: Settings) -> int:
    """Run the bot; returns the exit code."""
    raise SystemExit("audiobot run: the Telegram bot is not implemented yet")
