"""The `audiobot` command line (README: Commands).

Every command builds its dependencies from one `Settings` (environment or `.env`) through
`bot.runtime.Runtime`; without `BITRIX_WEBHOOK_URL` they run on the embedded demo portal.
Output meant for people is what the bot would say (Russian); logs and help are English.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitrix.errors import BitrixConfigError
from bot.config import Settings, load_settings
from bot.logs import configure_logging
from bot.safe_text import printable

if TYPE_CHECKING:
    from bot.actions import Actor
    from bot.brain import Reply
    from bot.runtime import Runtime

Handler = Callable[[argparse.Namespace], int]


def _setup(args: argparse.Namespace, *, quiet_default: bool) -> Settings:
    settings = load_settings()
    level = settings.log_level
    if quiet_default and not getattr(args, "verbose", False) and level == "INFO":
        # Interactive commands keep the terminal for the conversation: warnings only.
        level = "WARNING"
    configure_logging(level, settings.secrets())
    return settings


# ---------------------------------------------------------------------- ask
def _cmd_ask(args: argparse.Namespace) -> int:
    settings = _setup(args, quiet_default=True)
    texts: list[str] = []
    for text in args.texts:
        if text == "-":
            texts.extend(line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            texts.append(text)
    return asyncio.run(
        _ask(settings, texts, as_json=args.json, keep_context=args.conversation, who=args.as_who)
    )


async def resolve_asker(runtime: Any, who: str) -> tuple[Any, str]:
    """The active employee ``who`` names (an id or a surname), or None and why not."""
    from bitrix.cache import SnapshotUnavailable
    from bot.identity import find_employee

    try:
        view = await runtime.cache.get()
    except SnapshotUnavailable as exc:
        return None, f"Нет данных Bitrix24: {exc.cause.user_message}"
    found = find_employee(view.snapshot, who)
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"Сотрудника «{who}» нет среди активных в Bitrix24 (укажите ID или фамилию)."
    names = "; ".join(f"{e.id} — {e.full_name}" for e in found[:10])
    return None, f"«{who}» — несколько сотрудников: {names}. Укажите ID."


async def _ask(
    settings: Settings,
    texts: list[str],
    *,
    as_json: bool,
    keep_context: bool,
    who: str | None = None,
) -> int:
    from bot.runtime import Runtime

    runtime = await Runtime.create(settings)
    failed = False
    try:
        asker = None
        if who:
            asker, problem = await resolve_asker(runtime, who)
            if asker is None:
                sys.stderr.write(f"audiobot ask --as: {printable(problem)}\n")
                return 2
        for index, text in enumerate(texts):
            conversation = "cli" if keep_context else f"cli-{index}"
            reply = await runtime.assistant.ask(text, conversation=conversation, asker=asker)
            failed = failed or bool(reply.error)
            if as_json:
                print(json.dumps(reply.to_json(), ensure_ascii=False), flush=True)
            else:
                if index:
                    print()
                print(printable(reply.text), flush=True)
    finally:
        await runtime.aclose()
    return 1 if failed else 0


# ---------------------------------------------------------------------- chat
CHAT_HELP = """Команды чата:
  /help          эта справка и примеры запросов
  /health        состояние: Bitrix24, данные, распознавание речи
  /voice ФАЙЛ    распознать аудиофайл и ответить на него
  /as КТО        спрашивать от имени сотрудника (ID Bitrix24 или фамилия); /as — снова никто
  /quit          выход (или Ctrl-D)
