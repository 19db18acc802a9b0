"""The Telegram bot application: `run_bot(settings)` is `audiobot run`.

Routers, in the order they are tried (the first matching handler wins)::

    errors      any exception → one Russian sentence + a scrubbed log line (dispatcher level)
    commands    /start, /help, /health (admins)
    signin      a shared contact (sign-in by phone), /forget, /digest on|off
    writes      ✅/❌ under write previews, photos for reports
    callbacks   list-page buttons, clarifying-choice buttons, outdated buttons
    voice       voice notes, audio, video notes, audio documents → transcript → the text path
    text        any other text → the brain (last: it takes everything)

Update middlewares (outer, on ``dp.update``): access (users, and group chats on
``ALLOWED_CHAT_IDS``) → flood → per-chat order (page buttons in a lane of their own); the
session has a 429 retry middleware (`handlers.middlewares`). Workflow data keys:
`handlers.context.BotData` (``runtime``, ``settings``, ``keyboards``, ``responder``, ``voice``,
``identities``); per update the middlewares add ``asker`` (the signed-in employee),
``conversation`` and, for a button press that had to wait, ``query_answered``.

The morning digest (`bot.digest.DigestScheduler`) runs as a task from startup to shutdown.

Modes: long polling (``deleteWebhook`` first: getUpdates does not work while a webhook is set;
pending updates are kept, see `handlers.text` for the stale-update policy), or, when
``TELEGRAM_WEBHOOK_URL`` is set, an aiohttp server on ``TELEGRAM_WEBHOOK_LISTEN_HOST:PORT`` that
records each update, answers Telegram at once and handles the update in the background (Vosk
can take longer than Telegram waits), checking Telegram's secret-token header
(`webhook_secret`: random per start when none or a blank one is configured, never "accept
all"). ``TELEGRAM_API_SERVER`` points the
bot at another Bot API server (e.g. a self-hosted one; ``TELEGRAM_API_LOCAL`` when it runs with
``--local``). The read-only HTTP API (docs/http-api.md, ``handlers.http_api``) is served
alongside on ``API_HOST:API_PORT`` unless ``API_PORT=0``.

Signals: SIGINT/SIGTERM stop (below); SIGHUP is logged and ignored — settings are read once at
start, so there is nothing to reload in place, and its default action would kill the bot.

Both modes record every update in the durable inbox before acknowledging it and handle what a
killed run left unanswered first (`handlers.inbox.InboxDispatcher`).

Startup: the command menu, the company cache's background refresh, the language engine warmed
(bounded: a Bitrix24 outage must not keep the bot from starting; the cache keeps retrying), the
speech model loaded by `Runtime.create`. Shutdown on SIGINT/SIGTERM: stop taking updates, let
the ones in flight finish (bounded), stop the API server, close the Telegram session and the
runtime (Bitrix24 client, cache loop, speech threads, embedded portal).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.brain import Reply
from bot.config import Settings
from bot.digest import DigestScheduler, Sleep
from bot.identity import Identities
from bot.runtime import Runtime
from bot.safe_text import printable
from bot.state import sqlite_path
from handlers import callbacks, commands, errors, signin, text, texts, voice, writes
from handlers.commands import set_menu
from handlers.http_api import ApiServer, serve_api
from handlers.inbox import InboxDispatcher
from handlers.keyboards import KeyboardStore, asks_the_brain
from handlers.middlewares import (
    AccessMiddleware,
    ChatSequencer,
    FloodMiddleware,
    RetryAfterMiddleware,
)
from handlers.replies import Responder
from handlers.serving import (
    BODY_TIMEOUT_S,
    GuardedSite,
    harden,
    json_error,
    rate_limit_noisy_logs,
    runner_options,
)
from handlers.voice import VoicePipeline

log = logging.getLogger(__name__)

MISSING_TOKEN = (
    "audiobot run: TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather, put its token "
    "in .env (TELEGRAM_BOT_TOKEN=123456:ABC...) and start again; see docs/telegram-setup.md."
)
BAD_TOKEN = (
    "audiobot run: TELEGRAM_BOT_TOKEN does not look like a bot token (<digits>:<secret>); "
    "copy it again from @BotFather."
)


def cache_dir_problem(path: Path) -> str | None:
    """Why the snapshot directory `CACHE_DIR` cannot be written, or None when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None


