"""Thin aiogram routers: they translate between Telegram and the brain in `bot/`.

`handlers.app` wires everything (`run_bot`, `serve`, `create_bot`, `create_dispatcher`); the
routers live in `commands`, `callbacks`, `voice`, `text` and `errors`; middlewares in
`middlewares`; the state behind inline buttons in `keyboards`; sending replies in `replies`;
every Russian sentence the Telegram layer says itself in `texts`.
"""
