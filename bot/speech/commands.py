"""CLI commands for speech: `transcribe FILE... [--json]` and `model download [NAME] [--dir DIR]`.

`add_commands(subparsers)` registers both on the `audiobot` parser; each sets `handler` (a
`Callable[[argparse.Namespace], int]` returning the exit code) with `set_defaults`, so the main
CLI runs `args.handler(args)`. Settings are read from the environment in the handler.

Try it before it is wired in: `python -m bot.speech.commands transcribe note.ogg --json`.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.speech.audio import SpeechError
from bot.speech.models import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL_NAME,
    ModelDownloadError,
    download_model,
)
from bot.speech.recognizer import Recognizer, SecondPass
from bot.speech.service import SpeechService

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["SecondPassFactory", "add_commands", "main"]

log = logging.getLogger(__name__)

#: Builds the grammar second pass for a recognizer; may be async (the language engine needs the
#: CRM snapshot, which is loaded over the network).
SecondPassFactory = Callable[[Recognizer], SecondPass | Awaitable[SecondPass | None] | None]
"""Builds the domain second pass (grammar + `accept`) once the model is loaded: `bot.cli`
passes one built from the language engine (`bot.voice`). `--vocab FILE` overrides it."""


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    second_pass: SecondPassFactory | None = None,
) -> None:
    """Register `transcribe` and `model download` on the `audiobot` subparsers."""
    transcribe = subparsers.add_parser(
        "transcribe",
        help="transcribe audio files offline with Vosk",
        description=(
            "Transcribe audio files (ogg/opus, mp3, m4a, wav, mp4, ...) with the Vosk model from "
            "VOSK_MODEL_PATH (or models/vosk-model-small-ru-0.22). '-' reads stdin."
        ),
    )
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio file, or - for stdin")
    transcribe.add_argument(
        "--json", action="store_true", help="one JSON object per file per line"
    )
    transcribe.add_argument(
        "--vocab",
        type=Path,
        metavar="FILE",
        help=(
            "domain phrases, one per line: enables the grammar second pass; a transcript is "
            "accepted when it contains one of these words"
        ),
    )
    transcribe.set_defaults(handler=lambda args: _run_transcribe(args, second_pass))

    model = subparsers.add_parser("model", help="manage Vosk models")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    download = model_sub.add_parser(
        "download",
        help="download and unpack a Vosk model",
        description="Download a Vosk model zip, verify it and unpack it (resumes partial files).",
    )
    download.add_argument(
        "name", nargs="?", default=DEFAULT_MODEL_NAME, help=f"default {DEFAULT_MODEL_NAME}"
    )
    download.add_argument(
        "--dir", type=Path, default=None, help="target directory (default VOSK_MODELS_DIR)"
    )
    download.add_argument("--base-url", default=DEFAULT_BASE_URL, help=argparse.SUPPRESS)
    download.add_argument("--force", action="store_true", help="download even if installed")
    download.set_defaults(handler=_run_download)


def _settings() -> Settings:
    from bot.config import load_settings  # noqa: PLC0415 - keeps `--help` free of settings parsing
    from bot.logs import configure_logging  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    return settings


def _vocab_second_pass(recognizer: Recognizer, vocab: Path) -> SecondPass:
    phrases = [line.strip() for line in vocab.read_text(encoding="utf-8").splitlines()]
    grammar = recognizer.build_grammar(p for p in phrases if p and not p.startswith("#"))
    known = grammar.words

    def accept(text: str) -> bool:
        return any(word in known for word in text.split())

    return SecondPass(grammar=grammar, accept=accept)


def _run_transcribe(args: argparse.Namespace, factory: SecondPassFactory | None) -> int:
    return asyncio.run(_transcribe(_settings(), args.files, args.json, args.vocab, factory))


async def _transcribe(
    settings: Settings,
    files: Sequence[str],
    as_json: bool,
    vocab: Path | None,
    factory: SecondPassFactory | None,
) -> int:
    service = await asyncio.to_thread(SpeechService.from_settings, settings)
    try:
        status = service.status()
        recognizer = service.recognizer
        if not status.available or recognizer is None:
            _err(f"speech is unavailable: {status.reason}")
            return 2
        extra: SecondPass | None = None
        if vocab is not None:
            extra = _vocab_second_pass(recognizer, vocab)
        elif factory is not None:
            built = factory(recognizer)
            extra = await built if inspect.isawaitable(built) else built
        failures = 0
        for name in files:
            source: bytes | Path = sys.stdin.buffer.read() if name == "-" else Path(name)
            try:
                result = await service.transcribe(source, second_pass=extra)
            except SpeechError as exc:
                failures += 1
                if as_json:
                    _emit({"file": name, "error": type(exc).__name__, "message": str(exc)})
                else:
                    _err(f"{name}: {exc}")
                continue
            if as_json:
                _emit({"file": name, **result.to_dict()})
            elif len(files) > 1:
                _out(f"{name}\t{result.text}")
            else:
                _out(result.text)
        return 1 if failures else 0
    finally:
        service.close()


def _out(line: str) -> None:
    # The house lint bans print() outside bot/cli.py; a CLI command still writes to stdout.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _emit(obj: dict[str, Any]) -> None:
    _out(json.dumps(obj, ensure_ascii=False))


def _run_download(args: argparse.Namespace) -> int:
    target = args.dir if args.dir is not None else _settings().vosk_models_dir
    try:
        path = asyncio.run(
            download_model(args.name, target, args.base_url, progress=True, force=args.force)
        )
    except ModelDownloadError as exc:
        _err(f"model download failed: {exc}")
        return 1
    _out(str(path))
    if args.name != DEFAULT_MODEL_NAME or args.dir is not None:
        _err(f"use it with: VOSK_MODEL_PATH={path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the speech commands on their own (until the lead wires them into `bot.cli`)."""
    parser = argparse.ArgumentParser(prog="python -m bot.speech.commands")
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