EMBEDDED_WARNING = (
    "BITRIX_WEBHOOK_URL is not set: the bot answers from the embedded DEMO company, not from "
    "your Bitrix24. Set BITRIX_WEBHOOK_URL for real data (docs/bitrix24-setup.md)."
)
WARM_UP_TIMEOUT_S = 30.0
"""Longest startup wait for the first company snapshot; after it the bot starts anyway."""
DRAIN_TIMEOUT_S = 30.0
"""Longest shutdown wait for updates in flight (a voice note being recognised)."""
POLLING_CONCURRENCY = 64
"""Updates handled at once in polling mode (bounds memory when a backlog arrives after a
downtime; Vosk has its own, smaller worker pool)."""
ACCESS_CHECK_S = 5.0
"""How often the access watcher looks for a refreshed company snapshot (a cheap check)."""
WEBHOOK_PATH = "/telegram/webhook"
"""Used when ``TELEGRAM_WEBHOOK_URL`` has no path of its own."""
WEBHOOK_MAX_BODY = 1024 * 1024
"""Largest webhook body accepted (Telegram's updates are a few kilobytes)."""


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The webhook listener's router errors (404, 405, 413) as JSON, never HTML or text."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return json_error(exc.status, code, exc.reason)


def create_bot(settings: Settings) -> Bot:
    """A Bot for the configured token and Bot API server, with 429 retries and plain text.

    Raises ``ValueError`` without a token and aiogram's ``TokenValidationError`` for a malformed
    one.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    api = (
        TelegramAPIServer.from_base(
            settings.telegram_api_server.rstrip("/"), is_local=settings.telegram_api_local
        )
        if settings.telegram_api_server
        else PRODUCTION
    )
    session = AiohttpSession(api=api)
    session.middleware(RetryAfterMiddleware())
    # No default parse mode: answers are plain text, so CRM data can never break the markup.
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(link_preview_is_disabled=True),
    )


async def on_startup(bot: Bot, runtime: Runtime) -> None:
    """Menu, background refresh, a warm language engine (bounded), speech status in the log."""
    await set_menu(bot)
    await runtime.cache.start()
    try:
        async with asyncio.timeout(WARM_UP_TIMEOUT_S):
            await runtime.assistant.warm_up()
    except TimeoutError:
        log.warning("company data not loaded after %.0f s; starting anyway", WARM_UP_TIMEOUT_S)
    except Exception as error:  # any failure here must not stop the bot
        log.warning("company data not loaded at startup (%s); the cache keeps trying", error)
    speech = runtime.speech
    if speech is None:
        log.warning("speech recognition is off: voice notes will be declined")
    elif not speech.available:
        log.warning("speech recognition unavailable: %s", speech.status().reason)
    else:
        status = speech.status()
        log.info("speech model %s loaded in %.1f s", status.model_name, status.load_seconds or 0)


def create_dispatcher(
    runtime: Runtime,
    settings: Settings,
    *,
    keyboards: KeyboardStore | None = None,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
    digest_sleep: Sleep = asyncio.sleep,
    access_check_s: float = ACCESS_CHECK_S,
) -> Dispatcher:
    """The dispatcher with every router, middleware and dependency wired (no globals).

    ``digest_sleep`` is how the digest scheduler waits (tests pass one they control);
    ``access_check_s`` how often the access watcher looks for a refreshed snapshot.
    """
    keyboards = keyboards or KeyboardStore()
    sequencer = ChatSequencer(keeps_message_order=asks_the_brain)
    identities = Identities(runtime.state, runtime.cache)
    responder = Responder(keyboards)
    dispatcher = InboxDispatcher(
        inbox=runtime.state,
        name="audiobot",
        runtime=runtime,
        settings=settings,
        keyboards=keyboards,
        responder=responder,
        voice=VoicePipeline(runtime, settings),
        identities=identities,
    )
    dispatcher.update.outer_middleware(AccessMiddleware(settings, identities=identities))
    dispatcher.update.outer_middleware(FloodMiddleware(settings.flood_rate, settings.flood_burst))
    dispatcher.update.outer_middleware(sequencer)
    dispatcher.include_routers(
        errors.create_router(),
        commands.create_router(),
        signin.create_router(),
        writes.create_router(),
        callbacks.create_router(),
        voice.create_router(),
        text.create_router(),
    )

    background: set[asyncio.Task[None]] = set()

    async def start_digest(bot: Bot) -> None:
        # Links in memory before the first update: the access check must not wait on disk.
        await identities.load()

        async def send(chat_id: int, reply: Reply) -> None:
            await responder.send(bot, chat_id, reply)

        scheduler = DigestScheduler(
            state=runtime.state,
            cache=runtime.cache,
            assistant=runtime.assistant,
            clock=runtime.clock,
            at=settings.digest_time,
            days=settings.digest_days,
            send=send,
            # The digest: data older than the refresh interval is said to be old (one minute's
            # grace for the refresh itself).
            stale_after_s=settings.bitrix_cache_ttl + 60.0,
            sleep=digest_sleep,
        )
        dispatcher["digest"] = scheduler
        background.add(asyncio.create_task(scheduler.run_forever(), name="digest"))
        background.add(asyncio.create_task(watch_access(bot), name="access"))

    async def watch_access(bot: Bot) -> None:
        """After each snapshot refresh: tell whoever Bitrix24 no longer lists as active."""
        seen = None
        while True:
            view = runtime.cache.view()
            if view is not None and view.snapshot is not seen:
                seen = view.snapshot
                try:
                    for telegram_id, employee in await identities.sweep(view.snapshot):
                        name = employee.full_name if employee else "сотрудника"
                        text = printable(texts.REVOKED.format(name=name, user_id=telegram_id))
                        try:
                            await bot.send_message(telegram_id, text)
                        except TelegramAPIError as error:
                            log.info("could not tell user %s: %s", telegram_id, error.message)
                except Exception:  # the watcher must outlive any one failure
                    log.exception("checking access after a refresh failed")
            await asyncio.sleep(access_check_s)

    async def on_shutdown() -> None:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        background.clear()
        await sequencer.drain(drain_timeout_s)
        await runtime.cache.stop()

    dispatcher.startup.register(on_startup)
    dispatcher.startup.register(start_digest)
    dispatcher.shutdown.register(on_shutdown)
    return dispatcher


async def _run_polling(dispatcher: Dispatcher, bot: Bot, stop: asyncio.Event) -> None:
    # getUpdates fails while a webhook is set; keep pending updates (answered late, not lost).
    await bot.delete_webhook(drop_pending_updates=False)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, tasks_concurrency_limit=POLLING_CONCURRENCY
        )
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not polling.done():
            log.info("stopping: no new updates; finishing the ones in flight")
            await dispatcher.stop_polling()
        await polling
    finally:
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram must send with every webhook call: the configured one, or random.

    A blank secret must never reach `SimpleRequestHandler`: its ``verify_secret`` accepts every
    request when the secret is empty, so anyone who finds the URL could post fake updates as
    any allowed user. `Settings` already reads an empty ``TELEGRAM_WEBHOOK_SECRET=`` as unset;
    this also covers ``""`` or whitespace passed in directly.
    """
    configured = settings.telegram_webhook_secret
    value = configured.get_secret_value() if configured is not None else ""
    if value.strip():
        return value
    if configured is not None:
        log.warning("TELEGRAM_WEBHOOK_SECRET is blank; using a random secret for this run")
    # Telegram echoes it in X-Telegram-Bot-Api-Secret-Token; a fresh one per start is enough,
    # since setWebhook registers it. token_urlsafe uses only the characters Telegram allows.
    return secrets.token_urlsafe(32)


