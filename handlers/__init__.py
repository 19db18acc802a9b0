"""Thin aiogram routers: they translate between Telegram and the brain in `bot/`."""