Выбор варианта в уточняющем вопросе — его номер.
Запись в Bitrix24 («поставь задачу …», «на Майской 8 сломан домофон») — сначала показываю,
что запишу; ответьте «да» или «нет»."""
#: When the chat loads the speech model (said by `/health` before that).
VOICE_LOAD_HINT = "загрузится при первом /voice"


def _cmd_chat(args: argparse.Namespace) -> int:
    settings = _setup(args, quiet_default=True)
    return asyncio.run(_chat(settings))


def _history() -> Callable[[], None]:
    """Enable readline editing and history (~/.audiobot_history); returns a saver."""
    try:
        import readline  # optional: absent on some platforms
    except ImportError:
        return lambda: None
    path = Path.home() / ".audiobot_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)

    return save


async def _chat(settings: Settings) -> int:
    from bot.actions import confirmation
    from bot.health import render_health
    from bot.runtime import Runtime

    runtime = await Runtime.create(settings)
    save_history = _history()
    choices: list[Any] = []
    asker: Any = None
    pending = ""  # the key of the write preview waiting for «да»/«нет»
    try:
        source = "демо-компания (встроенный портал)" if runtime.embedded else "Bitrix24"
        print(f"AudioBot — чат с ассистентом. Данные: {source}. /help — справка, /quit — выход.")
        await runtime.cache.start()
        while True:
            try:
                line = await asyncio.to_thread(input, "› ")
            except EOFError:
                print()
                break
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit", "/q"):
                break
            if text in ("/help", "help"):
                print(CHAT_HELP)
                reply = await runtime.assistant.ask("/help", conversation="chat")
                print(printable(reply.text))
                continue
            if text == "/health":
                print(render_health(await runtime.health(), load_hint=VOICE_LOAD_HINT))
                continue
            if text.startswith("/voice"):
                heard = await _chat_voice(runtime, text[len("/voice") :].strip(), asker)
                if heard is not None:
                    choices = list(heard.frame.choices)
                    pending = heard.confirm_key or pending
                continue
            if text == "/as" or text.startswith("/as "):
                who = text[len("/as") :].strip()
                if not who:
                    asker = None
                    print("Теперь спрашиваю ни от чьего имени.")
                    continue
                found, problem = await resolve_asker(runtime, who)
                if found is None:
                    print(printable(problem))
                else:
                    asker = found
                    brigade = f", бригада {found.brigade}" if found.brigade else ""
                    print(printable(f"Спрашиваю как {found.full_name} (ID {found.id}{brigade})."))
                continue
            answer = confirmation(text) if pending else None
            if answer is not None:
                actor = chat_actor(asker)
                actions = runtime.assistant.actions
                assert actions is not None
                if answer:
                    print("Записываю…")
                    outcome = await actions.confirm(pending, actor)
                else:
                    outcome = await actions.cancel(pending, actor)
                print(printable(outcome.text))
                if outcome.final:
                    pending = ""
                else:
                    print("Ответьте «да», чтобы повторить, или «нет», чтобы отменить.")
                continue
            if text.isdigit() and choices and 1 <= int(text) <= len(choices):
                reply = await runtime.assistant.choose(
                    choices[int(text) - 1].frame, conversation="chat"
                )
            else:
                reply = await runtime.assistant.ask(
                    text, conversation="chat", asker=asker, actor=chat_actor(asker)
                )
            choices = list(reply.frame.choices)
            print(printable(reply.typed_text))
            if reply.write is not None:
                pending = reply.confirm_key
                if pending:
                    print("Записать? Ответьте «да» или «нет».")
    except KeyboardInterrupt:
        print()
    finally:
        save_history()
        await runtime.aclose()
    return 0


def chat_actor(asker: Any) -> Actor:
    """Who writes from the terminal chat: its operator, an admin (or the `/as` employee)."""
    from bot.actions import Actor

    if asker is not None:
        return Actor("chat", f"{asker.full_name} (через терминальный чат)", asker)
    return Actor("chat", "администратор (терминальный чат)")


async def _chat_voice(runtime: Runtime, argument: str, asker: Any = None) -> Reply | None:
    """Transcribe a file and answer it, as a voice note in Telegram; the reply, if any."""
    from bot.speech.audio import SpeechError

    path = Path(argument).expanduser()
    if not argument or not path.is_file():
        print("Укажите аудиофайл: /voice путь/к/файлу.ogg")
        return None
    if runtime.speech is None:
        print("Загружаю модель распознавания речи…")
    speech = await runtime.load_speech()
    try:
        result = await speech.transcribe(path)
    except SpeechError as exc:
        print(exc.user_message)
        return None
    if not result.text:
        print("Не расслышал, повторите.")
        return None
    # A terminal obeys control sequences: nothing from a transcript or the CRM reaches it raw.
    print(f"🎙 Распознал: «{printable(result.text)}»")
    reply = await runtime.assistant.ask(
        result.text, conversation="chat", asker=asker, actor=chat_actor(asker)
    )
    print(printable(reply.typed_text))
    if reply.confirm_key:
        print("Записать? Ответьте «да» или «нет».")
    return reply


# ---------------------------------------------------------------------- journal
def _cmd_journal(args: argparse.Namespace) -> int:
    settings = _setup(args, quiet_default=True)
    return asyncio.run(_journal(settings, args.limit, as_json=args.json))


async def _journal(settings: Settings, limit: int, *, as_json: bool) -> int:
    """Print the newest write-journal entries (who, what, when, the Bitrix24 id)."""
    from datetime import datetime

    from bot.state import open_state

    state = open_state(settings.state_url)
    try:
        entries = await state.journal_entries(limit)
    finally:
        await state.close()
    if not entries:
        print("The journal is empty: nothing was previewed or written yet.")
        return 0
    for entry in reversed(entries):
        if as_json:
            row = {"id": entry.id, "at": entry.at, "actor": entry.actor, "kind": entry.kind}
            print(json.dumps(row | entry.payload, ensure_ascii=False))
            continue
        when = datetime.fromtimestamp(entry.at, settings.tz).strftime("%Y-%m-%d %H:%M:%S")
        details = " ".join(
            f"{name}={value}" for name, value in entry.payload.items() if value not in ("", None)
        )
        print(printable(f"#{entry.id} {when} {entry.actor} {entry.kind} {details}"))
    return 0


# ---------------------------------------------------------------------- demo portal
def _cmd_demo_portal(args: argparse.Namespace) -> int:
    settings = _setup(args, quiet_default=False)
    return asyncio.run(_demo_portal(settings, args.host, args.port))


async def _demo_portal(settings: Settings, host: str, port: int) -> int:
    from bitrix.demo import build_demo_store
    from bitrix.portal import EmulatedPortal, PortalOptions

    store = build_demo_store(settings.clock().today(), timezone=settings.timezone)
    portal = EmulatedPortal(store, PortalOptions())

    def ready(url: str) -> None:
        print(f"Emulated Bitrix24 portal with the demo company: {url}", flush=True)
        print(f"Try: curl '{url}crm.deal.list.json'", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    # SIGTERM as well as Ctrl-C: as a container's PID 1 the process has no default SIGTERM
    # action, so without a handler `docker stop` would wait for its timeout and kill it.
    serving = asyncio.create_task(portal.serve_forever(host, port, ready=ready))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, serving.cancel)
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        await serving
    return 0


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="audiobot",
        description=(
            "Offline Russian voice assistant for field operations on Bitrix24. Configuration "
            "comes from the environment or .env (see .env.example); without BITRIX_WEBHOOK_URL "
            "every command uses the embedded demo portal."
        ),
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the Telegram bot (and the HTTP API)")
    run.set_defaults(handler=_cmd_run)

    chat = sub.add_parser("chat", help="talk to the assistant in the terminal")
    chat.set_defaults(handler=_cmd_chat)

    ask = sub.add_parser("ask", help="understand and answer requests (one-shot)")
    ask.add_argument("texts", nargs="+", metavar="TEXT", help="a request; '-' reads stdin lines")
    ask.add_argument("--json", action="store_true", help="one JSON object per request per line")
    ask.add_argument(
        "--as",
        dest="as_who",
        metavar="WHO",
        help="ask as this employee (Bitrix24 user id or surname), so «мои задачи» works",
    )
    ask.add_argument(
        "--conversation",
        action="store_true",
        help="treat the requests as one conversation (follow-ups like «а у пятой?»)",
    )
    ask.set_defaults(handler=_cmd_ask)

    journal = sub.add_parser(
        "journal", help="print the newest entries of the write journal (who, what, when, id)"
    )
    journal.add_argument("-n", "--limit", type=int, default=20, help="how many (default 20)")
    journal.add_argument("--json", action="store_true", help="one JSON object per entry")
    journal.set_defaults(handler=_cmd_journal)

    portal = sub.add_parser("demo-portal", help="serve the emulated Bitrix24 demo portal")
    portal.add_argument("--host", default="127.0.0.1", help="address to listen on")
    portal.add_argument("--port", type=int, default=8024, help="port (default 8024)")
    portal.set_defaults(handler=_cmd_demo_portal)

    snapshot = sub.add_parser("snapshot", help="manage the saved company snapshot")
    snapshot_sub = snapshot.add_subparsers(dest="snapshot_command", metavar="ACTION")
    accept = snapshot_sub.add_parser(
        "accept",
        help=(
            "accept the next refresh from Bitrix24 even if it shrinks the company implausibly "
            "(the running bot takes it at its next refresh, within a minute)"
        ),
    )
    accept.set_defaults(handler=_cmd_snapshot_accept)

    from bot.checks import add_commands as add_check_commands
    from bot.speech.commands import add_commands as add_speech_commands

    add_check_commands(sub)
    add_speech_commands(sub, second_pass=_second_pass_factory)
    return parser


async def _second_pass_factory(recognizer: Any) -> Any:
    """The grammar second pass for `transcribe`, built from the language engine's vocabulary."""

    from bot.runtime import Runtime
    from bot.voice import make_second_pass

    settings = load_settings()
    runtime = await Runtime.create(settings)
    try:
        view = await runtime.cache.get()
        engine, _ = await runtime.assistant.engine(view.snapshot)
    except Exception as exc:  # no CRM data: transcribe without the domain pass
        print(f"audiobot: no domain grammar (company data unavailable: {exc})", file=sys.stderr)
        return None
    finally:
        await runtime.aclose()
    return make_second_pass(recognizer, engine, runtime.clock.today)


def _cmd_snapshot_accept(args: argparse.Namespace) -> int:
    """``audiobot snapshot accept``: leave the marker the running bot's cache looks for."""
    settings = load_settings()
    from bitrix.cache import request_accept

    try:
        marker = request_accept(settings.cache_dir)
    except OSError as exc:
        print(f"audiobot: cannot write to CACHE_DIR {settings.cache_dir}: {exc}", file=sys.stderr)
        return 1
    print(
        f"The next company refresh will be accepted whatever its size ({marker}); "
        "the bot applies it within a minute, or at the next start."
    )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _setup(args, quiet_default=False)
    from handlers.app import run_bot

    return run_bot(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BitrixConfigError as exc:
        # A malformed BITRIX_WEBHOOK_URL: one clear line, never a traceback (nor the URL).
        print(f"audiobot: BITRIX_WEBHOOK_URL is not a Bitrix24 webhook URL ({exc.description})",
              file=sys.stderr)  # fmt: skip
        return 2