class WebhookHandler(SimpleRequestHandler):
    """aiogram's webhook handler, hardened for a port the whole internet can reach.

    - the secret is compared as bytes in constant time: aiogram compares `str`s with
      `secrets.compare_digest`, which raises (a 500) on a header with non-ASCII characters;
      here any wrong header is a 401, and an empty configured secret accepts nothing;
    - the body is read within `BODY_TIMEOUT_S` and must be a JSON object with an
      ``update_id``: malformed JSON is a 400, not a 500 with a traceback;
    - every refusal is JSON ``{"error", "message"}`` like the HTTP API's.
    """

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """Whether the header carries our secret (bytes, constant time)."""
        expected = (self.secret_token or "").encode()
        # aiohttp decodes header bytes that are not UTF-8 as surrogates; surrogateescape gives
        # the original bytes back instead of an encoding error.
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        return bool(expected) and hmac.compare_digest(given, expected)

    async def handle(self, request: web.Request) -> web.Response:
        """Check the secret, parse the update, hand it to the dispatcher in the background."""
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), bot):
            return json_error(401, "unauthorized", "wrong or missing secret token")
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                body = await request.read()
            update = json.loads(body)
        except TimeoutError:
            return json_error(408, "request_timeout", "the body did not arrive in time")
        except (ValueError, UnicodeDecodeError):
            return json_error(400, "bad_request", "the body is not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return json_error(400, "bad_request", "the body is not a Telegram update")
        if isinstance(self.dispatcher, InboxDispatcher):
            # Recorded before the 200 that tells Telegram to forget it (handlers.inbox); a
            # failed record is a 500, and Telegram delivers the update again later.
            try:
                new = await self.dispatcher.record([update])
            except Exception:
                log.exception("could not record webhook update %s", update["update_id"])
                return json_error(500, "internal_error", "the update could not be recorded")
            if not new:
                return web.json_response({})  # a duplicate: handled or being handled
        self.feed_in_background(bot, update)
        return web.json_response({})

    def feed_in_background(self, bot: Bot, update: dict[str, Any]) -> None:
        """Handle ``update`` in a task that shutdown waits for."""
        task = asyncio.create_task(self._background_feed_update(bot=bot, update=update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)


async def _run_webhook(
    dispatcher: Dispatcher, bot: Bot, settings: Settings, stop: asyncio.Event
) -> None:
    url = settings.telegram_webhook_url
    assert url is not None
    path = urlsplit(url).path or WEBHOOK_PATH
    secret = webhook_secret(settings)
    # Telegram's updates are small (a message, a button press); 1 MiB is generous.
    app = web.Application(middlewares=[_json_errors], client_max_size=WEBHOOK_MAX_BODY)
    # Startup/shutdown hooks first, so on shutdown the dispatcher drains before the handler
    # below closes the bot session.
    setup_application(app, dispatcher, bot=bot)
    handler = WebhookHandler(dispatcher, bot, handle_in_background=True, secret_token=secret)
    handler.register(app, path=path)
    harden(app)
    rate_limit_noisy_logs()
    runner = web.AppRunner(app, access_log=None, **runner_options())
    await runner.setup()  # runs the dispatcher's startup hooks
    try:
        if isinstance(dispatcher, InboxDispatcher):
            # What the last run recorded but did not answer goes first: its tasks queue up in
            # each chat before any update that arrives once the site listens.
            for update in await dispatcher.resume(bot):
                handler.feed_in_background(bot, update)
        site = GuardedSite(
            runner, settings.telegram_webhook_listen_host, settings.telegram_webhook_listen_port
        )
        await site.start()
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        )
        # Not the path: it is often the secret that keeps strangers from posting updates.
        log.info(
            "webhook mode: listening on %s:%d",
            settings.telegram_webhook_listen_host,
            settings.telegram_webhook_listen_port,
        )
        await stop.wait()
        log.info("stopping the webhook server")
    finally:
        await runner.cleanup()


def _ignore_hangup() -> None:
    log.warning(
        "SIGHUP ignored: configuration is read at start; restart the service to apply changes"
    )


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    runtime: Runtime | None = None,
    handle_signals: bool = True,
) -> int:
    """Run the bot until ``stop`` is set (or SIGINT/SIGTERM); returns the exit code.

    ``runtime`` defaults to ``Runtime.create(settings, speech=True)`` and is closed on exit
    either way.
    """
    stop = stop or asyncio.Event()
    try:
        bot = create_bot(settings)
    except (ValueError, TokenValidationError):
        if runtime is not None:
            await runtime.aclose()
        sys.stderr.write((BAD_TOKEN if settings.telegram_bot_token else MISSING_TOKEN) + "\n")
        return 2
    if runtime is None:
        runtime = await Runtime.create(settings, speech=True)
    if runtime.embedded:
        log.warning(EMBEDDED_WARNING)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    hangup = getattr(signal, "SIGHUP", None) if handle_signals else None
    if hangup is not None:
        # SIGHUP's default action kills the process: an operator's `kill -HUP` (or a closed
        # terminal) would silently stop the bot. Nothing can be reloaded in place (settings are
        # read once), so it is logged and ignored; docs/deploy.md says to restart instead.
        loop.add_signal_handler(hangup, _ignore_hangup)
    api: ApiServer | None = None
    try:
        dispatcher = create_dispatcher(runtime, settings)
        try:
            api = await serve_api(runtime, settings)
        except OSError as error:
            # Fail fast: monitoring (and the Docker HEALTHCHECK) depend on this port.
            log.error(
                "the HTTP API cannot listen on %s:%d (%s); set API_PORT to a free port or 0",
                settings.api_host,
                settings.api_port,
                error.strerror or error,
            )
            return 1
        if settings.telegram_webhook_url:
            await _run_webhook(dispatcher, bot, settings, stop)
        else:
            await _run_polling(dispatcher, bot, stop)
    except TelegramUnauthorizedError:
        log.error("Telegram rejected the bot token (401 Unauthorized); check TELEGRAM_BOT_TOKEN")
        return 2
    except TelegramAPIError as error:
        log.error("Telegram refused to start the bot: %s", error.message)
        return 1
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        if hangup is not None:
            loop.remove_signal_handler(hangup)
        if api is not None:
            await api.stop()
        await bot.session.close()
        await runtime.aclose()
        log.info("stopped")
    return 0


