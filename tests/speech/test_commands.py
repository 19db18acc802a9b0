"""The speech CLI commands through argparse, with VOSK_MODEL_PATH at the Korean model."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.speech.commands import add_commands, main
from tests.speech.conftest import AudioSample


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ko_model_dir: Path) -> Path:
    # Run where no `.env` can leak in, with the packaged Korean model.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOSK_MODEL_PATH", str(ko_model_dir))
    monkeypatch.setenv("SPEECH_WORKERS", "1")
    return tmp_path


def test_add_commands_registers_transcribe_and_model_download() -> None:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["transcribe", "a.ogg", "b.mp3", "--json"])
    assert args.files == ["a.ogg", "b.mp3"]
    assert args.json is True
    assert callable(args.handler)
    args = parser.parse_args(["model", "download"])
    assert args.name == "vosk-model-small-ru-0.22"
    assert args.dir is None
    args = parser.parse_args(["model", "download", "vosk-model-small-en-us-0.15", "--dir", "m"])
    assert (args.name, args.dir) == ("vosk-model-small-en-us-0.15", Path("m"))


@pytest.fixture
def det_env(env: Path, monkeypatch: pytest.MonkeyPatch, det_model_dir: Path) -> Path:
    # The dither-free copy of the Korean model, so the passes taken are reproducible.
    monkeypatch.setenv("VOSK_MODEL_PATH", str(det_model_dir))
    return env


def test_transcribe_json_lines(
    det_env: Path,
    capsys: pytest.CaptureFixture[str],
    short_speech_wav: AudioSample,
    silence_ogg: AudioSample,
) -> None:
    vocab = det_env / "vocab.txt"
    vocab.write_text("# domain words\n안녕하세요\n오늘 좋습니다\nдома третьей бригады\n")
    broken = det_env / "broken.ogg"
    broken.write_bytes(b"OggS" + b"\x01" * 300)
    files = [short_speech_wav.path, silence_ogg.path, broken]
    code = main(["transcribe", *map(str, files), "--json", "--vocab", str(vocab)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1  # one file failed
    assert len(out) == 3
    speech, silence, failed = (json.loads(line) for line in out)

    assert speech["file"] == str(files[0])
    assert speech["text"]
    assert speech["duration_s"] == pytest.approx(short_speech_wav.seconds, abs=0.05)
    assert speech["seconds"] > 0
    assert speech["words"]
    assert {"word", "start", "end", "conf"} == set(speech["words"][0])
    # The open pass finds none of the vocabulary, so the grammar pass runs and is accepted.
    assert [p["kind"] for p in speech["passes"]] == ["open", "grammar"]
    open_pass, grammar_pass = speech["passes"]
    assert open_pass["accepted"] is False
    assert grammar_pass["accepted"] is True
    assert {w["word"] for w in grammar_pass["words"]} <= {"안녕하세요", "오늘", "좋습니다"}
    assert speech["chosen"] == "grammar"
    assert speech["text"] == grammar_pass["text"]

    assert silence["text"] == ""
    assert silence["words"] == []

    assert failed == {
        "file": str(broken),
        "error": "AudioDecodeError",
        "message": failed["message"],
    }


def test_transcribe_plain_text(
    env: Path, capsys: pytest.CaptureFixture[str], short_speech_wav: AudioSample
) -> None:
    assert main(["transcribe", str(short_speech_wav.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].strip()


def test_transcribe_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path / "missing"))
    assert main(["transcribe", "x.ogg"]) == 2
    err = capsys.readouterr().err
    assert "speech is unavailable" in err
    assert "does not exist" in err


@pytest.fixture
async def zip_server(tmp_path: Path) -> AsyncIterator[str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLr.fst", "graph/Gr.fst"):
            zf.writestr(f"vosk-model-tiny/{rel}", b"stand-in bytes")
    data = buf.getvalue()

    async def handle(request: web.Request) -> web.Response:
        if request.match_info["name"] == "vosk-model-tiny.zip":
            return web.Response(body=data)
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/models/{name}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/models"
    await runner.cleanup()


async def test_model_download_command(
    zip_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "models"
    argv = ["model", "download", "vosk-model-tiny", "--dir", str(target), "--base-url", zip_server]
    # The command runs its own event loop, so it goes to a thread while the server serves here.
    code = await asyncio.to_thread(main, argv)
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.strip() == str(target / "vosk-model-tiny")
    assert (target / "vosk-model-tiny" / "am" / "final.mdl").is_file()
    assert "VOSK_MODEL_PATH=" in captured.err

    missing = ["model", "download", "vosk-model-nope", "--dir", str(target)]
    code = await asyncio.to_thread(main, [*missing, "--base-url", zip_server])
    assert code == 1
    assert "no model at" in capsys.readouterr().err