def run_bot(settings: Settings) -> int:
    """Run the bot (``audiobot run``); returns the process exit code.

    2 for a missing or rejected token, an unwritable `CACHE_DIR` or state store directory
    (with a clear message), 1 if Telegram refuses to start the bot otherwise, 0 after a clean
    shutdown.
    """
    token = settings.telegram_bot_token
    if token is None or not token.get_secret_value().strip():
        sys.stderr.write(MISSING_TOKEN + "\n")
        return 2
    problem = cache_dir_problem(settings.cache_dir)
    if problem is not None:
        # Fatal rather than a warning: without it a restart while Bitrix24 is down has no data.
        # The usual cause is a host directory bind-mounted on /app/var that uid 10001 cannot write.
        sys.stderr.write(
            f"audiobot run: CACHE_DIR {settings.cache_dir} is not writable by uid {os.getuid()} "
            f"({problem}); make it writable (in a container: a named volume on /app/var, or "
            "`chown 10001:10001` the host directory; see docs/deploy.md) and start again.\n"
        )
        return 2
    state_file = sqlite_path(settings.state_url)
    problem = cache_dir_problem(state_file.parent) if state_file is not None else None
    if problem is not None:
        # Fatal too: without the store nobody can sign in, and the digest could repeat.
        sys.stderr.write(
            f"audiobot run: the directory of STATE_URL ({state_file}) is not writable by uid "
            f"{os.getuid()} ({problem}); make it writable (see docs/deploy.md) and start again.\n"
        )
        return 2
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:  # a second Ctrl+C while shutting down
        return 130
